"""Live probing inside the cluster: the only code that creates anything.

A probe is either a short-lived pod in the client's namespace (so that its
NetworkPolicies and resolv.conf apply) or, with ``--from-pod``, an ephemeral
container in that pod (its own labels, policies and resolver). A probe pod is
labelled ``app.kubernetes.io/managed-by=kubectl-netdoctor``, carries a unique
run id, runs a non-root, no-capability container (Pod Security "restricted"),
ends by itself after a deadline, and is deleted on exit, on Ctrl-C and on
timeout. The API cannot delete an ephemeral container: a run reuses the one an
earlier run left running, and leaves its own for a while (:mod:`.ephemeral`: its
leases, its reuse, the cap). Commands run by exec; each batch is one shell script whose jobs run
concurrently; running independent batches at once is :mod:`kubectl_netdoctor.probes.prober`'s job.
"""

from __future__ import annotations

import getpass
import json
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.cluster import ephemeral
from kubectl_netdoctor.cluster.api_reader import LiveReader
from kubectl_netdoctor.cluster.ephemeral import DONE_FILE
from kubectl_netdoctor.errors import ClusterError, Forbidden
from kubectl_netdoctor.parsers.probe_output import LookupResult, lookup_result

MANAGED_BY = "kubectl-netdoctor"
LABELS = {"app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/name": "netdoctor-probe"}

RESTRICTED_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "seccompProfile": {"type": "RuntimeDefault"},
}


#: Waiting reasons of a container that will not start by itself.
CANNOT_START = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                "CreateContainerError")


def idle_command(lifetime_s: int) -> list[str]:
    """Stay up until the tool says it is done, or the lifetime ends (the tool may have died)."""
    return ["sh", "-c", f"i=0; while [ $i -lt {lifetime_s} ] && [ ! -e {DONE_FILE} ]; do sleep 1; i=$((i+1)); done"]


_ACTIVE: set[ProbeSession] = set()
_ACTIVE_LOCK = threading.Lock()
ENDED: list[str] = []
"""What this process's stopped probes left: "pod deleted", or a released container that exits by itself."""


def stop_all(reraise: bool = False) -> None:
    """Delete every probe object this process still has (on Ctrl-C, SIGTERM, or any exit path).

    A second Ctrl-C or SIGTERM while they are being deleted must not cut the deletion short:
    signals are held until it is done. With ``reraise``, one that came meanwhile is then
    raised as KeyboardInterrupt, so the run still ends as interrupted."""
    with signals_held() as held:
        with _ACTIVE_LOCK:
            sessions = list(_ACTIVE)
        for session in sessions:
            session.stop()
    if held and reraise:
        raise KeyboardInterrupt


@contextmanager
def signals_held() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM for the duration (main thread only: Python runs signal handlers
    there, and only there can it set them). Yields the list of signals that came meanwhile."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ProbeUnavailable(Exception):
    """The probe cannot be started; the message is the skip reason."""


class Conflict(ProbeUnavailable):
    """A conditional write found the object changed since it was read (409): read it again."""


@dataclass(frozen=True)
class ExecResult:
    rc: int | None
    stdout: str
    stderr: str
    error: str = ""
    """Set when the exec itself failed (no such binary, container gone, timeout)."""


class Executor:
    """Runs commands in existing containers by exec; one ApiClient per call, because the
    client's ``stream()`` swaps the request function of the ApiClient it is given."""

    def __init__(self, reader: LiveReader):
        self.reader = reader

    def _api(self):
        from kubernetes import client

        return client.CoreV1Api(client.ApiClient(self.reader.api.configuration))

    def exec(self, namespace: str, pod: str, command: list[str], container: str | None = None,
             timeout: float = 20.0) -> ExecResult:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import stream

        api = self._api()
        kwargs: dict[str, Any] = dict(command=command, stderr=True, stdin=False, stdout=True, tty=False,
                                      _preload_content=False, _request_timeout=self.reader.timeout)
        if container:
            kwargs["container"] = container
        try:
            ws = stream(api.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
        except ApiException as err:
            if refused(err):
                raise Forbidden("get", "pods/exec", namespace) from None
            body = (err.body or err.reason or "").strip()
            return ExecResult(None, "", "", f"exec failed: {_status_message(body)}")
        except Exception as err:  # noqa: BLE001 - websocket/transport errors: report, don't crash
            if refused(err):
                raise Forbidden("get", "pods/exec", namespace) from None
            return ExecResult(None, "", "", f"exec failed: {err}")
        try:
            ws.run_forever(timeout=timeout)
            out, err_out = ws.read_stdout() or "", ws.read_stderr() or ""
            if ws.is_open():
                return ExecResult(None, out, err_out, f"exec timed out after {timeout:g}s")
            return _exec_status(ws.read_channel(3), out, err_out)
        finally:
            ws.close()

    def read_via_ephemeral(self, namespace: str, pod: dict, image: str, command: list[str],
                           timeout: float = 60.0) -> ExecResult:
        """Run ``command`` in a new ephemeral container of ``pod`` (its network namespace) and return
        its output: the way in for distroless images, which have no ``cat`` to exec.

        The API cannot remove an ephemeral container; this one exits at once and stays listed in
        the pod's status as terminated (it counts towards the cap of :func:`add_ephemeral_container`).
        Never called under --read-only."""
        name = f"netdoctor-read-{secrets.token_hex(3)}"
        pod_name = pod["metadata"]["name"]
        container = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "command": command,
                     "securityContext": RESTRICTED_CONTAINER_SECURITY}
        try:
            add_ephemeral_container(self.reader, namespace, pod, container)
        except ProbeUnavailable as err:
            return ExecResult(None, "", "", str(err))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.reader.get("Pod", namespace, pod_name) or {}
            statuses = (now.get("status") or {}).get("ephemeralContainerStatuses") or []
            state = next((c.get("state") or {} for c in statuses if c.get("name") == name), {})
            if "terminated" in state:
                log = self.reader.request_text(
                    f"/api/v1/namespaces/{namespace}/pods/{pod_name}/log", "get", "pods/log", namespace,
                    [("container", name)])
                return ExecResult(state["terminated"].get("exitCode"), log, "")
            waiting = (state.get("waiting") or {}).get("reason", "")
            if waiting in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                return ExecResult(None, "", "", f"ephemeral container image {image}: {waiting}")
            time.sleep(0.5)
        return ExecResult(None, "", "", f"ephemeral container {name} did not finish in {timeout:g}s")

    def port_forward_socket(self, namespace: str, pod: str, port: int) -> Any:
        """A socket-like object connected to ``pod:port`` through the API server."""
        from kubernetes.stream import portforward

        try:
            pf = portforward(self._api().connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        except Exception as err:
            if refused(err):
                raise Forbidden("get", "pods/portforward", namespace) from None
            raise
        return pf, pf.socket(port)

    def dns_over_port_forward(self, coredns_pod: dict, names: list[str], timeout: float) -> dict[str, LookupResult]:
        """dnspython over TCP through a port-forward to one CoreDNS pod: rcode and latency without the
        Service path. Every name goes over one port-forward (DNS over TCP carries many queries per
        connection): one websocket for a scan's 200 names, not 200. After a timeout or a broken
        stream, the next name gets a fresh port-forward."""
        import dns.exception
        import dns.message
        import dns.query
        import dns.rdatatype

        ns, pod = coredns_pod["metadata"]["namespace"], coredns_pod["metadata"]["name"]
        out: dict[str, LookupResult] = {}
        conn: tuple[Any, Any] | None = None

        def close() -> None:
            nonlocal conn
            if conn is not None:
                pf, sock = conn
                try:
                    sock.close()
                finally:
                    pf.close()
            conn = None

        try:
            for name in names:
                for attempt in (1, 2):
                    if conn is None:
                        conn = self.port_forward_socket(ns, pod, 53)
                        conn[1].settimeout(timeout)
                    start = time.monotonic()
                    query = dns.message.make_query(name, dns.rdatatype.A)
                    try:
                        answer = dns.query.tcp(query, "127.0.0.1", timeout=timeout, sock=conn[1])
                    except dns.exception.Timeout:
                        out[name] = LookupResult(name, "timeout", (), None, pod, f"no answer in {timeout:g}s")
                        close()  # the stream may still carry the late answer: never read it as the next one's
                        break
                    except (OSError, EOFError, dns.exception.DNSException) as err:
                        close()
                        if attempt == 2:
                            out[name] = LookupResult(name, "error", (), None, pod, f"{type(err).__name__}: {err}")
                        continue
                    latency = round((time.monotonic() - start) * 1000, 1)
                    out[name] = lookup_result(name, answer, latency, pod)
                    break
        finally:
            close()
        return out


def refused(err: BaseException) -> bool:
    """An RBAC refusal of a websocket upgrade (exec, port-forward). The client reports the handshake's 403
    as ``ApiException(status=0, reason="Handshake status 403 Forbidden ...")``, not as status 403."""
    if getattr(err, "status", None) == 403 or getattr(err, "status_code", None) == 403:
        return True
    text = str(getattr(err, "reason", "") or err)
    return "status 403" in text.split("\n", 1)[0]


def _exec_status(channel: str, out: str, err_out: str) -> ExecResult:
    """The exec's exit, from its status channel: Success, an ExitCode cause, or why it never ran."""
    try:
        status = json.loads(channel) if channel.strip() else {"status": "Success"}
    except ValueError:
        return ExecResult(None, out, err_out, f"exec failed: {channel.strip()[:300]}")
    if status.get("status") == "Success":
        return ExecResult(0, out, err_out)
    causes = (status.get("details") or {}).get("causes") or []
    code = next((c.get("message") for c in causes if c.get("reason") == "ExitCode"), None)
    if code is not None and str(code).isdigit():
        return ExecResult(int(code), out, err_out)
    return ExecResult(None, out, err_out, f"exec failed: {status.get('message', channel.strip())[:300]}")


def write(reader: LiveReader, path: str, method: str, body: dict, verb: str, resource: str, namespace: str,
          content_type: str = "application/json") -> Any:
    """One write (create/patch) for a probe; refusals become ProbeUnavailable with the reason."""
    from kubernetes.client.exceptions import ApiException

    try:
        resp = reader.api.call_api(
            path, method, body=body, header_params={"Accept": "application/json", "Content-Type": content_type},
            auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
            _request_timeout=(reader.timeout, reader.timeout))
        return json.loads(resp.data)
    except ApiException as err:
        message = _status_message(err.body or err.reason or "")
        if err.status == 409:
            raise Conflict(f"cannot {verb} {resource}: {message}") from None
        if err.status == 403:
            if "violates PodSecurity" in message:
                raise ProbeUnavailable(f"the probe was refused by Pod Security admission: {message}") from None
            raise ProbeUnavailable(f"forbidden: {verb} {resource} in ns {namespace}") from None
        raise ProbeUnavailable(f"cannot {verb} {resource}: {message}") from None


def add_ephemeral_container(reader: LiveReader, namespace: str, pod: dict, container: dict,
                            current: dict | None = None) -> Any:
    """PATCH ``container`` onto ``pod``'s ephemeral containers (the API only ever adds them), within the cap of
    :mod:`.ephemeral`; with ``current`` (the pod as just read), only if it has not changed since (else Conflict)."""
    name = pod["metadata"]["name"]
    base = current or reader.get("Pod", namespace, name) or pod
    if refused := ephemeral.cap_reached(base, container.get("image", "")):
        raise ProbeUnavailable(refused)
    patch = ephemeral.adding_patch(base, container, conditional=current is not None)
    return write(reader, f"/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers", "PATCH", patch,
                 "patch", "pods/ephemeralcontainers", namespace, content_type="application/strategic-merge-patch+json")


def _status_message(body: str) -> str:
    try:
        data = json.loads(body)
        return data.get("message") or body
    except (ValueError, TypeError, AttributeError):
        return str(body)[:300]


class ProbeSession:
    """A probe pod that lives for one diagnosis, or an ephemeral container in the client pod: reused if
    one runs with the same image, left running ``linger_s`` after the run for the next (:mod:`.ephemeral`)."""

    def __init__(self, reader: LiveReader, namespace: str, image: str, client_pod: dict | None = None,
                 lifetime_s: int = 300, start_timeout_s: float = 60.0, linger_s: int = ephemeral.LINGER_S):
        self.reader = reader
        self.executor = Executor(reader)
        self.namespace = namespace
        self.image = image
        self.client_pod = client_pod
        self.lifetime_s = lifetime_s
        self.start_timeout_s = start_timeout_s
        self.linger_s = linger_s
        self.run_id = secrets.token_hex(3)
        self.name = f"netdoctor-probe-{self.run_id}"
        self.pod_name = client_pod["metadata"]["name"] if client_pod else self.name
        self.container = self.name if client_pod else "probe"  # with --from-pod: this run's, or the one reused
        self.reused = False
        self.node: str = ((client_pod or {}).get("spec") or {}).get("nodeName") or ""
        """The node the probe runs on (the pod's spec.nodeName once scheduled; ``""`` until then): its
        connects to a ClusterIP go through that node's kube-proxy rules."""
        self.created = False
        self._uncertain = False
        """True while the create (or ephemeral-container patch) is sent and unanswered."""
        self._lock = threading.Lock()

    def describe(self) -> str:
        if self.client_pod:
            reused = " (reused)" if self.reused else ""
            return f"ephemeral container {self.container}{reused} in pod {self.namespace}/{self.pod_name}"
        return f"probe pod {self.namespace}/{self.name}"

    def _annotations(self) -> dict[str, str]:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no passwd entry in some containers
            user = "unknown"
        return {
            "netdoctor.io/created-by": f"{user}@{socket.gethostname()}",
            "netdoctor.io/purpose": "kubectl-netdoctor live probe; deleted when the diagnosis ends",
            "netdoctor.io/expires-after-seconds": str(self.lifetime_s),
        }

    def pod_manifest(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": self.name, "namespace": self.namespace,
                "labels": {**LABELS, "netdoctor.io/run": self.run_id},
                "annotations": self._annotations(),
            },
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "activeDeadlineSeconds": self.lifetime_s,
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "probe", "image": self.image, "imagePullPolicy": "IfNotPresent",
                    # Outlives the pod's deadline, so that the deadline is what ends an abandoned
                    # probe pod: Failed, DeadlineExceeded, visible as such.
                    "command": idle_command(self.lifetime_s + 60),
                    "securityContext": RESTRICTED_CONTAINER_SECURITY,
                    # A scan starts thousands of short processes: 200m throttled it (docs/performance.md).
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                  "limits": {"cpu": "1", "memory": "256Mi"}},
                }],
            },
        }

    def ephemeral_container(self) -> dict:
        return {
            "name": self.container, "image": self.image, "imagePullPolicy": "IfNotPresent",
            "command": ephemeral.idle_command(self.run_id, self.lifetime_s),
            "securityContext": RESTRICTED_CONTAINER_SECURITY,
            "terminationMessagePolicy": "File",
        }

    # -- life cycle -------------------------------------------------------------
    def start(self) -> None:
        # Registered before the request is sent: a signal while it is in flight (the object may
        # exist on the server while we have no answer yet) must still lead to its removal.
        self.created = self._uncertain = True
        with _ACTIVE_LOCK:
            _ACTIVE.add(self)
        try:
            if self.client_pod:
                self._start_ephemeral()
            else:
                self._create()
        except ProbeUnavailable:
            self.created = self._uncertain = False  # refused: nothing was made
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self)
            raise
        self._uncertain = False
        self._wait_running()

    def _start_ephemeral(self) -> None:
        """Claim the tool's container that runs in the client pod; else join the one a concurrent run is
        starting; else add this run's. The add is conditional on the pod as read: of two runs that both
        found none, the second is refused (409), reads the pod again and joins the first one's container."""
        for _ in range(3):
            pod = self.reader.get("Pod", self.namespace, self.pod_name) or self.client_pod
            if self._claim(ephemeral.reusable_containers(pod, self.image, RESTRICTED_CONTAINER_SECURITY)):
                return
            if starting := ephemeral.starting_containers(pod, self.image, RESTRICTED_CONTAINER_SECURITY):
                self.container = starting[0]
                self._wait_running()  # the other run's (if it cannot start, ours would not); then claimed
                continue
            self.container = self.name
            try:
                add_ephemeral_container(self.reader, self.namespace, pod, self.ephemeral_container(), current=pod)
                return
            except Conflict:
                continue  # the pod changed since it was read: maybe a concurrent run's container
        self.container = self.name  # the pod keeps changing: add without the condition
        add_ephemeral_container(self.reader, self.namespace, self.client_pod, self.ephemeral_container())

    def _claim(self, names: list[str]) -> bool:
        """Take a lease on the first of ``names`` that still has time to live (one exec each)."""
        for name in names:
            self.container = name  # before the exec: a signal during it releases the lease it may have taken
            try:
                claim = self.exec(["sh", "-c", ephemeral.claim_script(self.run_id, self.lifetime_s)], timeout=10)
            except Forbidden:
                break  # no exec: the probes cannot run either, and a new container says so the usual way
            if claim.rc == 0 and "claimed" in claim.stdout:
                self.reused = True
                return True
        self.container = self.name
        return False

    def _create(self) -> None:
        self._write(f"/api/v1/namespaces/{self.namespace}/pods", "POST", self.pod_manifest(), "create", "pods")

    def _write(self, path: str, method: str, body: dict, verb: str, resource: str,
               content_type: str = "application/json") -> Any:
        return write(self.reader, path, method, body, verb, resource, self.namespace, content_type)

    def _container_state(self, pod: dict) -> tuple[dict, str]:
        status = pod.get("status") or {}
        key = "ephemeralContainerStatuses" if self.client_pod else "containerStatuses"
        cs = next((c for c in status.get(key) or [] if c.get("name") == self.container), {})
        return cs.get("state") or {}, status.get("phase", "")

    def _wait_running(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        last = "no status yet"
        while time.monotonic() < deadline:
            pod = self.reader.get("Pod", self.namespace, self.pod_name)
            if pod is None:
                raise ProbeUnavailable(f"{self.describe()} disappeared while starting")
            state, phase = self._container_state(pod)
            if "running" in state:
                self.node = (pod.get("spec") or {}).get("nodeName") or self.node
                return
            waiting = state.get("waiting") or {}
            reason = waiting.get("reason", "")
            if reason in CANNOT_START:
                raise ProbeUnavailable(f"the probe image {self.image} cannot start: {reason}: "
                                       f"{waiting.get('message', '')[:200]} (use --probe-image)")
            if "terminated" in state:
                raise ProbeUnavailable(f"the probe container exited: {state['terminated'].get('reason')}")
            last = reason or phase or last
            time.sleep(0.25)
        raise ProbeUnavailable(f"{self.describe()} did not start within {self.start_timeout_s:g}s ({last})")

    def stop(self) -> None:
        """Delete the probe pod, or release the ephemeral container (the API cannot remove those)."""
        with self._lock:
            if not self.created:
                return
            self.created = False
        # The signal that ends a run may have cut one of the shared pool's requests midway, leaving that pool's
        # lock taken or a connection half-written: every later request through it would hang. The removal goes
        # through a pool of its own. (The likely cause of one run in ~300 interrupted during the create that hung
        # until killed and left its pod; the e2e leak test now records the stacks of such a run.)
        reader = self.reader.isolated()
        try:
            if self.client_pod:
                self._end_ephemeral(reader)
                ENDED.append(f"{self.describe()} released (it exits by itself within {self.linger_s} s)")
            else:
                self._delete_pod(reader)
                ENDED.append(f"{self.describe()} deleted")
        except ClusterError:
            pass  # activeDeadlineSeconds ends the pod anyway; never hide the diagnosis behind cleanup
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self)

    def _delete_pod(self, reader: LiveReader) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}"
        # A create cut short by a signal may still land after a first "not found": look again.
        for pause in (0.25, 0.5, 1.0) if self._uncertain else ():
            if reader.request(path, "delete", "pods", self.namespace, [("gracePeriodSeconds", "0")],
                              method="DELETE") is not None:
                return
            time.sleep(pause)
        reader.request(path, "delete", "pods", self.namespace, [("gracePeriodSeconds", "0")], method="DELETE")

    def _end_ephemeral(self, reader: LiveReader, wait_s: float = 15.0) -> None:
        """Release this run's lease: the container stays ``linger_s`` (or while another run holds it), then
        exits by itself; never told to exit, as a concurrent run may be probing through it. One still starting
        cannot take the release yet, and would keep this run's lifetime: wait for it to run (or be gone)."""
        begin = time.monotonic()
        release = ["sh", "-c", ephemeral.release_script(self.run_id, self.linger_s)]
        while True:
            if self.exec(release, timeout=5).rc == 0:
                return
            pod = reader.get("Pod", self.namespace, self.pod_name)
            if pod is None:
                return
            listed = any(c.get("name") == self.container for c in (pod.get("spec") or {}).get("ephemeralContainers") or [])
            state, _ = self._container_state(pod)
            waited = time.monotonic() - begin
            # not listed: never added, unless a patch cut short by a signal lands in a moment
            if "terminated" in state or (state.get("waiting") or {}).get("reason") in CANNOT_START \
                    or waited >= wait_s or (not listed and (not self._uncertain or waited >= 2)):
                return
            time.sleep(0.25)

    def exec(self, command: list[str], timeout: float = 30.0) -> ExecResult:
        return self.executor.exec(self.namespace, self.pod_name, command, self.container, timeout)

    def script(self, text: str, timeout: float = 30.0) -> ExecResult:
        return self.exec(["sh", "-c", text], timeout)


class NodeAccessSession(ProbeSession):
    """Opt-in (``--node-access``): a privileged hostNetwork pod pinned to one node, in kube-system,
    to read that node's rules when kube-proxy's pod cannot (not running, no such binary)."""

    def __init__(self, reader: LiveReader, node: str, image: str, lifetime_s: int = 120):
        super().__init__(reader, "kube-system", image, None, lifetime_s, start_timeout_s=max(30.0, 3 * reader.timeout))
        self.node = node
        self.name = self.pod_name = f"netdoctor-node-{self.run_id}"

    def describe(self) -> str:
        return f"node-access pod kube-system/{self.name} on node {self.node}"

    def pod_manifest(self) -> dict:
        manifest = super().pod_manifest()
        spec = manifest["spec"]
        spec.update(nodeName=self.node, hostNetwork=True, tolerations=[{"operator": "Exists"}],
                    securityContext={}, priorityClassName="system-node-critical")
        container = spec["containers"][0]
        container["securityContext"] = {"privileged": True, "runAsUser": 0}
        container.pop("resources", None)
        manifest["metadata"]["labels"]["netdoctor.io/role"] = "node-access"
        return manifest


@contextmanager
def probe_session(session: ProbeSession) -> Iterator[ProbeSession]:
    """Start the probe and guarantee its removal, also on Ctrl-C and SIGTERM."""
    previous: dict[int, Any] = {}

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_term)
    try:
        session.start()
        yield session
    finally:
        try:
            # this session, and any node-access pod a worker thread still holds; a signal that
            # comes meanwhile is held until they are deleted, then ends the run as interrupted
            stop_all(reraise=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

