"""ReferenceGrant: may an object in one namespace refer to an object in another?

Every cross-namespace reference of the Gateway API (an HTTPRoute's ``backendRefs`` to a
Service, a Gateway listener's ``tls.certificateRefs`` to a Secret, ...) needs a ReferenceGrant
*in the target's namespace*, except a route attaching to a Gateway (that is the listener's
``allowedRoutes``). A grant allows the reference when one of its ``spec.from`` entries names the
referrer's group, kind and namespace, and one of its ``spec.to`` entries names the target's
group and kind, with either no ``name`` (every object of that kind) or the target's name.
Entries OR together; an empty group is the core group. A reference inside one namespace needs
no grant. Without a grant the controller sets ``ResolvedRefs=False`` with reason ``RefNotPermitted``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GRANT_API_VERSION = "gateway.networking.k8s.io/v1beta1"
"""The version a suggested grant is written in (the one every release since v0.6 serves)."""


@dataclass(frozen=True)
class Reference:
    """One reference across namespaces, in the terms a ReferenceGrant uses."""

    from_group: str
    """The referrer's API group (``gateway.networking.k8s.io``)."""
    from_kind: str
    """``HTTPRoute``, ``Gateway``, ..."""
    from_namespace: str
    to_group: str
    """The target's API group ('' for core: Service, Secret)."""
    to_kind: str
    to_namespace: str
    to_name: str

    @property
    def cross_namespace(self) -> bool:
        return self.from_namespace != self.to_namespace

    @property
    def text(self) -> str:
        return (f"{self.from_kind} in namespace {self.from_namespace} -> {self.to_kind} "
                f"{self.to_namespace}/{self.to_name}")


@dataclass(frozen=True)
class GrantVerdict:
    """Whether a reference is allowed, by which grant, and how the others fall short."""

    allowed: bool
    grant: str | None
    """``namespace/name`` of the ReferenceGrant that allows it (None: same namespace, or denied)."""
    detail: str
    """One sentence for a finding."""
    near_misses: tuple[str, ...] = ()
    """Grants in the target namespace that fall short, each with what does not fit."""


def _group(value: Any) -> str:
    return value or ""


def _from_miss(entry: Mapping[str, Any], ref: Reference) -> str | None:
    wrong = []
    if _group(entry.get("group")) != ref.from_group:
        wrong.append(f"group {_group(entry.get('group'))!r} is not {ref.from_group!r}")
    if entry.get("kind") != ref.from_kind:
        wrong.append(f"kind {entry.get('kind')} is not {ref.from_kind}")
    if entry.get("namespace") != ref.from_namespace:
        wrong.append(f"namespace {entry.get('namespace')} is not {ref.from_namespace}")
    return ", ".join(wrong) or None


def _to_miss(entry: Mapping[str, Any], ref: Reference) -> str | None:
    wrong = []
    if _group(entry.get("group")) != ref.to_group:
        wrong.append(f"group {_group(entry.get('group'))!r} is not {ref.to_group!r}")
    if entry.get("kind") != ref.to_kind:
        wrong.append(f"kind {entry.get('kind')} is not {ref.to_kind}")
    if entry.get("name") and entry.get("name") != ref.to_name:
        wrong.append(f"name {entry.get('name')} is not {ref.to_name}")
    return ", ".join(wrong) or None


def check_reference(grants: Iterable[Mapping[str, Any]], ref: Reference) -> GrantVerdict:
    """Is ``ref`` allowed by one of ``grants`` (any namespace; only those in the target's count)?"""
    if not ref.cross_namespace:
        return GrantVerdict(True, None, "same namespace: no ReferenceGrant needed")
    near: list[str] = []
    for grant in grants:
        meta = grant.get("metadata") or {}
        if meta.get("namespace") != ref.to_namespace:
            continue
        spec = grant.get("spec") or {}
        label = f"{meta.get('namespace')}/{meta.get('name', '?')}"
        froms = [_from_miss(f, ref) for f in spec.get("from") or []]
        tos = [_to_miss(t, ref) for t in spec.get("to") or []]
        if None in froms and None in tos:
            return GrantVerdict(True, label, f"allowed by ReferenceGrant {label}")
        why = []
        if None not in froms:
            why.append("from: " + ("; ".join(m for m in froms if m) or "no entries"))
        if None not in tos:
            why.append("to: " + ("; ".join(m for m in tos if m) or "no entries"))
        near.append(f"ReferenceGrant {label}: {' / '.join(why)}")
    detail = (f"{ref.text} needs a ReferenceGrant in namespace {ref.to_namespace} (RefNotPermitted)"
              + (f"; {len(near)} there do not fit" if near else "; there is none"))
    return GrantVerdict(False, None, detail, tuple(near))


def grant_for(ref: Reference, name: str | None = None) -> dict[str, Any]:
    """The ReferenceGrant that would allow ``ref``, as a manifest dict (the caller renders it)."""
    to: dict[str, Any] = {"group": ref.to_group, "kind": ref.to_kind, "name": ref.to_name}
    return {
        "apiVersion": GRANT_API_VERSION,
        "kind": "ReferenceGrant",
        "metadata": {"name": name or f"allow-{ref.from_namespace}-{ref.from_kind.lower()}s",
                     "namespace": ref.to_namespace},
        "spec": {"from": [{"group": ref.from_group, "kind": ref.from_kind, "namespace": ref.from_namespace}],
                 "to": [to]},
    }
