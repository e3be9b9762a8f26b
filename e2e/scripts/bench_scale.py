#!/usr/bin/env python3
"""Cost of diagnosing one Service as the cluster grows: N=10 against N=5,000 Services.

A benchmark, not a test (issue 11, "cost flat in cluster size")::

    python3 e2e/scripts/bench_scale.py [--sizes 10,5000] [--runs 3] [--out DIR]   # on the e2e cluster
    python3 e2e/scripts/bench_scale.py --synthetic [--sizes 10,5000]              # offline only, no cluster

On the cluster it creates namespace ``nd-scale`` with one backend pod (the httpapp
image, label ``app=scale-web``) and one client pod (the toolbox image), then N
Services ``s0`` .. ``s<N-1>``, each selector-less with one EndpointSlice that points
at the backend pod (one endpoint each: ``nd-scale/sI:http`` -> podIP:8080). It
grows the same namespace from the smaller size to the larger one, waits until
kube-proxy has written the newest Service's rules on the node and the node's CPUs are
quiet again (at most 25% busy over 5 s: kube-proxy's resyncs of thousands of new
Services would otherwise share them with the timed runs), and at each size times,
side by side:

* ``kubectl sequence``: the seven key commands of the seeds' "Service 不通"
  cheat sheet (``/work/shared/seeds/000_*.txt``, section 10 "7 个关键命令"), run one
  after the other as a person would, for Service ``s7``:

  1. ``kubectl get svc s7``
  2. ``kubectl get endpointslice -l kubernetes.io/service-name=s7`` (the Services
     are selector-less, so there is no Endpoints object to ``get``)
  3. ``kubectl get pod -l app=scale-web -o wide``
  4. ``kubectl exec <backend pod> -- netstat -lnt`` (busybox has no ``ss -lntp``)
  5. ``kubectl -n kube-system exec <kube-proxy pod> -- iptables -t nat -L KUBE-SERVICES -n -v``
     piped to ``grep <clusterIP>`` (nftables mode: ``nft list map ip kube-proxy service-ips``)
  6. ``kubectl exec <client pod> -- nslookup s7.nd-scale.svc.cluster.local`` (busybox has no ``dig``)
  7. ``kubectl get netpol -A``

* ``passive``: ``kubectl netdoctor svc s7 --read-only -o json`` (API reads and the
  node's rules through an exec into kube-proxy; nothing created).
* ``live``: ``kubectl netdoctor svc s7 -o json`` (the full diagnosis with the probe pod).
* ``snapshot``: ``kubectl netdoctor snapshot -n nd-scale -o snap-N.json`` (and ``.yaml``),
  time, peak memory and file size.
* ``offline``: ``kubectl netdoctor svc s7 --snapshot snap-N.json``.

It prints one markdown table with medians of wall and CPU time, peak RSS (GNU time
around each run) and the ratios the issue asks for (the kubectl sequence and the passive
runs, the cases of those ratios, take turns run by run), and the API requests one passive
and one live run make (counted by a wrapper around urllib3 and the websocket client
in the tool's process; not used for the timed runs). At the end it deletes the
namespace and waits until it is gone: 5,000 Services make the node's rules huge for
everyone. The cluster part holds ``flock --lock`` (``/tmp/nd/cluster.lock``, the shared
e2e cluster's lock) itself, and releases it before the offline runs: do not wrap the
script in ``flock`` on the same file (it would wait for itself).

``--synthetic`` needs no cluster: it writes N-Service snapshots shaped like the ones
``snapshot`` writes (objects from ``tests/fixtures/cluster/healthy.yaml``, the
node's ``iptables-save`` rendered with kube-proxy's own chain names by
``tests/parsers/gen_iptables.py``) and times the offline runs only.
``--tool DIR`` times another checkout (e.g. the commit before a change), so
before and after come from the same machine and the same snapshots; on the cluster,
``--before DIR`` adds that checkout's passive and offline runs to the same table
(``--before-yaml``: its YAML snapshot and offline run too, once: a minute each), run by
``--before-python`` if given: a venv with that checkout's own dependencies, where they differ
(before 964d442 the project ran on typer 0.29, with pydantic).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

E2E_DIR = Path(__file__).resolve().parent.parent
REPO = E2E_DIR.parent
FIXTURE = REPO / "tests" / "fixtures" / "cluster" / "healthy.yaml"
NAMESPACE = "nd-scale"
TARGET = "s7"  # exists at every size (the issue timed s42 at 5,000)
BACKEND_LABELS = {"app": "scale-web"}
BACKEND_PORT = 8080
MANAGED_BY = "netdoctor-bench-scale"
VERDICT_EXITS = (0, 1, 3)
"""A diagnosis with any verdict (ok, problem, inconclusive) is a run to time; the table shows the verdict."""

# Counts the tool's API requests in its own process: REST calls through urllib3 and
# websocket upgrades (exec, port-forward). Printed to stderr as the last line.
COUNTING_WRAPPER = r"""
import atexit, sys
import urllib3.connectionpool as cp
counts = {"rest": 0, "websocket": 0}
_urlopen = cp.HTTPConnectionPool.urlopen
def urlopen(self, *a, **k):
    counts["rest"] += 1
    return _urlopen(self, *a, **k)
cp.HTTPConnectionPool.urlopen = urlopen
try:
    import websocket
    _connect = websocket.WebSocket.connect
    def connect(self, *a, **k):
        counts["websocket"] += 1
        return _connect(self, *a, **k)
    websocket.WebSocket.connect = connect
except ImportError:
    pass
atexit.register(lambda: print(f"API-REQUESTS rest={counts['rest']} websocket={counts['websocket']}", file=sys.stderr))
sys.argv = ["kubectl-netdoctor", *sys.argv[1:]]
from kubectl_netdoctor.cli import main
main()
"""


# -- running and measuring ----------------------------------------------------------

@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    """user + system time of the child: steadier than wall time on a busy machine"""
    max_rss_mb: float
    rc: int
    stdout: str
    stderr: str


TIME = "/usr/bin/time"


def run_measured(cmd: list[str] | str, cwd: Path, timeout: float = 600, shell: bool = False,
                 env: dict[str, str] | None = None) -> Run:
    """One child process: wall time, CPU time and peak RSS.

    CPU and RSS come from GNU time wrapped around the command: ``wait4`` on our own child
    would report this process's RSS for a small child (Linux carries the parent's
    high-water mark over fork and exec).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as usage_file:
        argv = [TIME, "-f", "%U %S %M", "-o", usage_file.name, *(["sh", "-c", cmd] if shell else cmd)]
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        cpu, rss_mb = 0.0, 0.0
        fields = (usage_file.read().strip().splitlines() or [""])[-1].split()  # after "Command exited with..."
        if len(fields) == 3:
            cpu, rss_mb = float(fields[0]) + float(fields[1]), int(fields[2]) / 1024
        return Run(elapsed, cpu, rss_mb, proc.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"))


@dataclass
class Case:
    name: str
    size: int
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu_seconds for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.max_rss_mb for r in self.runs)


def repeat(name: str, size: int, runs: int, do: Callable[[], Run], expect: tuple[int, ...] = (0, 1),
           warmup: bool = True) -> Case:
    """One untimed warm-up (unless ``warmup`` is False: runs of a minute), then ``runs`` timed runs of
    ``do() -> Run``; each must exit in ``expect``."""
    return repeat_interleaved([(name, do, expect)], size, runs, warmup)[0]


def repeat_interleaved(specs: list[tuple[str, Callable[[], Run], tuple[int, ...]]], size: int,
                       runs: int, warmup: bool = True) -> list[Case]:
    """:func:`repeat` for several cases at once, taking turns: a warm-up round, then ``runs`` rounds
    of one run of each. The cases compared in a ratio share the machine's moments (a kube-proxy
    resync, another VM's burst) instead of each getting its own stretch of them."""
    cases = [Case(name, size) for name, _, _ in specs]
    for i in range(runs + warmup):
        for case, (name, do, expect) in zip(cases, specs):
            run = do()
            if run.rc not in expect:
                raise SystemExit(f"{name} at N={size}: exit {run.rc}\n{run.stderr[-3000:]}\n{run.stdout[-2000:]}")
            if i or not warmup:
                case.runs.append(run)
    return cases


def tool_cmd(*args: str, python: str | None = None) -> list[str]:
    """The tool run by ``python`` (default: this interpreter) from the checkout that is the cwd."""
    return [python or sys.executable, "-m", "kubectl_netdoctor.cli", *args]


def verdict(run: Run) -> str:
    try:
        report = json.loads(run.stdout)
    except ValueError:
        return "?"
    broken = report.get("broken_step") or report.get("broken") or ""
    return f"{report.get('verdict', '?')}{', ' + broken if isinstance(broken, str) and broken else ''}"


# -- synthetic snapshots (no cluster) -----------------------------------------------

def _load_fixture() -> list[dict]:
    import yaml

    return yaml.load(FIXTURE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["items"]


def cluster_ip(i: int) -> str:
    return f"10.97.{i // 250}.{i % 250 + 1}"


def scale_objects(n: int, pod_ip: str = "10.244.0.50", node: str = "node-1") -> list[dict]:
    """What ``snapshot -n nd-scale`` saves from the benchmark's namespace with N Services, built from
    the fixture's real object shapes: the backend and client pods, N selector-less Services and
    their EndpointSlices, plus the fixture's Namespaces, Nodes and kube-system objects."""
    fixture = _load_fixture()
    web_pod = next(o for o in fixture if o["kind"] == "Pod" and o["metadata"]["name"].startswith("web-"))
    client_pod = next(o for o in fixture if o["kind"] == "Pod" and o["metadata"]["name"] == "client")
    web_svc = next(o for o in fixture if o["kind"] == "Service" and o["metadata"]["name"] == "web")
    web_slice = next(o for o in fixture if o["kind"] == "EndpointSlice" and o["metadata"]["namespace"] == "shop")
    shop_ns = next(o for o in fixture if o["kind"] == "Namespace" and o["metadata"]["name"] == "shop")

    ns = copy.deepcopy(shop_ns)
    ns["metadata"].update(name=NAMESPACE, uid=str(uuid.UUID(int=1)),
                          labels={"kubernetes.io/metadata.name": NAMESPACE})
    backend = copy.deepcopy(web_pod)
    backend["metadata"].update(name="scale-web", namespace=NAMESPACE, labels=dict(BACKEND_LABELS))
    backend["metadata"].pop("ownerReferences", None)
    backend["metadata"].pop("generateName", None)
    backend["spec"]["nodeName"] = node
    backend["status"].update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    client = copy.deepcopy(client_pod)
    client["metadata"].update(name="scale-client", namespace=NAMESPACE)
    client["spec"]["nodeName"] = node

    out: list[dict] = []
    for i in range(n):
        name = f"s{i}"
        svc = copy.deepcopy(web_svc)
        svc["metadata"] = {"creationTimestamp": web_svc["metadata"]["creationTimestamp"], "name": name,
                           "namespace": NAMESPACE, "resourceVersion": str(100000 + i),
                           "uid": str(uuid.UUID(int=(1 << 64) + i))}
        svc["spec"].pop("selector", None)
        svc["spec"].update(clusterIP=cluster_ip(i), clusterIPs=[cluster_ip(i)])
        svc["spec"]["ports"] = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": BACKEND_PORT}]
        out.append(svc)
        eps = copy.deepcopy(web_slice)
        eps["metadata"] = {"creationTimestamp": web_slice["metadata"]["creationTimestamp"], "generation": 1,
                           "labels": {"endpointslice.kubernetes.io/managed-by": MANAGED_BY,
                                      "kubernetes.io/service-name": name},
                           "name": f"{name}-1", "namespace": NAMESPACE, "resourceVersion": str(200000 + i),
                           "uid": str(uuid.UUID(int=(2 << 64) + i))}
        eps["endpoints"] = [{"addresses": [pod_ip], "conditions": {"ready": True, "serving": True,
                                                                    "terminating": False},
                             "nodeName": node, "targetRef": {"kind": "Pod", "name": "scale-web",
                                                             "namespace": NAMESPACE}}]
        eps["ports"] = [{"name": "http", "port": BACKEND_PORT, "protocol": "TCP"}]
        out.append(eps)
    out += [backend, client]
    keep = [o for o in fixture if o["kind"] in ("Namespace", "Node")
            or o["metadata"].get("namespace") == "kube-system"]
    return out + [ns] + keep


def node_capture(objs: list[dict], node: str) -> str:
    """The node's ``iptables-save`` for these Services and EndpointSlices (kube-proxy 1.34, iptables mode)."""
    sys.path.insert(0, str(REPO / "tests" / "parsers"))
    import gen_iptables as gen

    slices: dict[tuple[str, str], list[dict]] = {}
    for o in objs:
        if o["kind"] == "EndpointSlice":
            key = (o["metadata"]["namespace"], o["metadata"]["labels"]["kubernetes.io/service-name"])
            slices.setdefault(key, []).append(o)
    services = []
    for svc in (o for o in objs if o["kind"] == "Service"):
        meta, spec = svc["metadata"], svc["spec"]
        for port in spec["ports"]:
            endpoints = []
            for s in slices.get((meta["namespace"], meta["name"]), []):
                target = next((p["port"] for p in s.get("ports") or [] if p.get("name") == port.get("name")), None)
                for e in s.get("endpoints") or []:
                    if target and (e.get("conditions") or {}).get("ready"):
                        endpoints += [gen.Endpoint(a, target, e.get("nodeName", node)) for a in e["addresses"]]
            services.append(gen.GenService(meta["namespace"], meta["name"], port.get("name", ""),
                                           spec["clusterIP"], port["port"], port.get("protocol", "TCP").lower(),
                                           endpoints))
    return gen.render(services, node)


def write_synthetic(n: int, out_dir: Path) -> dict[str, Path]:
    """snap-N.json and snap-N.yaml in the shape ``snapshot`` writes (a List with NodeCapture items)."""
    import yaml

    objs = scale_objects(n)
    objs.append({"apiVersion": "netdoctor/v1", "kind": "NodeCapture", "metadata": {"name": "node-1"},
                 "data": {"iptables-save": node_capture(objs, "node-1")}})
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objs}
    paths = {"json": out_dir / f"synthetic-{n}.json", "yaml": out_dir / f"synthetic-{n}.yaml"}
    paths["json"].write_text(json.dumps(doc, indent=1) + "\n")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    paths["yaml"].write_text(yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=False))
    return paths


# -- the table ------------------------------------------------------------------------

def machine() -> str:
    mem = ""
    try:
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.node()}: {os.cpu_count()} CPU(s) {cpu}{mem}, Linux {platform.release()}, " \
           f"Python {platform.python_version()}"


def print_table(cases: list[Case], sizes: list[int], runs: int, extra: list[str]) -> None:
    small, large = sizes[0], sizes[-1]
    by = {(c.name, c.size): c for c in cases}
    names = list(dict.fromkeys(c.name for c in cases))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(f"{stamp}, {machine()}. Wall and CPU (user+system) seconds are medians of {runs} timed runs after "
          f"1 warm-up (the kubectl sequence and passive runs take turns); RSS is the largest peak of those runs.")
    print()
    print(f"| case | N={small}: wall s | CPU s | RSS MB | N={large}: wall s | CPU s | RSS MB "
          f"| N={large}/N={small} wall | CPU | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        a, b = by.get((name, small)), by.get((name, large))
        cells = []
        for c in (a, b):
            cells += [f"{c.median:.2f}", f"{c.cpu:.2f}", f"{c.rss:.0f}"] if c else ["-", "-", "-"]
        wall = f"{b.median / a.median:.2f}x" if a and b else "-"
        cpu = f"{b.cpu / a.cpu:.2f}x" if a and b and a.cpu else "-"
        notes = "; ".join(dict.fromkeys(x for x in (a.note if a else "", b.note if b else "") if x))
        print(f"| {name} | {' | '.join(cells)} | {wall} | {cpu} | {notes} |")
    seq = {s: by.get(("kubectl sequence", s)) for s in sizes}
    lines = []
    for name in names:
        if name.startswith("passive"):
            for s in sizes:
                if seq[s] and (name, s) in by:
                    lines.append(f"{name} / kubectl sequence at N={s} (wall): "
                                 f"{by[(name, s)].median / seq[s].median:.2f}x")
    for line in lines + extra:
        print()
        print(line)


# -- offline (synthetic) ------------------------------------------------------------------

def offline_cases(snapshots: dict[int, dict[str, Path]], runs: int, tool_dir: Path, label: str = "",
                  warmup: bool = True, python: str | None = None) -> list[Case]:
    cases = []
    for n, paths in snapshots.items():
        for fmt, path in paths.items():
            cmd = tool_cmd("svc", TARGET, "-n", NAMESPACE, "--snapshot", str(path), "-o", "json", python=python)
            case = repeat(f"offline{label}: `svc {TARGET} --snapshot snap.{fmt}`", n, runs,
                          lambda cmd=cmd: run_measured(cmd, tool_dir), warmup=warmup)
            case.note = f"{path.stat().st_size / 1e6:.1f} MB, verdict {verdict(case.runs[0])}"
            cases.append(case)
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,5000", help="Service counts, comma-separated (default 10,5000).")
    parser.add_argument("--runs", type=int, default=3, help="Timed runs per case, after one warm-up.")
    parser.add_argument("--out", default=None, help="Directory for the snapshots (default: a temporary one).")
    parser.add_argument("--synthetic", action="store_true", help="No cluster: generated snapshots, offline runs only.")
    parser.add_argument("--formats", default="json,yaml", help="Snapshot formats of the offline runs.")
    parser.add_argument("--tool", default=str(REPO),
                        help="Checkout whose kubectl_netdoctor is timed (default: this one).")
    parser.add_argument("--label", default="", help="Suffix for the case names (e.g. ' (before)').")
    parser.add_argument("--before", default=None,
                        help="Also time this checkout (passive and offline runs) as 'before'.")
    parser.add_argument("--before-python", default=None,
                        help="With --before: the Python that runs it, e.g. a venv with that checkout's own "
                             "dependencies installed (default: this interpreter, with this checkout's).")
    parser.add_argument("--before-yaml", action="store_true",
                        help="With --before: also its YAML snapshot and offline run at the largest size (slow: once).")
    parser.add_argument("--no-warmup", action="store_true",
                        help="--synthetic: no untimed first run (minute-long runs).")
    parser.add_argument("--lock", default="/tmp/nd/cluster.lock", help="flock held while the cluster is used.")
    parser.add_argument("--kubeconfig", default=os.environ.get("NETDOCTOR_E2E_KUBECONFIG")
                        or "/var/lib/netdoctor-e2e/admin.kubeconfig")
    args = parser.parse_args()
    if not os.path.exists(TIME):
        raise SystemExit(f"needs GNU time at {TIME} for CPU time and peak memory (apt-get install time)")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    formats = [f for f in args.formats.split(",") if f]
    out = Path(args.out or tempfile.mkdtemp(prefix="nd-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    tool_dir = Path(args.tool).resolve()
    for checkout in filter(None, (tool_dir, args.before and Path(args.before).resolve())):
        precompile(checkout)
    if args.synthetic:
        snapshots = {}
        for n in sizes:
            paths = write_synthetic(n, out)
            snapshots[n] = {f: paths[f] for f in formats}
        cases = offline_cases(snapshots, args.runs, tool_dir, args.label, warmup=not args.no_warmup)
        print_table(cases, sizes, args.runs, [f"Tool: {tool_dir} ({git_describe(tool_dir)}); synthetic snapshots "
                                              f"in {out}."])
        return 0
    return run_on_cluster(args, sizes, formats, out, tool_dir)


def precompile(checkout: Path) -> None:
    """Byte-compile the checkout's package, as ``pip install`` does for an installed one, and let the
    timed runs use those files: with PYTHONDONTWRITEBYTECODE set in this shell, every run would
    compile the package's sources again (0.1 s of each run here)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(checkout / "kubectl_netdoctor")], check=True)


def git_describe(path: Path) -> str:
    proc = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return proc.stdout.strip()[:80] or "not a git checkout"


# -- on the cluster ---------------------------------------------------------------------

class Api:
    """Raw POSTs through the official client, many at once (kubectl apply would send 10,000 requests
    one after the other)."""

    def __init__(self, kubeconfig: str):
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
        cfg.connection_pool_maxsize = 16
        self.api = client.ApiClient(cfg)

    def post(self, path: str, body: dict) -> None:
        from kubernetes.client.exceptions import ApiException

        for attempt in range(5):
            try:
                self.api.call_api(path, "POST", body=body, auth_settings=["BearerToken"],
                                  header_params={"Content-Type": "application/json", "Accept": "application/json"},
                                  _preload_content=False, _return_http_data_only=True, _request_timeout=30)
                return
            except ApiException as err:
                if err.status == 409:  # already there (a retried request that had succeeded)
                    return
                if err.status not in (429, 500, 503, 504) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))

    def post_all(self, items: list[tuple[str, dict]]) -> None:
        with ThreadPoolExecutor(16) as pool:
            for future in [pool.submit(self.post, path, body) for path, body in items]:
                future.result()


def service_manifest(i: int) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}", "namespace": NAMESPACE},
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": BACKEND_PORT}]}}


def slice_manifest(i: int, pod_ip: str, node: str) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"s{i}-1", "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": f"s{i}",
                                    "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
            "endpoints": [{"addresses": [pod_ip], "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": node,
                           "targetRef": {"kind": "Pod", "name": "scale-web", "namespace": NAMESPACE}}],
            "ports": [{"name": "http", "port": BACKEND_PORT, "protocol": "TCP"}]}


def pods_manifest(images: dict[str, str]) -> str:
    backend = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "scale-web", "labels": dict(BACKEND_LABELS)},
               "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                   "name": "app", "image": images["HTTPAPP_IMAGE"],
                   "ports": [{"name": "http", "containerPort": BACKEND_PORT}],
                   "readinessProbe": {"httpGet": {"path": "/healthz", "port": BACKEND_PORT}, "periodSeconds": 1}}]}}
    client = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "scale-client", "labels": {"app": "scale-client"}},
              "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                  "name": "toolbox", "image": images["TOOLBOX_IMAGE"], "command": ["sleep", "infinity"]}]}}
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [backend, client]})


SETTLE_WINDOW_S = 5.0
SETTLE_BUSY = 0.25
SETTLE_MAX_S = 300.0


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat (iowait counts as idle)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def settle() -> tuple[float, float]:
    """Wait until the node is quiet again: after thousands of new Services, kube-proxy's full resyncs
    and the controllers keep this single node's CPUs busy for a minute or two, and those CPUs are the
    ones the timed runs use (on a real cluster the control plane is not on the operator's laptop).
    Returns (seconds waited, busy share of the last window); gives up after SETTLE_MAX_S."""
    start = time.monotonic()
    while True:
        b0, t0 = _cpu_times()
        time.sleep(SETTLE_WINDOW_S)
        b1, t1 = _cpu_times()
        busy = (b1 - b0) / max(1, t1 - t0)
        if busy <= SETTLE_BUSY or time.monotonic() - start > SETTLE_MAX_S:
            return time.monotonic() - start, busy


def kubectl_sequence(kubectl: str, kubeconfig: str, ip: str, kube_proxy_pod: str, mode: str) -> str:
    """The seeds' seven key commands (section 10 of 000_*.txt) for Service TARGET, as one shell script."""
    k = f"{kubectl} --kubeconfig {kubeconfig}"
    rules = (f"{k} -n kube-system exec {kube_proxy_pod} -- nft list map ip kube-proxy service-ips | grep -F {ip}"
             if mode == "nftables" else
             f"{k} -n kube-system exec {kube_proxy_pod} -- iptables -t nat -L KUBE-SERVICES -n -v | grep -F {ip}")
    return "{ " + "; ".join([
        f"{k} -n {NAMESPACE} get svc {TARGET}",
        f"{k} -n {NAMESPACE} get endpointslice -l kubernetes.io/service-name={TARGET}",
        f"{k} -n {NAMESPACE} get pod -l app=scale-web -o wide",
        f"{k} -n {NAMESPACE} exec scale-web -- netstat -lnt",
        rules,
        f"{k} -n {NAMESPACE} exec scale-client -- nslookup {TARGET}.{NAMESPACE}.svc.cluster.local",
        f"{k} get netpol -A",
    ]) + "; } >/dev/null"


def api_requests(cmd: list[str], tool_dir: Path) -> str:
    """REST requests and websocket upgrades of one run, counted inside the tool's process."""
    run = run_measured([cmd[0], "-c", COUNTING_WRAPPER, *cmd[3:]], tool_dir)
    line = next((x for x in run.stderr.splitlines() if x.startswith("API-REQUESTS ")), "")
    return line.removeprefix("API-REQUESTS ").replace("rest=", "").replace(" websocket=", " REST + ") + " exec" \
        if line else "?"


def run_on_cluster(args, sizes: list[int], formats: list[str], out: Path, tool_dir: Path) -> int:
    import fcntl

    sys.path.insert(0, str(E2E_DIR / "lib"))
    from harness import IMAGES, Kubectl, _find_kubectl, system_pod, wait_for

    if not Path(args.kubeconfig).exists():
        raise SystemExit(f"no kubeconfig at {args.kubeconfig}: run e2e/cluster/up or pass --kubeconfig")
    kubectl_bin = _find_kubectl()
    kubectl = Kubectl(kubectl_bin, args.kubeconfig)
    before = Path(args.before).resolve() if args.before else None
    before_python = args.before_python or sys.executable
    cases: list[Case] = []
    extra: list[str] = []
    snapshots: dict[int, dict[str, Path]] = {}
    Path(args.lock).parent.mkdir(parents=True, exist_ok=True)
    lock = open(args.lock, "w")
    print(f"waiting for {args.lock} ...", file=sys.stderr)
    fcntl.flock(lock, fcntl.LOCK_EX)
    locked_at = time.monotonic()
    try:
        nodes = kubectl.json("get", "nodes")["items"]
        version = kubectl.json("version")["serverVersion"]["gitVersion"]
        cm = kubectl.json("-n", "kube-system", "get", "configmap", "kube-proxy")
        import yaml
        mode = (yaml.safe_load(cm["data"].get("config.conf", "")) or {}).get("mode") or "iptables"
        proxies = [p for p in kubectl.json("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-proxy")["items"]
                   if p["status"].get("phase") == "Running"]
        if not proxies:
            raise SystemExit("no running kube-proxy pod")
        kube_proxy_pod = system_pod(kubectl, "k8s-app=kube-proxy")  # never the second node's
        extra.append(f"Cluster: {len(nodes)} node(s), Kubernetes {version}, kube-proxy in {mode} mode. "
                     f"Tool: {tool_dir} ({git_describe(tool_dir)})"
                     + (f"; before: {before} ({git_describe(before)}, run by {before_python})" if before else "") + ".")
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s",
                timeout=150, check=False)
        kubectl("create", "namespace", NAMESPACE)
        wait_for(lambda: kubectl("-n", NAMESPACE, "get", "serviceaccount", "default", check=False).returncode == 0,
                 30, what="default ServiceAccount")
        kubectl.apply(pods_manifest(IMAGES), NAMESPACE)
        kubectl.wait_pods_ready(NAMESPACE, "app in (scale-web,scale-client)", timeout=90)
        web = kubectl.json("-n", NAMESPACE, "get", "pod", "scale-web")
        pod_ip, node = web["status"]["podIP"], web["spec"]["nodeName"]
        api = Api(args.kubeconfig)
        created = 0
        for n in sizes:
            start = time.perf_counter()
            api.post_all([(f"/api/v1/namespaces/{NAMESPACE}/services", service_manifest(i)) for i in range(created, n)])
            api.post_all([(f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices",
                           slice_manifest(i, pod_ip, node)) for i in range(created, n)])
            made = time.perf_counter() - start
            created = n
            last = f"{NAMESPACE}/s{n - 1}"
            entries = ("nft list map ip kube-proxy service-ips" if mode == "nftables"
                       else "iptables -t nat -S KUBE-SERVICES")
            wait_for(lambda entries=entries, last=last: int(
                         kubectl("-n", "kube-system", "exec", kube_proxy_pod, "--", "sh", "-c",
                                 f"{entries} | grep -c -F -e '{last}:' -e '{last}/'", check=False,
                                 timeout=60).stdout.strip() or "0") > 0,
                     180, interval=1, what=f"kube-proxy rules for {last}")
            synced = time.perf_counter() - start
            settled, busy = settle()
            extra.append(f"N={n}: Services and EndpointSlices created in {made:.1f} s; kube-proxy's rules for the "
                         f"last one on the node after {synced:.1f} s; timed once the node's CPUs were "
                         f"{busy:.0%} busy over {SETTLE_WINDOW_S:g} s ({settled:.0f} s later).")
            ip = kubectl.json("-n", NAMESPACE, "get", "svc", TARGET)["spec"]["clusterIP"]
            kc = ["--kubeconfig", args.kubeconfig]
            seq = kubectl_sequence(kubectl_bin, args.kubeconfig, ip, kube_proxy_pod, mode)
            passive = tool_cmd("svc", TARGET, "-n", NAMESPACE, "--read-only", "-o", "json", *kc)
            specs = [("kubectl sequence", lambda seq=seq: run_measured(seq, tool_dir, shell=True), (0, 1))]
            notes = [None]
            for label, where, python in [("", tool_dir, sys.executable)] + (
                    [(" (before)", before, before_python)] if before else []):
                cmd = [python, *passive[1:]]
                specs.append((f"passive{label}: `svc {TARGET} --read-only`",
                              lambda where=where, cmd=cmd: run_measured(cmd, where), VERDICT_EXITS))
                notes.append((cmd, where))
            for case, note in zip(repeat_interleaved(specs, n, args.runs), notes):  # their ratios are the goal
                if note:
                    case.note = f"verdict {verdict(case.runs[0])}, API: {api_requests(*note)}"
                cases.append(case)
            live = tool_cmd("svc", TARGET, "-n", NAMESPACE, "-o", "json", "--probe-image", IMAGES["TOOLBOX_IMAGE"], *kc)
            case = repeat(f"live: `svc {TARGET}`", n, args.runs, lambda live=live: run_measured(live, tool_dir),
                          expect=VERDICT_EXITS)
            case.note = f"verdict {verdict(case.runs[0])}, API: {api_requests(live, tool_dir)}"
            cases.append(case)
            snapshots[n] = {}
            for fmt in formats:
                path = out / f"snap-{n}.{fmt}"
                cmd = tool_cmd("snapshot", "-n", NAMESPACE, "-o", str(path), *kc)
                case = repeat(f"snapshot: `snapshot -n {NAMESPACE} -o snap.{fmt}`", n,
                              args.runs if fmt == "json" else 1, lambda cmd=cmd: run_measured(cmd, tool_dir),
                              expect=(0,))
                case.note = f"{path.stat().st_size / 1e6:.1f} MB"
                cases.append(case)
                snapshots[n][fmt] = path
                if before and args.before_yaml and fmt == "yaml" and n == sizes[-1]:
                    bpath = out / f"snap-{n}-before.{fmt}"
                    bcmd = tool_cmd("snapshot", "-n", NAMESPACE, "-o", str(bpath), *kc, python=before_python)
                    case = repeat(f"snapshot (before): `snapshot -n {NAMESPACE} -o snap.{fmt}`", n, 1,
                                  lambda bcmd=bcmd: run_measured(bcmd, before), expect=(0,), warmup=False)
                    case.note = f"{bpath.stat().st_size / 1e6:.1f} MB"
                    cases.append(case)
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s",
                timeout=200, check=False)
        gone = kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
        fcntl.flock(lock, fcntl.LOCK_UN)
        print(f"cluster lock held {time.monotonic() - locked_at:.0f} s; namespace {NAMESPACE} "
              f"{'deleted' if gone else 'STILL TERMINATING'}", file=sys.stderr)
    # The offline runs need no cluster: measured after the lock is released, once the node is quiet
    # again (deleting 5,000 Services keeps kube-proxy and the controllers busy for a while).
    settled, busy = settle()
    extra.append(f"Offline runs: timed once the node's CPUs were {busy:.0%} busy over {SETTLE_WINDOW_S:g} s "
                 f"({settled:.0f} s after the namespace was deleted).")
    cases += offline_cases(snapshots, args.runs, tool_dir)
    if before:
        cases += offline_cases({n: {"json": p["json"]} for n, p in snapshots.items() if "json" in p},
                               args.runs, before, " (before)", python=before_python)
        if args.before_yaml and "yaml" in snapshots[sizes[-1]]:  # a minute a run before libyaml: once
            cases += offline_cases({sizes[-1]: {"yaml": snapshots[sizes[-1]]["yaml"]}}, 1, before, " (before)",
                                   warmup=False, python=before_python)
    print_table(cases, sizes, args.runs, extra + [f"Snapshots in {out}."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
