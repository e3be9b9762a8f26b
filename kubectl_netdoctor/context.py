"""The run context every step reads through: who calls, with which options, and a memoised reader.

Built once per target by the engine (:mod:`kubectl_netdoctor.engine`); the live probes
(:mod:`kubectl_netdoctor.probes`) fill ``live`` before the walk, the hops read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubectl_netdoctor import labels
from kubectl_netdoctor.cluster.reader import Obj, Reader
from kubectl_netdoctor.defaults import DEFAULT_PROBE_IMAGE
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.model import StepResult

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


@dataclass(frozen=True)
class ClientSpec:
    """Who calls, as the command line names it: ``namespace`` (any pod in the target's own namespace,
    or in ``namespace`` when given: ``--from-namespace``), ``pod`` (``--from-pod NS/POD``, split) or
    ``external``. Resolved into a :class:`Client` per target once the reader is open."""

    kind: str = "namespace"
    namespace: str | None = None
    """``--from-namespace``, or the namespace of ``--from-pod`` (None: the target's own)."""
    pod: str | None = None
    """The pod name of ``--from-pod``."""


@dataclass(frozen=True)
class Options:
    """The one validated run request: every run-wide setting, built once from the command line (by
    :mod:`kubectl_netdoctor.options`) and read from here only, by every entry point and path kind."""

    port: str | None = None
    """Only diagnose this Service port (name or number)."""
    read_only: bool = False
    """``--read-only``: create nothing in the cluster (no probe pod, no ephemeral container)."""
    http_path: str = "/"
    """Path of the L7 GETs (``--http-path``)."""
    timeout: float = 10.0
    """Seconds per API request (``--timeout``); the live reader is opened with it."""
    probe_image: str = DEFAULT_PROBE_IMAGE
    """Image of the probe pod / ephemeral container (its origin: ``origin("probe_image")``)."""
    node_access: bool = False
    """``--node-access``: read a node's rules from a privileged hostNetwork pod where kube-proxy's cannot."""
    node_image: str | None = None
    """Image of that node-access pod; None: kube-proxy's image at the server's version."""
    progress: bool = False
    """Show a live status line on stderr while the probes run."""
    namespace: str | None = None
    """``-n`` as given (None: the reader's default); the target's own namespace is :attr:`Context.namespace`."""
    snapshot: str | None = None
    """``--snapshot PATH``: diagnose offline. The one place "offline?" is decided (:attr:`offline`)."""
    kubeconfig: str | None = None
    context: str | None = None
    client: ClientSpec = field(default_factory=ClientSpec)
    url: str | None = None
    """The request an Ingress or HTTPRoute walk follows (``url URL``, or ``--host``/``--path`` as a URL);
    None: the whole target is checked, rule by rule."""
    wait_s: float = 0.0
    """``--wait``: diagnose again until every verdict is ok or this many seconds have passed (0: once)."""
    output: str = "text"
    verbose: bool = False
    origins: Mapping[str, str] = field(default_factory=dict)
    """Setting name -> where it was set (``--probe-image``, ``$NETDOCTOR_PROBE_IMAGE``, ``probeImage in
    FILE``); a setting not named here has its default."""

    @property
    def offline(self) -> bool:
        return self.snapshot is not None

    def origin(self, name: str) -> str:
        """Where setting ``name`` came from: a flag, the environment, the config file, or the default."""
        return self.origins.get(name, "the default")


@dataclass
class Context:
    """One target of one run: what is diagnosed (``kind`` ``namespace``/``name``), from which client,
    with which options; the reads are memoised so the hops share them."""

    reader: Reader
    namespace: str
    name: str
    client: Client
    options: Options = field(default_factory=Options)
    kind: str = "Service"
    """The path kind (:mod:`kubectl_netdoctor.paths`): what ``namespace``/``name`` name."""
    live: LiveEvidence | None = None
    """What the live probes saw, or None without probes (``probe_skip_reason`` says why)."""
    probe_skip_reason: str = "live probes are not run against a snapshot"
    results: dict[str, StepResult] = field(default_factory=dict)
    ignored_reads: list[Any] = field(default_factory=list)
    """:class:`~kubectl_netdoctor.validate.Rejected` objects that reads so far may have left out
    (repeats included): the runner notes them on the step that read them."""
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)

    # -- memoised reads ------------------------------------------------------
    def _once(self, key: tuple, fetch: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = fetch()  # exceptions are not cached: a retry asks again
        return self._memo[key]

    def memo(self, key: tuple, compute: Callable[[], T]) -> T:
        """A value the hops of one target share, computed once (``key`` names it; exceptions are not kept)."""
        return self._once(("memo", *key), compute)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        return self._once(("get", kind, namespace, name), lambda: self.reader.get(kind, namespace, name))

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        key = ("list", kind, namespace, label_selector, field_selector)
        found = self._once(key, lambda: self.reader.list(kind, namespace, label_selector, field_selector))
        # readers drop malformed objects; which did this read miss?
        self.ignored_reads += self._once(("ignored",) + key[1:], lambda: self.reader.ignored(
            kind, namespace, label_selector, field_selector))
        return found

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
        """kube-system pods matching a ``-l`` selector, picked from the one list of all of them that
        every step shares (kube-proxy, CoreDNS and the CNI are all asked after: one request, not three)."""
        expressions = {"matchExpressions": labels.parse_selector_string(label_selector)}
        return [p for p in self.pods("kube-system")
                if labels.matches_label_selector(expressions, p["metadata"].get("labels"))]

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
        return self.reader.capture_source(node, kind)

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
