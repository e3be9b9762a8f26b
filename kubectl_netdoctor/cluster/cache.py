"""Shared reads for a scan: every Service of a namespace is diagnosed from one set of list calls.

A Service's walk reads its namespace's Services, EndpointSlices, Endpoints, Pods,
NetworkPolicies and Events, kube-system's pods and two ConfigMaps, and the Nodes and
Namespaces, each with its own name or selector. Asked of the API server per Service,
a namespace of 200 Services costs thousands of requests. :class:`SharedReads` is a
:class:`~kubectl_netdoctor.cluster.reader.Reader` over another reader that lists each
(kind, namespace) once and answers every ``get`` and selector ``list`` in it locally,
with the same selector semantics the snapshot reader uses (``-l`` syntax, the field
selector subset). The request count is then fixed per namespace, whatever the number
of Services.

* A ``list`` across all namespaces is answered locally only when the scan itself covers
  all namespaces (``-A``: one cluster-wide list per kind, or one per namespace where RBAC
  refuses the cluster-wide one); otherwise it is passed through once per distinct query (``pods elsewhere`` for a selector that matches
  nothing at home, ``same name elsewhere``).
* ConfigMaps are read by name (``kube-proxy``, ``coredns``) and memoised: listing all
  of kube-system's ConfigMaps would need more RBAC than the tool documents.
* A refusal or API error is remembered and raised again to every Service that needs
  the same read, so a forbidden namespace costs one request, not one per Service.
  Where a list is refused, a ``get`` by name is still tried (RBAC may allow get only).
* One instance is one moment: a ``--wait`` round makes a fresh one, so nothing stale is
  ever served across rounds.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from kubectl_netdoctor import labels
from kubectl_netdoctor.cluster.reader import KINDS, Obj
from kubectl_netdoctor.cluster.snapshot import matches_field_selector
from kubectl_netdoctor.errors import Forbidden, UsageError

NAMESPACE_KINDS = ("Service", "EndpointSlice", "Endpoints", "Pod", "NetworkPolicy", "Event")
"""Namespaced kinds listed once per namespace and then served locally."""
CLUSTER_KINDS = ("Namespace", "Node")
CROSS_NAMESPACE_QUERIES = 3
"""Selector queries across all namespaces (``pods elsewhere`` for a selector that matches nothing at
home) asked one by one before a single cluster-wide list answers the rest: most scans need none,
and a cluster's every pod is a big answer to fetch for one broken Service."""
SYSTEM_NAMESPACE = "kube-system"


class SharedReads:
    """Implements :class:`~kubectl_netdoctor.cluster.reader.Reader` over ``inner`` with shared lists."""

    def __init__(self, inner: Any, all_namespaces: bool = False):
        self.inner = inner
        self.source = inner.source
        self.all_namespaces = all_namespaces
        self._lists: dict[tuple[str, str | None], list[Obj] | BaseException] = {}
        self._memo: dict[tuple, Any] = {}
        self._lock = threading.RLock()
        self.requests: Counter[str] = Counter()
        """What was asked of ``inner``: ``list Pod shop``, ``get ConfigMap kube-system/coredns`` ... -> count."""

    @property
    def default_namespace(self) -> str:
        return self.inner.default_namespace

    @property
    def rejected(self) -> list[Any]:
        return self.inner.rejected

    def ignored(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> list[Any]:
        return self.inner.ignored(kind, namespace, label_selector, field_selector)

    def __getattr__(self, name: str) -> Any:
        # Everything that is not a read (default_namespace, context_name, api, request ...) is the inner reader's.
        return getattr(self.inner, name)

    # -- the shared lists -------------------------------------------------------
    def prefetch(self, namespaces: Iterable[str]) -> None:
        """List everything a walk reads for these namespaces now (errors are kept for the walk to meet).
        Under ``-A``, one cluster-wide list per kind."""
        for kind in CLUSTER_KINDS:
            self._whole(kind, None)
        if self.all_namespaces:
            for kind in NAMESPACE_KINDS:
                self._whole(kind, None)
            return
        for ns in [*namespaces, SYSTEM_NAMESPACE]:
            self._whole("Pod", ns)
        for ns in namespaces:
            for kind in NAMESPACE_KINDS:
                self._whole(kind, ns)

    def _whole(self, kind: str, namespace: str | None) -> list[Obj] | BaseException:
        """Every object of ``kind`` in ``namespace`` (None: cluster-scoped, or all namespaces), listed once."""
        if self.all_namespaces and KINDS[kind][1] and namespace is not None:
            # -A: one cluster-wide list serves every namespace, unless RBAC grants it per namespace only
            # (deploy/rbac binds the namespaced reads per namespace): then one list per namespace.
            whole = self._whole(kind, None)
            if not isinstance(whole, Forbidden):
                return whole
        key = (kind, namespace)
        with self._lock:
            if key not in self._lists:
                self.requests[f"list {kind} {namespace or '*'}"] += 1
                try:
                    self._lists[key] = self.inner.list(kind, namespace)
                except Exception as err:  # noqa: BLE001 - kept, and raised to each reader in turn
                    self._lists[key] = err
            return self._lists[key]

    def _items(self, kind: str, namespace: str | None) -> list[Obj]:
        got = self._whole(kind, namespace)
        if isinstance(got, BaseException):
            raise got
        if namespace is None or not KINDS[kind][1] or (kind, namespace) in self._lists:
            return got  # a namespace's own list holds that namespace only
        return [o for o in got if o["metadata"].get("namespace") == namespace]

    def _once(self, key: tuple, fetch: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._memo:
                self.requests[" ".join(str(k) for k in key if k is not None)] += 1
                try:
                    self._memo[key] = fetch()
                except Exception as err:  # noqa: BLE001 - raised again below, and to every later asker
                    self._memo[key] = err
            value = self._memo[key]
        if isinstance(value, BaseException):
            raise value
        return value

    def _served(self, kind: str, namespace: str | None) -> bool:
        """Whether a read of ``kind`` in ``namespace`` is answered from a shared list."""
        if kind in CLUSTER_KINDS:
            return True
        if kind not in NAMESPACE_KINDS:
            return False
        return namespace is not None or self.all_namespaces

    # -- Reader -----------------------------------------------------------------
    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        if self._served(kind, namespace):
            try:
                items = self._items(kind, namespace)
            except Forbidden:
                return self._once(("get", kind, namespace, name), lambda: self.inner.get(kind, namespace, name))
            return next((o for o in items if o["metadata"]["name"] == name), None)
        return self._once(("get", kind, namespace, name), lambda: self.inner.get(kind, namespace, name))

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        if not self._served(kind, namespace):
            if namespace is None and kind in NAMESPACE_KINDS and self._wide_lists(kind) >= CROSS_NAMESPACE_QUERIES:
                whole = self._whole(kind, None)  # from now on one cluster-wide list answers them all
                if not isinstance(whole, BaseException):
                    return self._filter(whole, label_selector, field_selector)
            return self._once(("list", kind, namespace, label_selector, field_selector),
                              lambda: self.inner.list(kind, namespace, label_selector, field_selector))
        return self._filter(self._items(kind, namespace), label_selector, field_selector)

    def _wide_lists(self, kind: str) -> int:
        with self._lock:
            return sum(1 for k in self._memo if k[:3] == ("list", kind, None))

    @staticmethod
    def _filter(items: list[Obj], label_selector: str | None, field_selector: str | None) -> list[Obj]:
        if not label_selector and not field_selector:
            return list(items)
        try:
            wanted = {"matchExpressions": labels.parse_selector_string(label_selector or "")}
            return [o for o in items
                    if labels.matches_label_selector(wanted, o["metadata"].get("labels"))
                    and matches_field_selector(field_selector, o)]
        except ValueError as err:  # the API server answers 400 to a selector it cannot parse
            raise UsageError(f"bad selector {label_selector or field_selector!r}: {err}") from None

    def node_captures(self) -> dict[str, dict[str, str]]:
        return self._once(("node_captures",), self.inner.node_captures)

    def capture_source(self, node: str, kind: str) -> str:
        return self.inner.capture_source(node, kind)

    def default_namespace_for(self, service: str) -> str:
        return self.inner.default_namespace_for(service)

    def policy_crds(self, namespaces: list[str]) -> list[str]:
        return self._once(("policy_crds", tuple(sorted(namespaces))), lambda: self.inner.policy_crds(namespaces))

    def default_node_image(self) -> str:
        return self._once(("default_node_image",), self.inner.default_node_image)
