"""What every check module shares: the context it reads from and the helpers that build results.

A check module exposes ``STEP_ID``, ``TITLE`` and ``run(ctx) -> StepResult``.
It reads cluster objects only through :class:`Context` (memoised, so steps share
fetches), never prints, never exits. Live evidence is gathered before the walk
(:mod:`kubectl_netdoctor.live`) and read from ``ctx.live``, which is None when no
probe could run; ``ctx.probe_skip_reason`` then says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from kubectl_netdoctor import codes, labels
from kubectl_netdoctor.cluster.reader import Obj, Reader
from kubectl_netdoctor.model import Basis, Finding, ProbeResult, Severity, Status, StepResult, Verified

T = TypeVar("T")


@dataclass(frozen=True)
class Client:
    """Who is assumed to call the Service."""

    kind: str
    """``pod`` (``--from-pod``), ``namespace`` (any pod in that namespace) or ``external``."""
    namespace: str | None = None
    pod: Obj | None = None

    def describe(self) -> str:
        if self.kind == "pod" and self.pod:
            return f"pod {self.namespace}/{self.pod['metadata']['name']}"
        if self.kind == "namespace":
            return f"any pod in namespace {self.namespace}"
        return "external (outside the cluster)"


@dataclass
class Options:
    """Command-line choices that change what the checks do."""

    port: str | None = None
    """Only diagnose this Service port (name or number)."""
    read_only: bool = False
    http_path: str = "/"
    timeout: float = 10.0


@dataclass
class Context:
    reader: Reader
    namespace: str
    name: str
    client: Client
    options: Options = field(default_factory=Options)
    live: Any = None
    """:class:`kubectl_netdoctor.live.LiveEvidence`, or None without probes."""
    probe_skip_reason: str = "live probes are not run against a snapshot"
    results: dict[str, StepResult] = field(default_factory=dict)
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)

    # -- memoised reads ------------------------------------------------------
    def _once(self, key: tuple, fetch: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = fetch()  # exceptions are not cached: a retry asks again
        return self._memo[key]

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        return self._once(("get", kind, namespace, name), lambda: self.reader.get(kind, namespace, name))

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        key = ("list", kind, namespace, label_selector, field_selector)
        return self._once(key, lambda: self.reader.list(kind, namespace, label_selector, field_selector))

    def service(self) -> Obj | None:
        return self.get("Service", self.namespace, self.name)

    def pods(self, namespace: str | None = None) -> list[Obj]:
        """All pods of a namespace (default: the Service's). Namespaced, never cluster-wide."""
        return self.list("Pod", namespace or self.namespace)

    def selected_pods(self) -> list[Obj]:
        """Pods the Service selector picks in its own namespace (empty without a selector)."""
        svc = self.service() or {}
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        return [p for p in self.pods() if labels.matches_map(selector, p["metadata"].get("labels"))]

    def endpoint_slices(self) -> list[Obj]:
        return self.list("EndpointSlice", self.namespace, f"kubernetes.io/service-name={self.name}")

    def endpoints(self) -> Obj | None:
        return self.get("Endpoints", self.namespace, self.name)

    def network_policies(self, namespace: str) -> list[Obj]:
        return self.list("NetworkPolicy", namespace)

    def namespaces(self) -> list[Obj]:
        return self.list("Namespace")

    def nodes(self) -> list[Obj]:
        return self.list("Node")

    def configmap(self, namespace: str, name: str) -> Obj | None:
        return self.get("ConfigMap", namespace, name)

    def system_pods(self, label_selector: str) -> list[Obj]:
        return self.list("Pod", "kube-system", label_selector)

    def pod_events(self, pod: Obj) -> list[Obj]:
        meta = pod["metadata"]
        return self.list("Event", meta.get("namespace", self.namespace),
                         field_selector=f"involvedObject.name={meta['name']}")

    def captures(self) -> dict[str, dict[str, str]]:
        """Node rule dumps: saved ones from the reader, plus those the live probes fetched."""
        def merged() -> dict[str, dict[str, str]]:
            out = {node: dict(c) for node, c in self.reader.node_captures().items()}
            for node, c in (self.live.captures if self.live else {}).items():
                out.setdefault(node, {}).update(c)
            return out
        return self._once(("captures",), merged)

    def capture_source(self, node: str, kind: str) -> str:
        """Where a node capture came from (a snapshot file, or the live exec), for error messages."""
        if node not in self.reader.node_captures():
            return f"{kind} of node {node} (live)"
        if hasattr(self.reader, "capture_source"):
            return self.reader.capture_source(node, kind)
        return f"{node}.{kind}"

    def policy_crds(self) -> list[str]:
        """CNI-specific policies (``Kind ns/name``) in the Service's or the client's namespace, or cluster-wide."""
        spaces = sorted({self.namespace, self.client.namespace or self.namespace})
        return self._once(("policy_crds",), lambda: self.reader.policy_crds(spaces))

    def cluster_domain(self) -> str:
        """The cluster domain served by CoreDNS's ``kubernetes`` plugin (``cluster.local`` by default)."""
        from kubectl_netdoctor import dnsnames

        cm = self.configmap("kube-system", "coredns")
        corefile = ((cm or {}).get("data") or {}).get("Corefile", "")
        return dnsnames.cluster_domain_from_corefile(corefile) or dnsnames.DEFAULT_DOMAIN

    def service_ports(self) -> list[dict[str, Any]]:
        """The Service ports under diagnosis (all, or the one ``--port`` picked)."""
        ports = ((self.service() or {}).get("spec") or {}).get("ports") or []
        if self.options.port is None:
            return list(ports)
        want = self.options.port
        return [p for p in ports if p.get("name") == want or str(p.get("port")) == want]


# -- building results ---------------------------------------------------------

def finding(code: str, message: str, evidence: tuple[str, ...] | list[str] = (), fix: str = "",
            severity: Severity | None = None) -> Finding:
    """A finding whose severity defaults to the catalogue's (unknown codes raise KeyError)."""
    entry = codes.lookup(code)
    return Finding(code, severity or entry.severity, message, tuple(evidence), fix)


def conclude(step_id: str, title: str, findings: list[Finding], summary: str,
             probes: tuple[ProbeResult, ...] | list[ProbeResult] = (),
             unverified: str | None = None, blocked: bool = False,
             verified: Verified | None = None) -> StepResult:
    """Status follows the worst finding: error -> fail, warning -> warn, else pass.

    ``unverified`` is the reason the step's deciding (usually live) part could
    not run: without an error finding the step is then a skip, never a pass.
    ``blocked`` marks that reason as an error (RBAC refusal, a probe that could
    not start), not a choice. ``verified`` says what the status rests on
    (default: the model; ``none`` for a skip).
    """
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        status = Status.FAIL
    elif unverified:
        return StepResult(step_id, title, Status.SKIP, summary or unverified, tuple(findings),
                          skip_reason=unverified, probes=tuple(probes), blocked=blocked,
                          verified=verified if verified and verified.basis is Basis.LIVE else None)
    elif Severity.WARNING in severities:
        status = Status.WARN
    else:
        status = Status.PASS
    return StepResult(step_id, title, status, summary, tuple(findings), probes=tuple(probes), verified=verified)


def verified_live(detail: str) -> Verified:
    """The step's status rests on live probes: ``detail`` says which (``3/3 endpoints``)."""
    return Verified(Basis.LIVE, detail)


def verified_model(detail: str = "") -> Verified:
    """The step's status rests on the objects and rules read, not on traffic."""
    return Verified(Basis.MODEL, detail)


def skipped(step_id: str, title: str, reason: str, blocked: bool = False,
            findings: list[Finding] | None = None) -> StepResult:
    """A step that did not run. ``blocked`` marks an error (forbidden, timeout), not a design choice."""
    return StepResult(step_id, title, Status.SKIP, reason, tuple(findings or ()), skip_reason=reason, blocked=blocked)
