"""The probe's life cycle at the moments a signal can cut it: the create in flight, the
deletion itself, an ephemeral container still starting; and the ``--from-pod`` container's
reuse across runs (its leases, its cap, cleanup). A fake API server stands behind the reader
(``api.call_api`` for the create and the ephemeral-container patch, ``request`` for the delete,
``get`` for status, ``list`` for cleanup). Its ephemeral containers are real: each runs its
command in ``sh`` with a directory of its own for ``/tmp``, and exec runs there too, so the
lease scripts are tested as the container runs them."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kubectl_netdoctor import cleanup
from kubectl_netdoctor.cluster import ephemeral, probe
from kubectl_netdoctor.cluster.probe import (
    DONE_FILE,
    RESTRICTED_CONTAINER_SECURITY,
    ExecResult,
    ProbeSession,
    probe_session,
    stop_all,
)


class Response:
    def __init__(self, obj: dict):
        self.data = json.dumps(obj).encode()


_STARTS = itertools.count()


class FakeContainer:
    """An ephemeral container: its command runs in a real ``sh``, with ``/tmp`` mapped to a directory of its
    own; ``state`` is fixed for one that never runs here (terminated, another image...)."""

    def __init__(self, root: Path, spec: dict, state: dict | None = None, reads_until_run: int = 0):
        self.spec, self.fixed, self.reads_until_run = spec, state, reads_until_run
        self.root = root / spec["name"]
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.started_at = ""

    def local(self, arg: str) -> str:
        return arg.replace("/tmp/", f"{self.root}/")

    def run(self) -> None:
        self.started_at = f"2026-12-07T10:{next(_STARTS):05d}Z"  # orders like an RFC 3339 time
        self.proc = subprocess.Popen([self.local(a) for a in self.spec["command"]],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def state(self) -> dict:
        if self.fixed is not None:
            return self.fixed
        if self.proc is None and self.reads_until_run > 0:  # the kubelet is starting it
            self.reads_until_run -= 1
            if self.reads_until_run == 0:
                self.run()
        if self.proc is None:
            return {"waiting": {"reason": "ContainerCreating"}}
        if self.proc.poll() is None:
            return {"running": {"startedAt": self.started_at}}
        return {"terminated": {"exitCode": self.proc.returncode, "reason": "Completed"}}

    def exec(self, command: list[str], timeout: float) -> ExecResult:
        if "running" not in self.state():
            return ExecResult(None, "", "", f'exec failed: container "{self.spec["name"]}" is not running')
        done = subprocess.run([self.local(a) for a in command], capture_output=True, text=True, timeout=timeout)
        return ExecResult(done.returncode, done.stdout, done.stderr)

    def lease(self, run_id: str) -> int | None:
        path = self.root / "netdoctor-leases" / run_id
        return int(path.read_text()) if path.exists() else None

    def ends_within(self, seconds: float) -> bool:
        try:
            self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class FakeServer:
    """Pods by name; hooks decide what a create or a delete does. Ephemeral containers (under ``tmp``)
    are added by the API's patch (refused with 409 if it names an older resourceVersion) and run at once,
    like a kubelet that is never late, or on the ``start_reads``-th read of their status."""

    def __init__(self, tmp: Path | None = None):
        self.pods: dict[str, dict] = {}
        self.deletes = 0
        self.patches = 0
        self.conflicts = 0
        self.version = 1        # the client pods' resourceVersion
        self.start_reads = 0
        self.on_patch = None    # called before a patch is served (what lands just before it)
        self.on_create = None   # called with the manifest; default: store it and answer
        self.on_delete = None   # called before a delete is served
        self.tmp = tmp
        self.containers: dict[str, dict[str, FakeContainer]] = {}  # pod -> container name -> container

    def add_client(self, name: str = "client", ephemeral_containers: list[tuple[dict, dict | None]] = ()) -> dict:
        """A client pod in ns shop, with ephemeral containers as (spec, fixed state or None: runs)."""
        self.pods[name] = {"metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
                           "spec": {"nodeName": "worker-1", "containers": [{"name": "app", "image": "app"}],
                                    "ephemeralContainers": []}}
        for spec, state in ephemeral_containers:
            self._add(name, spec, state)
        return self.pods[name]

    def _add(self, pod: str, spec: dict, state: dict | None = None) -> FakeContainer:
        self.version += 1
        self.pods[pod]["spec"]["ephemeralContainers"].append(spec)
        container = self.containers.setdefault(pod, {})[spec["name"]] = \
            FakeContainer(self.tmp / pod, spec, state, self.start_reads)
        if state is None and not self.start_reads:
            container.run()
        return container

    def container(self, pod: str, name: str) -> FakeContainer:
        return self.containers[pod][name]

    def kill_all(self) -> None:
        for by_name in self.containers.values():
            for container in by_name.values():
                container.kill()

    # LiveReader.api.call_api (what probe.write uses)
    def call_api(self, path, method, body=None, **_):
        if path.endswith("/ephemeralcontainers"):
            from kubernetes.client.exceptions import ApiException

            assert method == "PATCH"
            if self.on_patch:
                self.on_patch()
            self.patches += 1
            pod = path.split("/")[-2]
            precondition = (body.get("metadata") or {}).get("resourceVersion")
            if precondition is not None and precondition != str(self.version):
                self.conflicts += 1
                raise ApiException(status=409, reason="Conflict: the object has been modified")
            known = {c["name"] for c in self.pods[pod]["spec"]["ephemeralContainers"]}
            for spec in body["spec"]["ephemeralContainers"]:
                if spec["name"] not in known:
                    self._add(pod, spec)
            return Response(self.pods[pod])
        if self.on_create:
            return self.on_create(body)
        self.pods[body["metadata"]["name"]] = body
        return Response(body)

    # LiveReader.request
    def request(self, path, verb, resource, namespace, query=None, method="GET"):
        assert (method, verb) == ("DELETE", "delete")
        self.deletes += 1
        if self.on_delete:
            self.on_delete()
        return self.pods.pop(path.rsplit("/", 1)[1], None)

    # LiveReader.get
    def get(self, kind, namespace, name):
        pod = self.pods.get(name)
        if pod is None:
            return None
        if name in self.containers or "ephemeralContainers" in pod["spec"]:
            meta = {**pod["metadata"], "resourceVersion": str(self.version)}
            return json.loads(json.dumps({**pod, "metadata": meta, "status": {
                "phase": "Running", "ephemeralContainerStatuses": [
                    {"name": n, "state": c.state()} for n, c in self.containers.get(name, {}).items()]}}))
        return {**pod, "status": {"phase": "Running", "containerStatuses": [{"name": "probe", "state": {"running": {}}}]}}

    # LiveReader.list (what cleanup uses): the probe pods by the tool's labels, or every pod
    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        pods = [self.get("Pod", "shop", name) for name in self.pods]
        if label_selector:
            pods = [p for p in pods if (p["metadata"].get("labels") or {}).get("netdoctor.io/run")]
        return pods

    # Executor.exec, into the fake ephemeral containers
    def exec(self, namespace, pod, command, container=None, timeout=20.0):
        found = self.containers.get(pod, {}).get(container)
        if found is None:
            return ExecResult(None, "", "", f'exec failed: container not found ("{container}")')
        return found.exec(command, timeout)


class Reader:
    timeout = 5.0

    def __init__(self, server: FakeServer):
        self.api = server
        self.request, self.get = server.request, server.get
        self.isolated_readers: list[Reader] = []

    def isolated(self) -> Reader:
        twin = Reader(self.api)
        self.isolated_readers.append(twin)
        return twin


@pytest.fixture(autouse=True)
def no_leftover_sessions():
    yield
    stop_all()


def test_signal_while_the_create_is_in_flight_still_deletes_the_pod():
    server = FakeServer()

    def created_but_no_answer(body):
        server.pods[body["metadata"]["name"]] = body
        raise KeyboardInterrupt  # Ctrl-C while waiting for the answer
    server.on_create = created_but_no_answer
    session = ProbeSession(Reader(server), "shop", "busybox")
    with pytest.raises(KeyboardInterrupt):
        session.start()
    assert session.name in server.pods
    stop_all()  # what the CLI does on KeyboardInterrupt
    assert server.pods == {}


def test_a_create_that_lands_after_the_first_delete_is_deleted_too():
    server = FakeServer()
    manifests = []

    def no_answer_yet(body):
        manifests.append(body)
        raise KeyboardInterrupt
    server.on_create = no_answer_yet

    def lands_late():
        if server.deletes == 2:  # the API server commits the create between our first and second look
            server.pods[manifests[0]["metadata"]["name"]] = manifests[0]
    server.on_delete = lands_late
    session = ProbeSession(Reader(server), "shop", "busybox")
    with pytest.raises(KeyboardInterrupt):
        session.start()
    stop_all()
    assert server.pods == {} and server.deletes == 2


def test_the_probe_records_the_node_it_was_scheduled_on():
    """Its ClusterIP connects go through that node's kube-proxy rules (the proxy step weighs them there)."""
    server = FakeServer()
    scheduled = server.get

    def get(kind, namespace, name):
        pod = scheduled(kind, namespace, name)
        return pod and {**pod, "spec": {**pod["spec"], "nodeName": "worker-2"}}
    reader = Reader(server)
    reader.get = get
    session = ProbeSession(reader, "shop", "busybox")
    assert session.node == ""  # not scheduled yet
    session.start()
    assert session.node == "worker-2"
    session.stop()


def test_an_ephemeral_probe_is_on_its_client_pods_node():
    client = {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": {"nodeName": "worker-1", "containers": []}}
    assert ProbeSession(Reader(FakeServer()), "shop", "busybox", client).node == "worker-1"


def test_a_refused_create_leaves_nothing_to_delete():
    from kubernetes.client.exceptions import ApiException

    server = FakeServer()

    def refuse(body):
        raise ApiException(status=403, reason="Forbidden")
    server.on_create = refuse
    session = ProbeSession(Reader(server), "shop", "busybox")
    with pytest.raises(probe.ProbeUnavailable, match="forbidden: create pods in ns shop"):
        session.start()
    assert session not in probe._ACTIVE
    stop_all()
    assert server.deletes == 0


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_deletion_waits_for_it_then_ends_the_run(signame):
    server = FakeServer()
    sent = []

    def signal_mid_delete():
        if not sent:
            sent.append(signame)
            os.kill(os.getpid(), getattr(signal, signame))  # a second Ctrl-C / SIGTERM, mid-request
    server.on_delete = signal_mid_delete
    session = ProbeSession(Reader(server), "shop", "busybox")
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with probe_session(session):
            assert session.name in server.pods
    assert sent and server.pods == {}  # deleted first, interrupted after
    assert signal.getsignal(signal.SIGTERM) is before


class FakeExecutor:
    """exec into the ephemeral container fails until it runs."""

    def __init__(self, server: FakeServer, runs_after_gets: int):
        self.server, self.runs_after_gets, self.touched = server, runs_after_gets, []

    def exec(self, namespace, pod, command, container=None, timeout=20.0):
        if self.server.gets < self.runs_after_gets:
            return ExecResult(None, "", "", 'exec failed: container not found ("netdoctor-probe-x")')
        self.touched.append((namespace, pod, tuple(command), container))
        return ExecResult(0, "", "")


def test_an_ephemeral_container_still_starting_gets_the_release_once_it_runs():
    server = FakeServer()
    client = {"metadata": {"name": "client", "namespace": "shop"}, "spec": {"containers": [{"name": "app"}]}}
    server.gets = 0
    session = ProbeSession(Reader(server), "shop", "busybox", client_pod=client)

    def get(kind, namespace, name):
        server.gets += 1
        state = {"running": {}} if server.gets >= 3 else {"waiting": {"reason": "ContainerCreating"}}
        return {**client, "spec": {**client["spec"], "ephemeralContainers": [{"name": session.container}]},
                "status": {"ephemeralContainerStatuses": [{"name": session.container, "state": state}]}}
    server.get = session.reader.get = get  # the removal reads through an isolated twin of the reader
    session.executor = FakeExecutor(server, runs_after_gets=3)
    session.created = True  # the patch was applied; its container is still being created
    session.stop()
    release = ("sh", "-c", ephemeral.release_script(session.run_id, ephemeral.LINGER_S))
    assert session.executor.touched == [("shop", "client", release, session.container)]


def test_the_pods_deadline_ends_an_abandoned_probe_not_its_idle_loop():
    pod = ProbeSession(Reader(FakeServer()), "shop", "busybox", lifetime_s=300).pod_manifest()
    assert pod["spec"]["activeDeadlineSeconds"] == 300
    loop = int(re.search(r"-lt (\d+)", pod["spec"]["containers"][0]["command"][-1]).group(1))
    assert loop > 300


def test_an_ephemeral_container_that_cannot_start_is_not_waited_for():
    server = FakeServer()
    client = {"metadata": {"name": "client", "namespace": "shop"}, "spec": {"containers": [{"name": "app"}]}}
    server.gets = 0
    session = ProbeSession(Reader(server), "shop", "no-such-image", client_pod=client)

    def get(kind, namespace, name):
        server.gets += 1
        return {**client, "spec": {**client["spec"], "ephemeralContainers": [{"name": session.container}]},
                "status": {"ephemeralContainerStatuses": [
                    {"name": session.container, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}
    server.get = session.reader.get = get  # the removal reads through an isolated twin of the reader
    session.executor = FakeExecutor(server, runs_after_gets=10**6)
    session.created = True
    session.stop()
    assert server.gets == 1 and session.executor.touched == []


def test_the_removal_goes_through_a_pool_of_its_own():
    """A signal can cut a request of the shared pool midway and leave it unusable (its lock taken): the pod is
    deleted through an isolated reader, never through the one that was in flight."""
    server = FakeServer()
    reader = Reader(server)

    def poisoned(*_a, **_k):
        raise AssertionError("the deletion used the shared pool")
    session = ProbeSession(reader, "shop", "busybox")
    session.start()
    reader.request = reader.get = poisoned
    stop_all()
    assert session.name not in server.pods and len(reader.isolated_readers) == 1


def test_live_reader_isolated_shares_the_configuration_not_the_pool(tmp_path):
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://192.0.2.10:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "shop"}}]}))
    reader = LiveReader(kubeconfig=str(kubeconfig))
    twin = reader.isolated()
    assert twin.api is not reader.api and twin.api.configuration is reader.api.configuration
    assert twin.api.rest_client.pool_manager is not reader.api.rest_client.pool_manager
    assert (twin.host, twin.default_namespace, twin.timeout) == (reader.host, "shop", reader.timeout)


# -- the --from-pod container: reuse, leases, the cap ------------------------------------------------------

BUSYBOX, TOOLBOX = "busybox:1.36.1", "registry.local/netdoctor/toolbox:nd1"


@pytest.fixture
def server(tmp_path):
    fake = FakeServer(tmp_path)
    fake.add_client()
    yield fake
    stop_all()
    fake.kill_all()


def run_from_pod(server: FakeServer, image: str = BUSYBOX, **kwargs) -> ProbeSession:
    """A --from-pod run's session, started."""
    session = ProbeSession(Reader(server), "shop", image, client_pod=server.pods["client"], **kwargs)
    session.executor = server
    session.start()
    return session


def uptime() -> int:
    """The lease scripts' clock."""
    return int(float(Path("/proc/uptime").read_text().split()[0]))


def probe_spec(name: str, image: str = BUSYBOX, command: list[str] | None = None, security: dict | None = None) -> dict:
    """An ephemeral container as a run of this tool adds it (or a variant of it)."""
    return {"name": name, "image": image, "command": command or ephemeral.idle_command(name[-6:], 300),
            "securityContext": security or RESTRICTED_CONTAINER_SECURITY}


def test_a_fresh_container_is_added_when_the_pod_has_none(server):
    first = run_from_pod(server)
    assert server.patches == 1 and not first.reused
    assert first.container == first.name and first.container.startswith("netdoctor-probe-")
    assert first.describe() == f"ephemeral container {first.container} in pod shop/client"
    assert first.node == "worker-1"
    assert first.exec(["sh", "-c", "echo probing"]).stdout == "probing\n"


def test_the_next_run_reuses_the_running_container_and_adds_none(server):
    first = run_from_pod(server)
    first.stop()
    container = server.container("client", first.container)
    assert "running" in container.state()  # left for the next run, its lease now the linger
    second = run_from_pod(server, lifetime_s=900)
    assert server.patches == 1 and second.reused and second.container == first.container
    assert second.describe() == f"ephemeral container {first.container} (reused) in pod shop/client"
    assert second.node == "worker-1"
    assert second.exec(["sh", "-c", "echo probing"]).rc == 0
    # the claim is this run's own lease, of this run's lifetime, next to the first run's linger
    now = uptime()
    assert now + 900 - 2 <= container.lease(second.run_id) <= now + 900
    assert now + ephemeral.LINGER_S - 2 <= container.lease(first.run_id) <= now + ephemeral.LINGER_S


@pytest.mark.parametrize("why, spec, state", [
    ("terminated", probe_spec("netdoctor-probe-0000a1"), {"terminated": {"exitCode": 0}}),
    ("another image", probe_spec("netdoctor-probe-0000a3", image=TOOLBOX), None),
    ("an older tool's (no leases)", probe_spec("netdoctor-probe-0000a4", command=probe.idle_command(300)), None),
    ("not the tool's", probe_spec("debugger-0000a5"), None),
    ("not restricted", probe_spec("netdoctor-probe-0000a6", security={"privileged": True}), None),
])
def test_no_reuse_of_a_container_that_does_not_fit(server, why, spec, state):
    server._add("client", spec, state)
    session = run_from_pod(server)
    assert server.patches == 1 and not session.reused and session.container == session.name, why
    assert server.container("client", spec["name"]).lease(session.run_id) is None


def test_no_reuse_of_a_container_about_to_end(server):
    """A claim needs a lease with CLAIM_MARGIN_S to go: the loop may already be deciding to exit."""
    short = run_from_pod(server, lifetime_s=ephemeral.CLAIM_MARGIN_S - 5)  # e.g. a killed run's lease, nearly over
    session = run_from_pod(server)
    assert server.patches == 2 and not session.reused and session.container != short.container


def test_no_reuse_after_cleanup_told_it_to_exit(server):
    first = run_from_pod(server)
    server.container("client", first.container).exec(["touch", DONE_FILE], 5)  # cleanup, just now
    session = run_from_pod(server)
    assert server.patches == 2 and not session.reused


def test_the_newest_of_several_running_containers_is_reused(server):
    older = run_from_pod(server)
    newer = run_from_pod(server, image=TOOLBOX)  # another image: a second one is added...
    again = run_from_pod(server, image=TOOLBOX)  # ...and each image keeps reusing its own
    assert server.patches == 2 and again.container == newer.container != older.container
    assert ephemeral.reusable_containers(server.get("Pod", "shop", "client"), TOOLBOX,
                                         RESTRICTED_CONTAINER_SECURITY) == [newer.container]


def test_the_end_of_a_run_does_not_end_the_container_another_run_uses(server):
    first = run_from_pod(server, linger_s=0)
    second = run_from_pod(server, linger_s=0)   # at the same time, through the same container
    container = server.container("client", first.container)
    first.stop()                                # its lease ends now; the second run's does not
    assert not container.ends_within(ephemeral.POLL_S + 1.5)
    assert second.exec(["sh", "-c", "echo still probing"]).stdout == "still probing\n"
    second.stop()                               # the last lease ends: the loop exits by itself
    assert container.ends_within(ephemeral.POLL_S + 3)


def test_a_container_ends_by_itself_when_its_last_lease_ends(tmp_path):
    """What a run killed with SIGKILL leaves: no release, the container ends at its own deadline."""
    command = ephemeral.idle_command("a1b2c3", 1, str(tmp_path / "leases"), str(tmp_path / "done"), poll_s=1)
    begin = time.monotonic()
    subprocess.run(command, timeout=10, check=True)
    assert time.monotonic() - begin < 5


def test_an_interrupted_run_leaves_its_container_no_longer_than_the_linger(server):
    """Ctrl-C and SIGTERM end a run through stop_all, which releases the lease like any end of a run."""
    session = ProbeSession(Reader(server), "shop", BUSYBOX, client_pod=server.pods["client"], linger_s=0)
    session.executor = server
    with pytest.raises(KeyboardInterrupt):
        with probe_session(session):
            raise KeyboardInterrupt
    assert server.container("client", session.container).ends_within(ephemeral.POLL_S + 3)


def test_a_signal_during_the_claim_still_releases_the_lease(server):
    first = run_from_pod(server)
    first.stop()
    container = server.container("client", first.container)

    class CutShort:
        def exec(self, namespace, pod, command, container=None, timeout=20.0):
            server.exec(namespace, pod, command, container, timeout)  # the claim lands...
            raise KeyboardInterrupt                                   # ...and its answer never comes
    second = ProbeSession(Reader(server), "shop", BUSYBOX, client_pod=server.pods["client"], lifetime_s=900,
                          linger_s=0)
    second.executor = CutShort()
    with pytest.raises(KeyboardInterrupt):
        second.start()
    second.executor = server
    assert container.lease(second.run_id) >= uptime() + 900 - 2  # claimed: its whole lifetime
    stop_all()
    assert container.lease(second.run_id) <= uptime()  # released: ends now


def test_cleanup_still_finds_and_ends_a_container_left_for_reuse(server):
    first = run_from_pod(server)
    first.stop()
    found = cleanup.find_leftovers(server, "shop")
    assert [(lo.kind, lo.pod, lo.container, lo.state) for lo in found] == [
        ("ephemeral container", "client", first.container, "running")]

    def exec_fn(namespace, pod, command, container):
        result = server.exec(namespace, pod, command, container, 10)
        return result.rc, result.error
    outcomes = cleanup.clean(server, found, exec_fn)
    assert [o.ok for o in outcomes] == [True]
    assert server.container("client", first.container).ends_within(ephemeral.POLL_S + 3)
    assert cleanup.find_leftovers(server, "shop") == []
    assert not run_from_pod(server).reused


def test_no_container_is_added_past_the_cap(server):
    for i in range(ephemeral.MAX_TOOL_CONTAINERS):
        server._add("client", probe_spec(f"netdoctor-probe-{i:06x}"), {"terminated": {"exitCode": 0}})
    session = ProbeSession(Reader(server), "shop", BUSYBOX, client_pod=server.pods["client"])
    session.executor = server
    with pytest.raises(probe.ProbeUnavailable, match=r"already has 20 ephemeral containers of kubectl-netdoctor"):
        session.start()
    assert server.patches == 0 and session not in probe._ACTIVE


def test_a_pod_at_the_cap_still_reuses_its_running_container(server):
    first = run_from_pod(server)
    for i in range(ephemeral.MAX_TOOL_CONTAINERS):
        server._add("client", probe_spec(f"netdoctor-read-{i:06x}"), {"terminated": {"exitCode": 0}})
    assert run_from_pod(server).container == first.container and server.patches == 1


def test_a_run_joins_the_container_a_concurrent_run_is_starting(server):
    """Seen listed but not running yet: another run just added it. Waited for, then claimed."""
    server.start_reads = 3
    other = server._add("client", probe_spec("netdoctor-probe-0ther1"))
    session = run_from_pod(server)
    assert server.patches == 0 and session.reused and session.container == "netdoctor-probe-0ther1"
    assert other.lease(session.run_id) is not None


def test_two_runs_that_find_none_at_once_add_one_container(server):
    """Both read the pod before either added one: the second add names an older resourceVersion and is
    refused (409); that run reads the pod again and joins the first run's container."""
    server.start_reads = 2
    first = ProbeSession(Reader(server), "shop", BUSYBOX, client_pod=server.pods["client"])
    first.executor = server

    def first_lands_just_before():
        server.on_patch = None
        first.start()
    server.on_patch = first_lands_just_before
    second = run_from_pod(server)
    assert server.conflicts == 1 and len(server.containers["client"]) == 1
    assert not first.reused and second.reused and second.container == first.container


def test_a_pod_that_keeps_changing_still_gets_its_probe(server):
    """Three refused conditional adds in a row (a pod whose status churns): the fourth is unconditional."""
    def churn():
        server.version += 1
    server.on_patch = churn
    session = run_from_pod(server)
    assert server.conflicts == 3 and server.patches == 4 and not session.reused
    assert "running" in server.container("client", session.container).state()
