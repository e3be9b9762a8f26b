"""No probe object outlives its run.

1. ``test_interrupted_runs_leave_no_probe``: 100 live runs (``NETDOCTOR_E2E_LEAK_RUNS``),
   several at once, each interrupted with SIGINT or SIGTERM at a random moment of one of
   its phases, then no probe object may be left: no pod with the tool's label, no
   ephemeral container of the tool still running, but for the ``--from-pod`` probe
   container left idle for the next run to reuse, and only while every lease it holds
   ends within ``LINGER_S`` (docs/probes.md). A quarter of the runs probe from a client
   pod (``--from-pod``: an ephemeral container), the rest create a probe pod.

   The phase a signal hit is read from the cluster, not from the tool: a watch on each
   client namespace records when the run's probe object appeared, when its container ran,
   and when it was being removed, and the signal's time falls in one of

   * ``creating``: the probe object does not exist yet (start-up, reads, the create request);
   * ``waiting``: it exists, its container is not running yet (the tool waits for it);
   * ``probing``: its container runs (the probes execute);
   * ``cleanup``: the tool was already removing it at the end of the run.

   Each run is aimed at one phase (created -> random delay, seen -> random delay, running
   -> random delay, the delays scaled by what earlier runs took); where it really landed
   is what is counted. Figures go to ``e2e/results/leak-test.json``.

2. ``test_cleanup_deletes_sigkill_leftovers``: ``kubectl netdoctor cleanup`` deletes a
   SIGKILL leftover pod (and only the tool's pods), tells a leftover ephemeral container
   to exit, and says what it did; ``--dry-run`` changes nothing.

3. SIGKILL cannot be cleaned up in-process. ``test_sigkill_leftover_ended_by_its_deadline``
   shows that the probe pod of a run killed mid-probe ends by itself through its
   ``activeDeadlineSeconds`` (the tool's real one: it has no option to shorten it), phase
   Failed, reason DeadlineExceeded, its container killed. That run is started by a
   module fixture before the other tests, so the wait overlaps them; the ended pod is
   then removed by ``cleanup`` too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from harness import (
    RESULTS_DIR,
    TOOLBOX_IMAGE,
    Cluster,
    Kubectl,
    create_namespace,
    delete_namespace,
    deploy_tarpit,
    netdoctor_cmd,
    toolbox_pod_manifest,
    wait_for,
    with_default_sigint,
)

from kubectl_netdoctor.cluster import ephemeral

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PROBE_LABEL = "app.kubernetes.io/managed-by=kubectl-netdoctor"
PROBE_PREFIX = "netdoctor-probe-"
TOOL_CONTAINER_PREFIXES = ("netdoctor-probe-", "netdoctor-read-")

RUNS = int(os.environ.get("NETDOCTOR_E2E_LEAK_RUNS", "100"))
PARALLEL = int(os.environ.get("NETDOCTOR_E2E_LEAK_PARALLEL", "8"))
SEED = int(os.environ.get("NETDOCTOR_E2E_LEAK_SEED", str(int(time.time()))))
PHASES = ("creating", "waiting", "probing")

# -- watching the client namespaces -------------------------------------------------------

@dataclass
class Seen:
    """When the test saw a probe object: appear, run, and be removed (monotonic seconds)."""

    added: float | None = None
    running: float | None = None
    removing: float | None = None


class NamespaceWatch:
    """Every pod event of one namespace, from a watch (the admin's Python client), with the
    time it arrived; probe pods and the tool's ephemeral containers get a :class:`Seen`."""

    def __init__(self, api: Any, namespace: str):
        self.api, self.namespace = api, namespace
        self.objects: dict[str, Seen] = {}   # "pod/NAME" or "ephemeral/POD/CONTAINER"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> NamespaceWatch:
        self._thread.start()
        if not self._synced.wait(30):
            raise AssertionError(f"the watch on {self.namespace} did not start")
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from kubernetes import watch

        version = None
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                if version is None:
                    listed = self.api.list_namespaced_pod(self.namespace, _preload_content=False)
                    data = json.loads(listed.data)
                    for pod in data.get("items") or []:
                        self._saw(pod, "ADDED")
                    version = data["metadata"]["resourceVersion"]
                    self._synced.set()
                for event in w.stream(self.api.list_namespaced_pod, self.namespace, resource_version=version,
                                      timeout_seconds=30, _request_timeout=40):
                    if event["type"] == "ERROR":  # e.g. 410 Gone: relist
                        version = None
                        break
                    pod = event["raw_object"]
                    version = (pod.get("metadata") or {}).get("resourceVersion", version)
                    self._saw(pod, event["type"])
                    if self._stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - 410 Gone / transport hiccup: relist
                version = None
                time.sleep(0.2)
            finally:
                w.stop()

    def _saw(self, pod: dict, kind: str) -> None:
        now = time.monotonic()
        meta = pod.get("metadata") or {}
        name = meta.get("name", "")
        with self._lock:
            if name.startswith(PROBE_PREFIX):
                seen = self.objects.setdefault(f"pod/{name}", Seen())
                seen.added = seen.added or now
                statuses = (pod.get("status") or {}).get("containerStatuses") or []
                if any("running" in (c.get("state") or {}) for c in statuses):
                    seen.running = seen.running or now
                if kind == "DELETED" or meta.get("deletionTimestamp"):
                    seen.removing = seen.removing or now
            spec_names = {c.get("name") for c in (pod.get("spec") or {}).get("ephemeralContainers") or []}
            states = {c.get("name"): c.get("state") or {}
                      for c in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
            for cname in spec_names:
                if not cname.startswith(TOOL_CONTAINER_PREFIXES):
                    continue
                seen = self.objects.setdefault(f"ephemeral/{name}/{cname}", Seen())
                seen.added = seen.added or now
                if "running" in states.get(cname, {}):
                    seen.running = seen.running or now
                if "terminated" in states.get(cname, {}):
                    seen.removing = seen.removing or now

    def keys(self) -> set[str]:
        with self._lock:
            return set(self.objects)

    def get(self, key: str) -> Seen:
        with self._lock:
            s = self.objects.get(key)
            return Seen(s.added, s.running, s.removing) if s else Seen()


# -- one interrupted run ------------------------------------------------------------------

@dataclass
class Run:
    index: int
    slot: int
    mode: str               # "pod" or "ephemeral"
    target: str             # phase aimed at
    signame: str
    delay_s: float = 0.0
    phase: str = ""         # where the signal really landed ("finished": the run ended first)
    rc: int | None = None
    exit_after_s: float | None = None
    probe: str = ""         # watch key of its probe object
    left: str = ""          # what was left right after it exited (empty: nothing)
    note: str = ""
    timeline: dict[str, float | None] = field(default_factory=dict)


class Estimates:
    """Medians of what completed runs took, to scale each phase's random delay."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: dict[str, list[float]] = {"creating": [2.5], "waiting": [1.0], "probing": [3.0]}

    def add(self, phase: str, seconds: float | None) -> None:
        if seconds is not None and seconds > 0:
            with self._lock:
                self.samples[phase].append(seconds)

    def __getitem__(self, phase: str) -> float:
        with self._lock:
            return statistics.median(self.samples[phase][-20:])


def landed(seen: Seen, at: float) -> str:
    if seen.added is None or at < seen.added:
        return "creating"
    if seen.running is None or at < seen.running:
        return "waiting"
    if seen.removing is None or at < seen.removing:
        return "probing"
    return "cleanup"


@dataclass
class Slot:
    index: int
    mode: str
    namespace: str          # where its probe object goes
    watch: NamespaceWatch
    args: list[str]
    client_pod: str = ""


def interrupt_one(run: Run, slot: Slot, kubectl: Kubectl, est: Estimates, rng: random.Random) -> Run:
    before = slot.watch.keys()
    cmd = with_default_sigint([*netdoctor_cmd(*slot.args), "--kubeconfig", kubectl.kubeconfig])
    start = time.monotonic()
    # PYTHONFAULTHANDLER: a run that hangs is ended with SIGABRT first, so its stderr shows where every thread was
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})

    def mine() -> str | None:
        new = sorted(slot.watch.keys() - before, key=lambda k: slot.watch.get(k).added or 0)
        return new[0] if new else None

    def wait_until(cond, limit: float) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if cond():
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.005)
        return False

    sent_at: float | None = None
    try:
        if run.target == "creating":
            run.delay_s = rng.uniform(0.2, 1.0) * est["creating"]
            fire_at = start + run.delay_s
        elif run.target == "waiting":
            ok = wait_until(lambda: mine() is not None, 60)
            run.delay_s = rng.uniform(0.0, 0.8) * est["waiting"]
            fire_at = time.monotonic() + run.delay_s if ok else None
        else:
            ok = wait_until(lambda: (k := mine()) is not None and slot.watch.get(k).running is not None, 60)
            run.delay_s = rng.uniform(0.0, 0.9) * est["probing"]
            fire_at = time.monotonic() + run.delay_s if ok else None
        if fire_at is not None:
            while time.monotonic() < fire_at and proc.poll() is None:
                time.sleep(0.002)
            if proc.poll() is None:
                sent_at = time.monotonic()
                proc.send_signal(getattr(signal, run.signame))
        try:
            _, err = proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints each thread's stack, then the process dies
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            stacks = [line.strip() for line in err.splitlines() if line.strip().startswith(("File ", "Thread ",
                                                                                            "Current thread "))]
            run.note = ("did not exit within 40 s of the signal (ended by SIGABRT); stacks: "
                        + " | ".join(stacks[:40]))
        ended = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    run.rc = proc.returncode
    key = mine()
    if key is None:  # the create may have been in flight when the signal came: give the watch a moment
        time.sleep(0.5)
        key = mine()
    run.probe = key or ""
    seen = slot.watch.get(key) if key else Seen()
    run.timeline = {k: (round(v - start, 3) if v else None) for k, v in asdict(seen).items()}
    if sent_at is None:
        run.phase = "finished"
    else:
        run.phase = landed(seen, sent_at)
        run.exit_after_s = round(ended - sent_at, 2)
    if "Traceback" in err and run.phase != "creating":
        run.note += f" traceback: {err.strip().splitlines()[-1][:200]}"
    # While its probe pod exists the tool holds SIGINT and SIGTERM and ends as interrupted (130).
    # Not asserted where the watch cannot place the signal for sure: a signal less than 0.2 s
    # before the removal was seen (the tool may have been past its cleanup already), and
    # ephemeral containers (their end shows in the pod's status only after the kubelet's relist).
    unambiguous = run.mode == "pod" and run.phase in ("waiting", "probing") and sent_at is not None and \
        (seen.removing is None or seen.removing - sent_at > 0.2)
    if unambiguous and run.rc != 130:
        run.note += f" exit {run.rc}: {err.strip()[-300:]}"
    # estimates for the next runs (only from runs that got that far)
    if seen.added:
        est.add("creating", seen.added - start)
        if seen.running:
            est.add("waiting", seen.running - seen.added)
            if seen.removing and run.phase in ("finished", "cleanup"):
                est.add("probing", seen.removing - seen.running)
    run.left = leftover_of(kubectl, slot, key)
    return run


def leftover_of(kubectl: Kubectl, slot: Slot, key: str | None) -> str:
    """What of this run's probe is still there right after the tool exited ('' = nothing)."""
    if not key:
        # Nothing was seen; a create in flight could still land: the final sweep covers that.
        return ""
    if key.startswith("pod/"):
        name = key.split("/", 1)[1]
        out = kubectl("-n", slot.namespace, "get", "pod", name, "-o", "json", "--ignore-not-found").stdout
        if out.strip() and not json.loads(out)["metadata"].get("deletionTimestamp"):
            return f"pod {slot.namespace}/{name} not deleted"
        return ""
    _, pod, container = key.split("/", 2)
    # A --from-pod probe container is left idle for the next run to reuse (docs/probes.md): it may
    # still run, but only on leases that end within LINGER_S; anything else must end.
    state = ephemeral_state(kubectl, slot.namespace, pod, container)
    if state in ("terminated", "absent") or lingers_bounded(kubectl, slot.namespace, pod, container):
        return ""
    return f"ephemeral container {container} in {slot.namespace}/{pod}: {state}, its leases unbounded"


LINGER_BOUND_S = ephemeral.LINGER_S + ephemeral.POLL_S + 10
"""A probe container left idle must end by itself within this (its leases say when, on its own clock)."""


def lingers_bounded(kubectl: Kubectl, namespace: str, pod: str, container: str) -> bool:
    """The container runs and every lease it holds ends within LINGER_BOUND_S of now (its uptime clock)."""
    script = f'read up _ </proc/uptime; echo "${{up%.*}}"; cat {ephemeral.LEASE_DIR}/* 2>/dev/null; true'
    out = kubectl("-n", namespace, "exec", pod, "-c", container, "--", "sh", "-c", script, check=False)
    numbers = [int(x) for x in out.stdout.split() if x.isdigit()]
    if out.returncode != 0 or len(numbers) < 2:
        return False
    now, leases = numbers[0], numbers[1:]
    return all(lease <= now + LINGER_BOUND_S for lease in leases)


def ephemeral_state(kubectl: Kubectl, namespace: str, pod: str, container: str) -> str:
    obj = kubectl.json("-n", namespace, "get", "pod", pod)
    for c in (obj.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if c.get("name") == container:
            state = c.get("state") or {}
            return next(iter(state), "unknown")
    names = {c.get("name") for c in (obj.get("spec") or {}).get("ephemeralContainers") or []}
    return "no status yet" if container in names else "absent"


def probe_objects_left(kubectl: Kubectl, namespaces: list[str]) -> list[str]:
    """Pods with the tool's label (any state) and the tool's ephemeral containers not terminated, but
    for a --from-pod probe container left idle on bounded leases (docs/probes.md)."""
    left = []
    for ns in namespaces:
        for pod in kubectl.json("-n", ns, "get", "pods")["items"]:
            meta = pod["metadata"]
            if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == "kubectl-netdoctor":
                left.append(f"pod {ns}/{meta['name']}" + (" (deleting)" if meta.get("deletionTimestamp") else ""))
            states = {c.get("name"): c.get("state") or {}
                      for c in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
            for c in (pod.get("spec") or {}).get("ephemeralContainers") or []:
                name = c.get("name", "")
                if name.startswith(TOOL_CONTAINER_PREFIXES) and "terminated" not in states.get(name, {}) and not (
                        name.startswith(ephemeral.PROBE_PREFIX) and "running" in states.get(name, {})
                        and lingers_bounded(kubectl, ns, meta["name"], name)):
                    left.append(f"ephemeral container {name} in {ns}/{meta['name']}: "
                                f"{next(iter(states.get(name, {})), 'no status')}")
    return left


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[str]:
    """Namespace with the Service web in front of a tarpit (slow probes)."""
    kubectl = cluster.kubectl
    ns = create_namespace(kubectl, "leak-server")
    try:
        deploy_tarpit(kubectl, ns)
        wait_for(lambda: any((e.get("conditions") or {}).get("ready")
                             for s in kubectl.json("-n", ns, "get", "endpointslices",
                                                   "-l", "kubernetes.io/service-name=web")["items"]
                             for e in s.get("endpoints") or []), 60, what="a ready endpoint of web")
        yield ns
    finally:
        delete_namespace(cluster.kubectl, ns)


def start_tool(kubectl: Kubectl, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*netdoctor_cmd(*args), "--kubeconfig", kubectl.kubeconfig],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)


def sigkill_mid_probe(kubectl: Kubectl, server: str, client_ns: str, from_pod: str | None = None) -> str:
    """Start a run, SIGKILL it once its probe runs; return the probe pod's (or container's) name."""
    where = ["--from-pod", f"{client_ns}/{from_pod}"] if from_pod else ["--from-namespace", client_ns]
    proc = start_tool(kubectl, "svc", "web", "-n", server, "-o", "json", "--probe-image", TOOLBOX_IMAGE, *where)

    def running_probe() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before its probe ran: {proc.stderr.read() if proc.stderr else ''}")
        if from_pod:
            pod = kubectl.json("-n", client_ns, "get", "pod", from_pod)
            for c in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
                if c["name"].startswith(PROBE_PREFIX) and "running" in (c.get("state") or {}):
                    return c["name"]
            return None
        for pod in kubectl.json("-n", client_ns, "get", "pods", "-l", PROBE_LABEL)["items"]:
            if any("running" in (c.get("state") or {}) for c in (pod.get("status") or {}).get("containerStatuses") or []):
                return pod["metadata"]["name"]
        return None

    try:
        name = wait_for(running_probe, 90, interval=0.1, what="the probe to run")
        time.sleep(0.5)  # mid-probe: its execs are under way
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return name


@dataclass
class DeadlineLeftover:
    namespace: str
    pod: str
    killed_at: float


@pytest.fixture(scope="module", autouse=True)
def deadline_leftover(cluster: Cluster, server: str) -> Iterator[DeadlineLeftover]:
    """Started first: a run SIGKILLed mid-probe whose pod only its activeDeadlineSeconds can end."""
    ns = create_namespace(cluster.kubectl, "leak-deadline")
    try:
        pod = sigkill_mid_probe(cluster.kubectl, server, ns)
        yield DeadlineLeftover(ns, pod, time.time())
    finally:
        delete_namespace(cluster.kubectl, ns)


# -- 1. interrupted runs ------------------------------------------------------------------------

def test_interrupted_runs_leave_no_probe(cluster: Cluster, server: str) -> None:
    from kubernetes import client, config

    kubectl = cluster.kubectl
    api = client.CoreV1Api(config.new_client_from_config(config_file=kubectl.kubeconfig))
    rng = random.Random(SEED)
    slots: list[Slot] = []
    namespaces: list[str] = []
    try:
        for i in range(PARALLEL):
            mode = "ephemeral" if i % 4 == 3 else "pod"
            ns = create_namespace(kubectl, f"leak-client-{i}")
            namespaces.append(ns)
            args = ["svc", "web", "-n", server, "-o", "json", "--probe-image", TOOLBOX_IMAGE]
            if mode == "ephemeral":
                kubectl.apply(toolbox_pod_manifest("client"), ns)
                args += ["--from-pod", f"{ns}/client"]
            else:
                args += ["--from-namespace", ns]
            slots.append(Slot(i, mode, ns, NamespaceWatch(api, ns).start(), args, "client" if mode == "ephemeral" else ""))
        for slot in slots:
            if slot.mode == "ephemeral":
                kubectl.wait_pods_ready(slot.namespace, "app=client")

        runs_by_slot: dict[int, list[Run]] = {s.index: [] for s in slots}
        for n in range(RUNS):
            slot = slots[n % PARALLEL]
            runs_by_slot[slot.index].append(
                Run(n, slot.index, slot.mode, PHASES[(n // PARALLEL + n) % 3], rng.choice(["SIGINT", "SIGTERM"])))
        est = Estimates()
        started = time.monotonic()

        def work(slot: Slot) -> list[Run]:
            slot_rng = random.Random(rng.random())
            return [interrupt_one(r, slot, kubectl, est, slot_rng) for r in runs_by_slot[slot.index]]

        with ThreadPoolExecutor(len(slots)) as pool:
            done = [r for rs in pool.map(work, slots) for r in rs]
        elapsed = time.monotonic() - started

        # Deletions take a moment to finish (grace period 0); then nothing of the tool may remain.
        try:
            wait_for(lambda: not probe_objects_left(kubectl, namespaces), 30, interval=1,
                     what="every probe object gone")
        except AssertionError:
            pass
        left = probe_objects_left(kubectl, namespaces)
    finally:
        for slot in slots:
            slot.watch.stop()
        for ns in namespaces:
            delete_namespace(kubectl, ns)

    by_phase = Counter(r.phase for r in done)
    figures = {
        "runs": len(done), "parallel": PARALLEL, "seed": SEED, "elapsed_s": round(elapsed, 1),
        "interruptions_by_phase": {p: by_phase.get(p, 0) for p in (*PHASES, "cleanup")},
        "not_interrupted_finished_first": by_phase.get("finished", 0),
        "by_phase_and_signal": dict(sorted(Counter(f"{r.phase} {r.signame}" for r in done).items())),
        "by_phase_and_mode": dict(sorted(Counter(f"{r.phase} {r.mode}" for r in done).items())),
        "aimed_at": dict(Counter(r.target for r in done)),
        "exit_codes_by_phase": dict(sorted(Counter(f"{r.phase} {r.rc}" for r in done).items())),
        "objects_left_right_after_exit": [f"run {r.index} ({r.phase}, {r.signame}): {r.left}" for r in done if r.left],
        "objects_left_at_end": left,
        "notes": [f"run {r.index} ({r.phase}, {r.mode}, {r.signame}): {r.note.strip()}" for r in done if r.note],
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "leak-test.json").write_text(json.dumps({**figures, "runs_detail": [asdict(r) for r in done]},
                                                           indent=2) + "\n")
    print(json.dumps(figures, indent=2))

    assert len(done) == RUNS
    assert left == [], left
    assert figures["objects_left_right_after_exit"] == [], figures["objects_left_right_after_exit"]
    # Every phase really was hit (the runs are aimed at each; the watch says where they landed).
    for phase in PHASES:
        assert by_phase.get(phase, 0) > 0, figures
    # Once a probe object existed, the tool ended as interrupted (130) and printed no traceback.
    assert figures["notes"] == [], figures["notes"]


# -- 2. cleanup ----------------------------------------------------------------------------------

def run_cleanup(kubectl: Kubectl, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*netdoctor_cmd("cleanup", *args), "--kubeconfig", kubectl.kubeconfig],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_cleanup_deletes_sigkill_leftovers(cluster: Cluster, server: str, namespace: str) -> None:
    kubectl = cluster.kubectl
    # Not the tool's: a pod named like a probe without the labels, and an ordinary client pod.
    decoy = json.loads(toolbox_pod_manifest("netdoctor-probe-0decoy", labels={"app": "decoy"}))
    kubectl.apply(json.dumps(decoy), namespace)
    kubectl.apply(toolbox_pod_manifest("client"), namespace)
    kubectl.wait_pods_ready(namespace, "app in (client, decoy)")

    pod = sigkill_mid_probe(kubectl, server, namespace)
    container = sigkill_mid_probe(kubectl, server, namespace, from_pod="client")
    assert ephemeral_state(kubectl, namespace, "client", container) == "running"
    before = {p["metadata"]["name"] for p in kubectl.json("-n", namespace, "get", "pods")["items"]}

    dry = run_cleanup(kubectl, "-n", namespace, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would delete pod {namespace}/{pod}" in dry.stdout, dry.stdout
    assert container in dry.stdout and "netdoctor-probe-0decoy" not in dry.stdout, dry.stdout
    assert {p["metadata"]["name"] for p in kubectl.json("-n", namespace, "get", "pods")["items"]} == before
    assert ephemeral_state(kubectl, namespace, "client", container) == "running"
    # (-A also lists what other test runs on this cluster have under way; only ours is asserted.)
    everywhere = run_cleanup(kubectl, "-A", "--dry-run")
    assert f"would delete pod {namespace}/{pod}" in everywhere.stdout, everywhere

    proc = run_cleanup(kubectl, "-n", namespace)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert f"deleted pod {namespace}/{pod}" in proc.stdout, proc.stdout
    assert f"ephemeral container {container} in pod {namespace}/client" in proc.stdout, proc.stdout
    assert "netdoctor-probe-0decoy" not in proc.stdout
    wait_for(lambda: kubectl("-n", namespace, "get", "pod", pod, "--ignore-not-found").stdout.strip() == "", 30,
             what=f"{pod} gone")
    wait_for(lambda: ephemeral_state(kubectl, namespace, "client", container) == "terminated", 30,
             what=f"ephemeral container {container} ended")
    remaining = {p["metadata"]["name"] for p in kubectl.json("-n", namespace, "get", "pods")["items"]}
    assert remaining == {"client", "netdoctor-probe-0decoy"}, remaining

    again = run_cleanup(kubectl, "-n", namespace)
    assert again.returncode == 0 and "nothing to clean up" in again.stdout, again


# -- 3. SIGKILL: the pod's own deadline ends it -------------------------------------------------

def test_sigkill_leftover_ended_by_its_deadline(cluster: Cluster, deadline_leftover: DeadlineLeftover) -> None:
    kubectl = cluster.kubectl
    ns, name = deadline_leftover.namespace, deadline_leftover.pod
    pod = kubectl.json("-n", ns, "get", "pod", name)
    deadline = pod["spec"].get("activeDeadlineSeconds")
    assert isinstance(deadline, int) and deadline > 0, pod["spec"]
    started = parse_time(pod["status"]["startTime"])
    # Still Running after the kill: nothing in-process could clean it up.
    assert pod["status"]["phase"] == "Running", pod["status"]

    remaining = max(5.0, started + deadline + 60 - time.time())
    ended = wait_for(lambda: (p := kubectl.json("-n", ns, "get", "pod", name))["status"]["phase"]
                     in ("Failed", "Succeeded") and p, remaining, interval=2,
                     what=f"{name} to end by its activeDeadlineSeconds ({deadline}s)")
    status = ended["status"]
    assert (status["phase"], status.get("reason")) == ("Failed", "DeadlineExceeded"), status
    # It holds nothing any more: its container was killed, and it is not among the node's
    # non-terminated pods (what the scheduler and `kubectl describe node` count).
    final = wait_for(lambda: (p := kubectl.json("-n", ns, "get", "pod", name)) and all(
        "terminated" in (c.get("state") or {}) for c in p["status"].get("containerStatuses") or []) and p,
        60, interval=1, what=f"{name}'s containers terminated")
    finished = max(parse_time(c["state"]["terminated"]["finishedAt"]) for c in final["status"]["containerStatuses"])
    non_terminated = kubectl.json("get", "pods", "-A", "--field-selector",
                                  "status.phase!=Succeeded,status.phase!=Failed")["items"]
    assert name not in {p["metadata"]["name"] for p in non_terminated}
    ended_after = finished - started
    figures = {"pod": f"{ns}/{name}", "activeDeadlineSeconds": deadline, "phase": status["phase"],
               "reason": status.get("reason"), "message": status.get("message"),
               "container_finished_after_start_s": round(ended_after, 1),
               "sigkill_after_start_s": round(deadline_leftover.killed_at - started, 1)}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "sigkill-deadline.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    # Within its deadline (plus the kubelet's sync period to notice it).
    assert ended_after <= deadline + 30, figures

    # The ended pod is still listed (Failed); cleanup removes it like any leftover.
    proc = run_cleanup(kubectl, "-n", ns)
    assert proc.returncode == 0, proc.stderr
    assert f"deleted pod {ns}/{name}" in proc.stdout, proc.stdout


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
