"""The fault catalogue as data (``e2e/scenarios/<name>/``), and the runner that plays one.

Shared by the suite (``e2e/suite/test_scenarios.py`` asserts on what a run saw) and the
scripts (``e2e/scripts/make_examples.py`` deploys and breaks scenarios to snapshot them).

A scenario names what it diagnoses with exactly one of ``service: NAME`` (``kubectl netdoctor
svc NAME -n NS``), ``ingress: NAME`` (``ingress NAME -n NS``), ``route: NAME`` (``route NAME -n
NS``, an HTTPRoute) or ``url: URL`` (``url URL``, every namespace, as a user types it); ``args:``
adds arguments. ``${NS}`` and ``${OTHER_NS}`` in the manifests, the URL and ``args:`` are the
scenario's namespaces (Traefik's routing table is cluster-wide: a host such as
``shop.${NS}.test`` is the scenario's own). ``other_namespace: true`` creates a second namespace
of its own, ``${OTHER_NS}`` (the client's, with ``client: other-namespace``), into which
``manifests-other.yaml`` is applied, if there is one.

A scenario's ``scenario.yaml`` is checked when it is loaded (:func:`load`): unknown keys,
wrong types and an unknown ``expect.verdict`` are refused, and so is a scenario that reaches
beyond its own namespaces without saying ``shared: true``: a ``break:`` or ``restore:``
command that is not all ``kubectl -n ${NS}`` (or ``${OTHER_NS}``), or a manifest with a
cluster-scoped object (an IngressClass or GatewayClass too), an object in another namespace
or a hostNetwork pod. A shared scenario breaks or takes
something every other scenario depends on (kube-system's CoreDNS, kube-proxy or
kube-router, the Node list, the node's own ports), so it runs alone; all others may run at
once, each in namespaces of its own (:func:`run_concurrently`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import yaml
from harness import E2E_DIR, RESULTS_DIR, Cluster, Kubectl, create_namespace, delete_namespace, wait_for

SCENARIOS_DIR = E2E_DIR / "scenarios"
REPO = E2E_DIR.parent
PROBE_LABEL = "app.kubernetes.io/managed-by=kubectl-netdoctor"

VERDICT_EXIT = {"ok": 0, "problem": 1, "inconclusive": 3}
CLIENTS = ("namespace", "other-namespace", "external", "pod:self")
WAITS = ("ready", "running")
POD_SECURITY = ("restricted", "baseline", "privileged")

_STR_LIST = "a list of strings"
_STR_MAP = "a mapping of strings to strings"
#: key -> (required, kind) of scenario.yaml and of its ``expect:``.
SPEC_KEYS: dict[str, tuple[bool, str]] = {
    "description": (True, "string"),
    "service": (False, "string"),       # exactly one of service, ingress, route, url (TARGET_KEYS)
    "ingress": (False, "string"),
    "route": (False, "string"),
    "url": (False, "string"),
    "other_namespace": (False, "boolean"),  # a second namespace of its own, ${OTHER_NS}
    "client": (False, "string"),        # CLIENTS, or pod:NAME
    "wait": (False, "string"),          # WAITS
    "pod_security": (False, "string"),  # POD_SECURITY; default restricted
    "break": (False, _STR_LIST),        # bash commands, after the pods are up ($NS, $SCENARIO, ${IMAGE}s)
    "restore": (False, _STR_LIST),      # bash commands, always run at the end
    "args": (False, _STR_LIST),         # more arguments of the command (`kubectl netdoctor svc` ...)
    "clean": (False, "boolean"),        # nothing above info may be reported
    "shared": (False, "boolean"),       # breaks a shared component: runs alone
    "expect": (True, "mapping"),
}
EXPECT_KEYS: dict[str, tuple[bool, str]] = {
    "verdict": (True, "string"),
    "broken_step": (True, "string or null"),
    "cause": (False, "string"),             # the code of the report's cause (the headline)
    "codes": (True, _STR_LIST),
    "message_contains": (False, _STR_MAP),
    "fix_contains": (False, _STR_MAP),
    "skip_contains": (False, _STR_MAP),
    "verified": (False, _STR_MAP),
}

#: The key that names the target, and the command it runs.
TARGET_KEYS = {"service": "svc", "ingress": "ingress", "route": "route", "url": "url"}
#: Cluster-scoped kinds a scenario's manifests may carry only when it is shared (besides Node, Namespace
#: and Cluster*): the Ingress and Gateway API classes, which every scenario's controller reads.
CLUSTER_KINDS = ("IngressClass", "GatewayClass")

#: ``kubectl`` as a word in a shell command, and ``kubectl -n ${NS}`` (or ``$NS``, ``${OTHER_NS}``).
_KUBECTL = re.compile(r"(?<![\w/.-])kubectl(?![\w.-])")
_KUBECTL_IN_NS = re.compile(r"(?<![\w/.-])kubectl\s+(?:-n|--namespace)[ =]"
                            r"(?:\$\{NS\}|\$NS|\$\{OTHER_NS\}|\$OTHER_NS)(?![\w])")


class ScenarioError(ValueError):
    """A scenario.yaml that does not say what the runner needs, or says it wrongly."""


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str) and bool(value)
    if kind == "string or null":
        return value is None or (isinstance(value, str) and bool(value))
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "mapping":
        return isinstance(value, dict)
    if kind == _STR_LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == _STR_MAP:
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    raise AssertionError(kind)


def _check_keys(where: str, data: dict, keys: dict[str, tuple[bool, str]]) -> list[str]:
    errors = [f"{where}: unknown key {k!r} (known: {', '.join(keys)})" for k in data if k not in keys]
    for key, (required, kind) in keys.items():
        if key not in data:
            if required:
                errors.append(f"{where}: {key!r} is required")
        elif not _kind_ok(data[key], kind):
            errors.append(f"{where}: {key!r} must be {kind}, not {data[key]!r}")
    return errors


def reaches_outside(command: str) -> bool:
    """A break/restore command may change something outside the scenario's namespaces: it runs
    no ``kubectl`` at all (a host command), or one that is not ``kubectl -n ${NS}`` (or ``${OTHER_NS}``)."""
    total = len(_KUBECTL.findall(command))
    return total == 0 or len(_KUBECTL_IN_NS.findall(command)) < total


def objects_outside(text: str) -> list[str]:
    """``Kind/name`` of the objects in a manifest file that would reach beyond the namespace it is
    applied to: a Node, a Namespace, a Cluster* kind, one that names its own namespace, or a pod
    (template) with ``hostNetwork: true``, which lives in the node's network namespace, next to
    kube-proxy, kube-router and every other hostNetwork pod."""
    found = []
    for doc in yaml.safe_load_all(text):
        for obj in (doc or {}).get("items", [doc]) if isinstance(doc, dict) else []:
            kind, meta = obj.get("kind", ""), obj.get("metadata") or {}
            spec = obj.get("spec") or {}
            pod_spec = ((spec.get("template") or {}).get("spec") or {}) if kind != "Pod" else spec
            if (kind in ("Node", "Namespace", *CLUSTER_KINDS) or kind.startswith("Cluster") or meta.get("namespace")
                    or pod_spec.get("hostNetwork")):
                found.append(f"{kind}/{meta.get('name', '?')}")
    return found


def validate(name: str, spec: Any) -> dict:
    """``spec`` if it is a valid scenario, else :class:`ScenarioError` listing every problem."""
    where = f"e2e/scenarios/{name}/scenario.yaml"
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: not a mapping")
    errors = _check_keys(where, spec, SPEC_KEYS)
    if isinstance(spec.get("expect"), dict):
        errors += _check_keys(f"{where} expect", spec["expect"], EXPECT_KEYS)
        verdict = spec["expect"].get("verdict")
        if verdict is not None and verdict not in VERDICT_EXIT:
            errors.append(f"{where}: expect.verdict must be one of {', '.join(VERDICT_EXIT)}, not {verdict!r}")
    targets = [k for k in TARGET_KEYS if k in spec]
    if len(targets) != 1:
        errors.append(f"{where}: name exactly one target: {' or '.join(TARGET_KEYS)} (found "
                      f"{', '.join(targets) or 'none'})")
    client = spec.get("client", "namespace")
    if isinstance(client, str) and client not in CLIENTS and not (client.startswith("pod:") and client[4:]):
        errors.append(f"{where}: client must be one of {', '.join(CLIENTS)} or pod:NAME, not {client!r}")
    if spec.get("wait", "ready") not in WAITS:
        errors.append(f"{where}: wait must be one of {', '.join(WAITS)}, not {spec.get('wait')!r}")
    if spec.get("pod_security", "restricted") not in POD_SECURITY:
        errors.append(f"{where}: pod_security must be one of {', '.join(POD_SECURITY)}, not {spec.get('pod_security')!r}")
    if not spec.get("shared") and not errors:
        outside = [c for c in spec.get("break", []) + spec.get("restore", []) if reaches_outside(c)]
        if outside:
            errors.append(f"{where}: these commands may change more than the scenario's namespace (not every "
                          f"kubectl in them is `kubectl -n ${{NS}}`), so the scenario must say `shared: true` "
                          f"to run alone: {outside}")
    manifest_file = SCENARIOS_DIR / name / "manifests.yaml"
    other_file = SCENARIOS_DIR / name / OTHER_MANIFESTS
    if not manifest_file.is_file():
        errors.append(f"e2e/scenarios/{name}/manifests.yaml is missing")
    if other_file.is_file() and not has_other_namespace(spec):
        errors.append(f"e2e/scenarios/{name}/{OTHER_MANIFESTS} needs `other_namespace: true` (or "
                      f"`client: other-namespace`): it is applied into that namespace")
    if not spec.get("shared"):
        for f in (manifest_file, other_file):
            outside = objects_outside(f.read_text()) if f.is_file() else []
            if outside:
                errors.append(f"e2e/scenarios/{name}/{f.name}: {', '.join(outside)} reach beyond the scenario's "
                              f"namespace (cluster-scoped, another namespace, or hostNetwork), so the scenario must "
                              f"say `shared: true` to run alone")
    if errors:
        raise ScenarioError("\n".join(errors))
    return spec


OTHER_MANIFESTS = "manifests-other.yaml"


def has_other_namespace(spec: dict) -> bool:
    """The scenario plays in a second namespace of its own (``${OTHER_NS}``)."""
    return bool(spec.get("other_namespace")) or spec.get("client") == "other-namespace"


def command(spec: dict) -> tuple[str, str]:
    """The subcommand and its argument: (``svc``, the Service), (``url``, the URL) ..."""
    key = next(k for k in TARGET_KEYS if k in spec)
    return TARGET_KEYS[key], spec[key]


def load(name: str) -> dict:
    """The validated ``scenario.yaml`` of ``e2e/scenarios/<name>/``."""
    return validate(name, yaml.safe_load((SCENARIOS_DIR / name / "scenario.yaml").read_text()))


def names() -> list[str]:
    return sorted(p.name for p in SCENARIOS_DIR.iterdir() if (p / "scenario.yaml").exists())


def is_shared(name: str) -> bool:
    return bool(load(name).get("shared"))


def ordered() -> list[str]:
    """Every scenario, the ones that may run at once first, then the shared ones (which run
    alone, after the others, so no other scenario ever sees their damage)."""
    return sorted(names(), key=is_shared)


def manifests(name: str, images: dict[str, str], file: str = "manifests.yaml") -> str:
    """A manifest file of the scenario with its ``${...}`` filled in (images, and ``NS`` and ``OTHER_NS`` when
    ``images`` carries them)."""
    return Template((SCENARIOS_DIR / name / file).read_text()).substitute(images)


def shell(kubectl: Kubectl, command: str, env: dict[str, str], timeout: float = 180) -> None:
    """A scenario's break/restore command, with this cluster's kubectl first on PATH."""
    kubectl_dir = str(Path(kubectl.binary).parent)
    full_env = {**os.environ, **env, "KUBECONFIG": kubectl.kubeconfig,
                "PATH": f"{kubectl_dir}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{command!r} failed: {proc.stderr or proc.stdout}"


def wait_pods(kubectl: Kubectl, namespace: str, want: str) -> None:
    """Every pod in ``namespace`` Running (``want="running"``), or Ready and listed by its Services'
    EndpointSlices (``"ready"``). Polled in-process once a second (:meth:`Kubectl.get`). Right after
    ``kubectl apply`` a Deployment has no pod yet: its pods are waited for once it has created them all."""
    def settled() -> bool:
        if not deployments_created_pods(kubectl, namespace):
            return False
        pods = kubectl.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
        if not pods:
            return True
        for p in pods:
            status = p.get("status", {})
            if want == "ready":
                conds = {c["type"]: c["status"] for c in status.get("conditions", [])}
                if conds.get("Ready") != "True":
                    return False
            elif status.get("phase") != "Running":
                return False
        return True
    wait_for(settled, 120, interval=1, what=f"pods {want} in {namespace}")
    if want == "ready":
        wait_for(lambda: endpoints_caught_up(kubectl, namespace), 60, interval=1,
                 what=f"EndpointSlices in {namespace} list every Ready pod")


def deployments_created_pods(kubectl: Kubectl, namespace: str) -> bool:
    """Every Deployment in ``namespace`` has seen its spec and has as many pods as it wants (a namespace with
    no pods is otherwise "settled" the moment its manifests are applied, before any pod exists)."""
    for d in kubectl.get(f"/apis/apps/v1/namespaces/{namespace}/deployments")["items"]:
        status = d.get("status") or {}
        if status.get("observedGeneration", 0) < d["metadata"].get("generation", 1) \
                or status.get("replicas", 0) < (d.get("spec") or {}).get("replicas", 1):
            return False
    return True


def endpoints_caught_up(kubectl: Kubectl, namespace: str) -> bool:
    """Every Ready pod a Service selects is a ready address of its EndpointSlices: the controller lags
    the pod's Ready condition by a moment, and a diagnosis in that moment rightly sees no endpoint."""
    services = kubectl.get(f"/api/v1/namespaces/{namespace}/services")["items"]
    pods = kubectl.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
    slices = kubectl.get(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices")["items"]
    for svc in services:
        selector = (svc.get("spec") or {}).get("selector")
        if not selector or svc["spec"].get("type") == "ExternalName":
            continue
        want = {p["status"].get("podIP") for p in pods
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))}
        name = svc["metadata"]["name"]
        ready = {a for sl in slices if (sl["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
                 for e in sl.get("endpoints") or []
                 if (e.get("conditions") or {}).get("ready") for a in e.get("addresses", [])}
        if not want <= ready:
            return False
    return True


def proxy_mode(kubectl: Kubectl) -> str:
    """kube-proxy's mode on the cluster under test (``KUBE_PROXY_MODE`` of e2e/cluster/up)."""
    cm = kubectl.json("-n", "kube-system", "get", "configmap", "kube-proxy")
    conf = yaml.safe_load(cm["data"]["config.conf"]) or {}
    return conf.get("mode") or "iptables"


def client_args(kubectl: Kubectl, spec: dict, namespace: str, client_ns: str | None) -> list[str]:
    client = spec.get("client", "namespace")
    if client == "pod:self":  # hairpin: the server pod calls its own Service
        pod = kubectl.json("-n", namespace, "get", "pods", "-l", "app=web")["items"][0]
        return ["--from-pod", f"{namespace}/{pod['metadata']['name']}"]
    if client.startswith("pod:"):
        return ["--from-pod", f"{namespace}/{client[4:]}"]
    if client == "other-namespace":
        return ["--from-namespace", client_ns or ""]
    if client == "external":
        return ["--external"]
    return []


def live_probe_pods(kubectl: Kubectl, namespaces: Iterable[str] | None = None) -> list[str]:
    """``NS/NAME`` of the tool's probe pods not being deleted, in ``namespaces`` (None: all)."""
    paths = ["/api/v1/pods"] if namespaces is None else [f"/api/v1/namespaces/{ns}/pods" for ns in namespaces]
    left = [p for path in paths for p in kubectl.get(path, labelSelector=PROBE_LABEL)["items"]]
    return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in left
            if not p["metadata"].get("deletionTimestamp")]


@dataclass
class Outcome:
    """What one play of a scenario saw; the suite asserts on it."""

    name: str
    spec: dict
    #: False: played alone (a shared scenario, or one worker).
    concurrent: bool = False
    #: The tool's JSON report (None: it never printed one).
    report: dict | None = None
    proc: subprocess.CompletedProcess[str] | None = None
    #: The namespaces it was played in (its own, and its client's).
    namespaces: list[str] = field(default_factory=list)
    #: Wall time of the one ``kubectl netdoctor`` run.
    seconds: float = 0.0
    #: Probe pods of the tool still alive in the scenario's namespaces right after it exited.
    probes_left: list[str] = field(default_factory=list)
    #: Probe pods alive anywhere but in the other scenarios' namespaces once every scenario played
    #: with it had ended (filled by the caller).
    probes_left_cluster: list[str] = field(default_factory=list)
    #: Deploying, breaking, running or restoring failed (re-raised by the test).
    error: BaseException | None = None
    #: Wall time of each phase of the play: deploy (namespaces, manifests, pods settled), break,
    #: run (the tool), restore (and the namespaces' deletion, not waited for).
    phases: dict[str, float] = field(default_factory=dict)


def run_tool(kubectl: Kubectl, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "kubectl_netdoctor.cli", *args, "--kubeconfig", kubectl.kubeconfig]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def play(cluster: Cluster, name: str, concurrent: bool = False) -> Outcome:
    """Deploy scenario ``name`` into a fresh namespace (Pod Security "restricted" unless it says
    otherwise), break what it says, run ``kubectl netdoctor svc ... -o json`` (``url``, ``ingress``,
    ``route``: :func:`command`) as a user would,
    restore, delete its namespaces, and record the result. Never raises: a failure is kept in
    :attr:`Outcome.error`, so that one scenario's failure never stops the others."""
    spec = load(name)
    kubectl = cluster.kubectl
    out = Outcome(name, spec, concurrent=concurrent)
    verb, target = command(spec)
    clock = [time.monotonic()]

    def phase(label: str) -> None:
        now = time.monotonic()
        out.phases[label] = round(now - clock[0], 1)
        clock[0] = now
    namespaces = out.namespaces
    env: dict[str, str] = {**cluster.images, "SCENARIO": str(SCENARIOS_DIR / name), "PYTHON": sys.executable,
                           "E2E_LIB": str(Path(__file__).resolve().parent)}
    try:
        namespace = create_namespace(kubectl, name)
        namespaces.append(namespace)
        env["NS"] = namespace
        kubectl("label", "namespace", namespace,
                f"pod-security.kubernetes.io/enforce={spec.get('pod_security', 'restricted')}")
        client_ns = None
        if has_other_namespace(spec):
            client_ns = create_namespace(kubectl, f"{name}-{'client' if spec.get('client') == 'other-namespace' else 'other'}")
            namespaces.append(client_ns)
            env["OTHER_NS"] = client_ns
            if spec.get("other_namespace"):  # it holds workloads of the scenario: the same Pod Security
                kubectl("label", "namespace", client_ns,
                        f"pod-security.kubernetes.io/enforce={spec.get('pod_security', 'restricted')}")
        values = {**cluster.images, **{k: env[k] for k in ("NS", "OTHER_NS") if k in env}}
        kubectl.apply(manifests(name, values), namespace)
        if client_ns is not None and (SCENARIOS_DIR / name / OTHER_MANIFESTS).is_file():
            kubectl.apply(manifests(name, values, OTHER_MANIFESTS), client_ns)
            wait_pods(kubectl, client_ns, spec.get("wait", "ready"))
        wait_pods(kubectl, namespace, spec.get("wait", "ready"))
        phase("deploy")
        for line in spec.get("break", []):
            shell(kubectl, Template(line).safe_substitute(env), env)
        phase("break")
        where = [] if verb == "url" else ["-n", namespace]  # a URL is looked for in every namespace, as typed
        args = [verb, Template(target).substitute(values), *where, "-o", "json",
                "--probe-image", cluster.images["TOOLBOX_IMAGE"], *client_args(kubectl, spec, namespace, client_ns),
                *(Template(a).substitute(values) for a in spec.get("args", []))]
        t0 = time.monotonic()
        out.proc = run_tool(kubectl, *args)
        out.seconds = time.monotonic() - t0
        phase("run")
        out.probes_left = live_probe_pods(kubectl, namespaces)
        assert out.proc.stdout, f"no report; exit {out.proc.returncode}; stderr: {out.proc.stderr}"
        out.report = json.loads(out.proc.stdout)
    except BaseException as exc:  # noqa: BLE001 - kept for the test, which re-raises it
        out.error = exc
    finally:
        for line in spec.get("restore", []):
            try:
                shell(kubectl, Template(line).safe_substitute(env), env)
            except BaseException as exc:  # noqa: BLE001 - a failed restore fails the scenario too
                if out.error is None:
                    out.error = exc
        for ns in namespaces:
            delete_namespace(kubectl, ns)
        phase("restore")
        record(out)
    return out


def run_concurrently(cluster: Cluster, selected: Iterable[str], workers: int) -> dict[str, Outcome]:
    """Play every non-shared scenario of ``selected`` with up to ``workers`` at once; then note the
    probe pods left anywhere in the cluster (nothing else runs by then). Shared ones are refused:
    they must be played alone, with :func:`play`."""
    chosen = list(selected)
    shared = [n for n in chosen if is_shared(n)]
    if shared:
        raise ValueError(f"shared scenarios must run alone, not in the concurrent batch: {shared}")
    if not chosen:
        return {}
    workers = max(1, min(workers, len(chosen)))
    lock = threading.Lock()
    done: dict[str, Outcome] = {}

    def one(name: str) -> None:
        outcome = play(cluster, name, concurrent=workers > 1)
        with lock:
            done[name] = outcome

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scenario") as pool:
        futures = [pool.submit(one, n) for n in chosen]
        try:
            for f in futures:
                f.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: start no more; the running ones restore
            raise
    left = live_probe_pods(cluster.kubectl)
    for outcome in done.values():
        others = {ns for o in done.values() if o is not outcome for ns in o.namespaces}
        outcome.probes_left_cluster = [p for p in left if p.split("/", 1)[0] not in others]
    return done


def record(outcome: Outcome) -> None:
    """``e2e/results/<name>.json`` (``$NETDOCTOR_E2E_RESULTS``) for the README's table: written for
    every play, a failed one too (verdict null, its error), by one write and a rename, so a reader
    never sees half a file and a failed run never leaves the last run's result standing."""
    try:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    report = outcome.report or {}
    findings = [f for s in report.get("steps", []) for f in s["findings"]]
    verb, target = command(outcome.spec)
    # a Service's report names it under "service", another kind's under "target" (netdoctor/v1)
    named = report.get("target") or ({"kind": "Service", **report["service"]} if report.get("service") else None)
    data = {
        "scenario": outcome.name, "description": outcome.spec["description"], "expected": outcome.spec["expect"],
        "command": f"{verb} {target}", "target": named,
        "verdict": report.get("verdict"), "broken_step": report.get("broken_step"),
        "cause": (report.get("cause") or {}).get("code"),
        "codes": sorted({f["code"] for f in findings}),
        "alerts": sorted({f["code"] for f in findings if f["severity"] != "info"}),
        "exit_code": outcome.proc.returncode if outcome.proc else None,
        "seconds": round(outcome.seconds, 1), "concurrent": outcome.concurrent, "phases": outcome.phases,
    }
    if outcome.error is not None:
        data["error"] = f"{type(outcome.error).__name__}: {outcome.error}"[:2000]
    path = RESULTS_DIR / f"{outcome.name}.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
