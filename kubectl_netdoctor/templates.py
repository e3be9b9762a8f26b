"""Which pod template a pod was made from, so advice can name the template to fix.

Pods behind one selector may come from different templates: two Deployments
(a canary), or two ReplicaSets of one Deployment in the middle of a rollout. When
those templates differ in ports or in where the app binds, the fix belongs in the
odd template, not in the Service (re-pointing targetPort would break the others).
Pure functions over kubectl-JSON pod dicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.objects import Obj, container_ports


@dataclass(frozen=True)
class Template:
    """The template a pod was stamped from: its controller and revision."""

    kind: str
    """``Deployment``, ``ReplicaSet``, ``StatefulSet``, ``DaemonSet``, ``Job``... or ``Pod`` (no controller)."""
    name: str
    revision: str = ""
    """The ReplicaSet (for a Deployment's pods) or the controller revision hash."""

    def describe(self) -> str:
        if self.kind == "Deployment":
            return f"Deployment {self.name} (ReplicaSet {self.revision})"
        if self.revision:
            return f"{self.kind} {self.name} (revision {self.revision})"
        return f"{self.kind} {self.name}"

    def edit_command(self, namespace: str) -> str:
        if self.kind == "Pod":
            return f"kubectl -n {namespace} edit pod {self.name}  # a bare pod: fix its manifest and re-create it"
        return f"kubectl -n {namespace} edit {self.kind.lower()} {self.name}"

    def patch_command(self, namespace: str, ops: list[tuple[str, str, Any]]) -> str | None:
        """A ``kubectl patch --type json`` of this template: ``ops`` are ``(op, path in the pod spec, value)``
        (``("replace", "/containers/0/readinessProbe/tcpSocket/port", 8080)``). None for a bare pod, whose
        spec cannot be patched that way: fix its manifest and re-create it."""
        if self.kind not in PATCHABLE:
            return None
        doc = [{"op": op, "path": "/spec/template/spec" + path, "value": value} for op, path, value in ops]
        return (f"kubectl -n {namespace} patch {self.kind.lower()} {self.name} --type json "
                f"-p '{json.dumps(doc, separators=(',', ':'))}'")


PATCHABLE = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
"""Controllers whose pod template ``/spec/template/spec`` a JSON patch can change (a bare ReplicaSet's new
template reaches only the pods made after it; a Job's template cannot change)."""


def template_of(pod: Obj) -> Template:
    """A Deployment's pods are owned by a ReplicaSet named ``<deployment>-<pod-template-hash>``."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None:
        return Template("Pod", meta.get("name", "?"))
    kind, name = owner.get("kind", "?"), owner.get("name", "?")
    if kind == "ReplicaSet":
        suffix = labels.get("pod-template-hash")
        if suffix and name.endswith("-" + suffix):
            return Template("Deployment", name[: -len(suffix) - 1], name)
        return Template("ReplicaSet", name)
    return Template(kind, name, labels.get("controller-revision-hash", ""))


def by_template(pods: list[Obj]) -> dict[Template, list[Obj]]:
    """Pods grouped by template, in the order the templates first appear."""
    out: dict[Template, list[Obj]] = {}
    for p in pods:
        out.setdefault(template_of(p), []).append(p)
    return out


def declared_ports(pod: Obj) -> tuple[str, ...]:
    """``http 8080/TCP`` for each declared container port, sorted: a template's port signature."""
    return tuple(sorted({f"{p.get('name') or '-'} {p.get('containerPort')}/{p.get('protocol', 'TCP')}"
                         for _, p in container_ports(pod)}))


def pod_names(pods: list[Obj]) -> str:
    names = [p["metadata"]["name"] for p in pods]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
