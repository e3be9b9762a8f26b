"""Helpers shared by the e2e suite and scripts (cluster, kubectl, images, waits).

Kept out of conftest.py so that test modules and scripts can import them by a
name of their own: ``from harness import ...`` (tests/ has a conftest.py too).
``e2e/suite/conftest.py`` and each script under ``e2e/scripts/`` put ``e2e/lib`` on
``sys.path`` first.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: ``e2e/``: this module lives in ``e2e/lib/``.
E2E_DIR = Path(__file__).resolve().parent.parent
CLUSTER_DIR = E2E_DIR / "cluster"
STATE_DIR = Path(os.environ.get("NETDOCTOR_E2E_DIR", "/var/lib/netdoctor-e2e"))
#: Scenario results of the last run (outside STATE_DIR, which e2e/cluster/down removes).
RESULTS_DIR = Path(os.environ.get("NETDOCTOR_E2E_RESULTS", E2E_DIR / "results"))

IMAGE_VARS = (
    "PAUSE_IMAGE",
    "TOOLBOX_IMAGE",
    "HTTPAPP_IMAGE",
    "KUBE_PROXY_IMAGE",
    "COREDNS_IMAGE",
    "KUBE_ROUTER_IMAGE",
)
VERSION_VARS = ("K8S_VERSION", "ETCD_VERSION", "COREDNS_VERSION", "KUBE_ROUTER_VERSION")

#: The tool under test is run as a real process by the interpreter that runs the tests
#: (``make e2e``: the project's .venv, where ``pip install -e .`` put this checkout), never
#: a ``python3`` or ``kubectl-netdoctor`` that happens to be on PATH.
TOOL_BIN = Path(sys.executable).parent


def netdoctor_cmd(*args: str) -> list[str]:
    """argv for ``kubectl netdoctor ARGS...`` with the tests' own interpreter."""
    return [sys.executable, "-m", "kubectl_netdoctor.cli", *map(str, args)]


def tool_path(path: str | None = None) -> str:
    """PATH with the interpreter's bin directory first: its ``kubectl-netdoctor`` console
    script is the one a ``kubectl netdoctor ...`` in a shell command finds (kubectl plugins
    are looked up on PATH)."""
    rest = os.environ.get("PATH", "") if path is None else path
    return f"{TOOL_BIN}:{rest}" if rest else str(TOOL_BIN)


def read_versions_env() -> dict[str, str]:
    """Evaluate versions.env the way the scripts do (bash, env overrides win)."""
    names = " ".join(IMAGE_VARS + VERSION_VARS)
    script = f'source "$1"; for v in {names}; do printf "%s=%s\\n" "$v" "${{!v}}"; done'
    out = subprocess.run(
        ["bash", "-c", script, "bash", str(CLUSTER_DIR / "versions.env")],
        check=True, capture_output=True, text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


_VERSIONS = read_versions_env()
#: Image names usable in manifests, keyed like versions.env (``IMAGES["TOOLBOX_IMAGE"]``).
IMAGES: dict[str, str] = {k: _VERSIONS[k] for k in IMAGE_VARS}
TOOLBOX_IMAGE = IMAGES["TOOLBOX_IMAGE"]
HTTPAPP_IMAGE = IMAGES["HTTPAPP_IMAGE"]


class Timeout(AssertionError):
    pass


def wait_for(check: Callable[[], Any], timeout: float = 60, interval: float = 0.5,
             what: str = "condition") -> Any:
    """Poll ``check`` until it returns a truthy value (returned) or ``timeout`` passes.

    Exceptions raised by ``check`` count as "not yet"; the last one is reported.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as exc:  # noqa: BLE001 - polled condition, report at the end
            last = exc
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}; last result: {last!r}")
        time.sleep(interval)


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"{' '.join(map(str, self.cmd))} exited {self.returncode}: {self.stderr or self.output}"


@dataclass
class Kubectl:
    """``kubectl(*args, input=None, check=True)`` bound to the e2e kubeconfig."""

    binary: str
    kubeconfig: str
    _client: Any = field(default=None, init=False, repr=False, compare=False)
    _client_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __call__(self, *args: str, input: str | None = None, check: bool = True,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "--kubeconfig", self.kubeconfig, *map(str, args)]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def get(self, path: str, **query: str) -> Any:
        """``GET path`` (``/api/v1/namespaces/NS/pods``), in this process through the official client
        and one shared connection pool. For polls: a kubectl process costs about 0.2 s of CPU, and
        scenarios that wait side by side would otherwise spend the node's two CPUs on them."""
        with self._client_lock:
            if self._client is None:
                from kubernetes import client, config

                cfg = client.Configuration()
                config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
                cfg.connection_pool_maxsize = 16
                self._client = client.ApiClient(cfg)
        resp = self._client.call_api(path, "GET", query_params=list(query.items()), auth_settings=["BearerToken"],
                                     header_params={"Accept": "application/json"}, _preload_content=False,
                                     _return_http_data_only=True, _request_timeout=30)
        return json.loads(resp.data)

    def apply(self, manifest: str, namespace: str | None = None) -> None:
        ns = ["-n", namespace] if namespace else []
        self(*ns, "apply", "-f", "-", input=manifest)

    def exec(self, namespace: str, pod: str, *command: str, check: bool = True,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self("-n", namespace, "exec", pod, "--", *command, check=check, timeout=timeout)

    def wait_rollout(self, namespace: str, resource: str, timeout: float = 120) -> None:
        """Wait for ``deployment/NAME`` or ``daemonset/NAME`` to be fully rolled out."""
        self("-n", namespace, "rollout", "status", resource, f"--timeout={int(timeout)}s",
             timeout=timeout + 10)

    def wait_pods_ready(self, namespace: str, selector: str, timeout: float = 120) -> list[str]:
        """Wait until at least one pod matches ``selector`` and all matching pods are Ready."""
        def ready() -> list[str] | None:
            pods = self.json("-n", namespace, "get", "pods", "-l", selector)["items"]
            if not pods:
                return None
            for p in pods:
                conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions", [])}
                if conds.get("Ready") != "True":
                    return None
            return [p["metadata"]["name"] for p in pods]
        return wait_for(ready, timeout, what=f"pods {selector!r} Ready in {namespace}")


@dataclass
class Cluster:
    kubeconfig: str
    kubectl: Kubectl
    external: bool          # True: provided via NETDOCTOR_E2E_KUBECONFIG, not ours
    images: dict[str, str]


def _find_kubectl() -> str:
    explicit = os.environ.get("NETDOCTOR_E2E_KUBECTL")
    if explicit:
        return explicit
    ours = STATE_DIR / "bin" / "kubectl"
    if ours.exists():
        return str(ours)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("no kubectl: set NETDOCTOR_E2E_KUBECTL or put kubectl on PATH")
    return found


# The opt-in second node (e2e/cluster/node2) carries this taint: ordinary e2e pods never go there.
NODE2_TAINT_KEY = "netdoctor.io/node"


def system_pod(kubectl: Kubectl, selector: str, node: str | None = None) -> str:
    """Name of a kube-system pod matching ``selector`` on ``node``; without a node, on one that does
    not carry the second node's taint (where ordinary e2e pods run). With one node, its pod: node-local
    agents (kube-proxy, kube-router) must be read on the node of the pods a test looks at."""
    pods = kubectl.json("-n", "kube-system", "get", "pods", "-l", selector)["items"]
    assert pods, f"no kube-system pod with label {selector}"
    if node is None:
        tainted = {n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"]
                   if any(t.get("key") == NODE2_TAINT_KEY for t in n["spec"].get("taints") or [])}
        mine = [p for p in pods if p["spec"].get("nodeName") not in tainted]
    else:
        mine = [p for p in pods if p["spec"].get("nodeName") == node]
    assert mine, f"no kube-system pod with label {selector} on {node or 'an untainted node'}"
    return mine[0]["metadata"]["name"]


def create_namespace(kubectl: Kubectl, prefix: str) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")[:40].strip("-")
    name = f"e2e-{safe}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    # Pods cannot be created before the namespace's default ServiceAccount exists (polled in-process:
    # a 404 is "not yet").
    wait_for(lambda: kubectl.get(f"/api/v1/namespaces/{name}/serviceaccounts/default"),
             30, what=f"default ServiceAccount in {name}")
    return name


def delete_namespace(kubectl: Kubectl, name: str) -> None:
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def toolbox_pod_manifest(name: str, labels: dict[str, str] | None = None,
                         image: str | None = None) -> str:
    """A long-running client pod (sh, wget, nc, nslookup, iptables) from the toolbox image."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "toolbox", "image": image or TOOLBOX_IMAGE,
                "command": ["sleep", "infinity"],
            }],
        },
    })


def httpapp_manifests(name: str, replicas: int = 1, args: Sequence[str] = (),
                      port: int = 80, image: str | None = None) -> str:
    """Deployment + ClusterIP Service for the httpapp test server (container port 8080 'http')."""
    labels = {"app": name}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{
                        "name": "app", "image": image or HTTPAPP_IMAGE, "args": list(args),
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                           "periodSeconds": 1},
                    }],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels,
                 "ports": [{"name": "http", "port": port, "targetPort": "http"}]},
    }
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [deployment, service]})


class E2E:
    """Helpers for e2e tests, handed out by the ``e2e`` fixture.

    (Scripts and test modules may also ``from harness import ...`` directly.)
    """

    wait_for = staticmethod(wait_for)
    Timeout = Timeout
    create_namespace = staticmethod(create_namespace)
    delete_namespace = staticmethod(delete_namespace)
    toolbox_pod_manifest = staticmethod(toolbox_pod_manifest)
    httpapp_manifests = staticmethod(httpapp_manifests)
    images = IMAGES


HEALTHY_MANIFESTS = E2E_DIR / "scenarios" / "healthy" / "manifests.yaml"
TARPIT_MANIFESTS = E2E_DIR / "manifests" / "tarpit.yaml"


def deploy_healthy(kubectl: Kubectl, namespace: str, replicas: int = 1) -> None:
    """The healthy scenario in ``namespace``: Deployment ``web`` (httpapp) + ClusterIP Service ``web``,
    every pod Ready and listed as a ready endpoint (the EndpointSlice controller lags the pods)."""
    from string import Template

    kubectl.apply(Template(HEALTHY_MANIFESTS.read_text()).substitute(IMAGES), namespace)
    if replicas != 1:
        kubectl("-n", namespace, "scale", "deployment/web", f"--replicas={replicas}")
    kubectl.wait_rollout(namespace, "deployment/web")
    kubectl.wait_pods_ready(namespace, "app=web")

    def endpoints_ready() -> bool:
        slices = kubectl.json("-n", namespace, "get", "endpointslices", "-l", "kubernetes.io/service-name=web")
        ready = [e for s in slices["items"] for e in s.get("endpoints") or []
                 if (e.get("conditions") or {}).get("ready")]
        return len(ready) == replicas
    wait_for(endpoints_ready, 60, what=f"{replicas} ready endpoint(s) of Service web in {namespace}")


def deploy_tarpit(kubectl: Kubectl, namespace: str) -> None:
    """Service ``web`` in front of a server that accepts and never answers (slow probes), Ready."""
    from string import Template

    kubectl.apply(Template(TARPIT_MANIFESTS.read_text()).substitute(IMAGES), namespace)
    kubectl.wait_rollout(namespace, "deployment/web")
    kubectl.wait_pods_ready(namespace, "app=web")


def service_account_kubeconfig(kubectl: Kubectl, namespace: str, sa: str, workdir: Path,
                               duration: str = "10m") -> Path:
    """A kubeconfig (mode 0600, in ``workdir``) that acts as ServiceAccount ``sa``: a token from
    ``kubectl create token``, the server and CA from the admin kubeconfig, ``namespace`` as default."""
    import yaml

    token = kubectl("-n", namespace, "create", "token", sa, f"--duration={duration}").stdout.strip()
    admin = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    cluster_entry = dict(admin["clusters"][0]["cluster"])
    assert cluster_entry.get("server", "").startswith("https://"), cluster_entry.get("server")
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": cluster_entry}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": sa, "context": {"cluster": "e2e", "user": sa, "namespace": namespace}}],
        "current-context": sa,
    }
    path = workdir / f"{sa}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def with_default_sigint(cmd: list[str]) -> list[str]:
    """``cmd`` with SIGINT back to its default first. A test run started in the background by a
    shell inherits SIGINT ignored, and Python then leaves it ignored: Ctrl-C would not reach the
    tool at all (it would finish its run and exit 1 on the tarpit's problem). An exec wrapper,
    not preexec_fn: a test may fork from several threads."""
    reset = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
    return [cmd[0], "-c", reset, *cmd]


# -- benchmarks (e2e/scripts/bench_*.py) ---------------------------------------------------------------------

def bench_kubectl(parser: Any) -> tuple[Any, Kubectl]:
    """A benchmark's ``--kubeconfig`` (default: NETDOCTOR_E2E_KUBECONFIG, else the cluster e2e/cluster/up
    builds): parses the arguments and returns them with a kubectl bound to that cluster."""
    parser.add_argument("--kubeconfig", default=os.environ.get("NETDOCTOR_E2E_KUBECONFIG")
                        or str(STATE_DIR / "admin.kubeconfig"))
    args = parser.parse_args()
    if not Path(args.kubeconfig).exists():
        raise SystemExit(f"no kubeconfig at {args.kubeconfig}: run e2e/cluster/up or pass --kubeconfig")
    return args, Kubectl(_find_kubectl(), args.kubeconfig)


def bench_row(case: str, times: list[float], note: str = "") -> str:
    """One markdown row: the case, how many runs, median, min and max seconds, a note."""
    return (f"| {case} | {len(times)} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |"
            f" {note} |")

