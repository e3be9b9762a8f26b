"""A saved cluster, read back: the offline twin of the live reader.

A snapshot is whatever ``kubectl get ... -o yaml|json`` prints (one object, a
``List``, or multi-document YAML), in one file or a directory of files, plus
optional node rule captures. Captures are files named after their node:

* ``<node>.iptables-save``  output of ``iptables-save`` (all tables or ``-t nat``)
* ``<node>.ipvsadm``        output of ``ipvsadm -Ln``
* ``<node>.nft``            output of ``nft list table ip kube-proxy`` (or ``nft -j ...`` JSON)
* ``<node>.nft.json``       the same, JSON

``kubectl netdoctor snapshot`` embeds captures in its single file as
``kind: NodeCapture`` objects (``metadata.name`` = node, ``data`` = {kind: text}).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubectl_netdoctor import labels, validate
from kubectl_netdoctor.cluster.reader import KINDS, Obj
from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.kubeproxy.capture import CAPTURE_KINDS
from kubectl_netdoctor.netpol import kinds
from kubectl_netdoctor.parsers import safeload

CAPTURE_KIND = "NodeCapture"
OBJECT_SUFFIXES = (".yaml", ".yml", ".json")
CAPTURE_SUFFIXES = {".iptables-save": "iptables-save", ".ipvsadm": "ipvsadm", ".nft": "nft", ".nft.json": "nft"}

def _field(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def matches_field_selector(selector: str | None, obj: Obj) -> bool:
    """The small ``--field-selector`` subset the API offers: ``a.b=v``, ``a.b==v``, ``a.b!=v``, comma-joined."""
    if not selector:
        return True
    for term in selector.split(","):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if _field(obj, key.strip()) == value.strip():
                return False
        else:
            key, value = term.replace("==", "=").split("=", 1)
            if _field(obj, key.strip()) != value.strip():
                return False
    return True


def _yaml_documents(path: str, text: str) -> list[Any]:
    import yaml  # only snapshots need YAML: keep it off the start-up path

    try:
        return safeload.load_yaml_all(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SnapshotError(path, f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except safeload.InputError as err:
        raise SnapshotError(path, str(err), err.line) from None


def parse_documents(path: str, text: str) -> list[Obj]:
    """Objects in one file: JSON or YAML, single object, List, or several documents.

    Decoding is bounded (:mod:`kubectl_netdoctor.safeload`); the objects' fields are
    not checked here (see :func:`kubectl_netdoctor.validate.split`).
    """
    if text.lstrip().startswith(("{", "[")):
        try:
            docs = [safeload.load_json(text)]
        except json.JSONDecodeError as err:
            raise SnapshotError(path, f"invalid JSON: {err.msg}", err.lineno) from None
        except safeload.InputError as err:
            raise SnapshotError(path, str(err), err.line) from None
    else:
        docs = _yaml_documents(path, text)
    out: list[Obj] = []
    for doc in docs:
        out.extend(_flatten(path, doc))
    return out


def _flatten(path: str, doc: Any) -> Iterable[Obj]:
    if isinstance(doc, list):
        for d in doc:
            yield from _flatten(path, d)
        return
    if not isinstance(doc, dict) or "kind" not in doc:
        raise SnapshotError(path, "not a Kubernetes object or List (no 'kind')")
    kind = doc["kind"]
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        # `kubectl get pods -o yaml` omits kind on items: derive it from the List kind.
        item_kind = kind[: -len("List")] or None
        for item in doc["items"]:
            if isinstance(item, dict) and "kind" not in item and item_kind:
                item = {"kind": item_kind, **item}
            yield item  # an item's shape is validation's business: one bad item is not a bad file
        return
    yield doc


def _rejected_error(bad: validate.Rejected, more: int = 0) -> SnapshotError:
    also = f" (and {more} more malformed object{'s' if more > 1 else ''})" if more else ""
    return SnapshotError(bad.source, f"{bad.object}: {bad.problem}{also}")


class SnapshotReader:
    """Implements :class:`~kubectl_netdoctor.cluster.reader.Reader` over saved files."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.source = f"snapshot {self.path}"
        self._objects: list[Obj] = []
        self._index: _Index | None = None
        self._captures: dict[str, dict[str, str]] = {}
        self._capture_paths: dict[tuple[str, str], str] = {}
        self.rejected: list[validate.Rejected] = []
        """Objects left out because a field has the wrong shape (see :mod:`kubectl_netdoctor.validate`)."""
        if self.path.is_dir():
            files = sorted(p for p in self.path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif self.path.is_file():
            files = [self.path]
        else:
            raise SnapshotError(str(self.path), "no such file or directory")
        for f in files:
            self._load(f)
        if not self._objects and not self._captures:
            if self.rejected:
                raise _rejected_error(self.rejected[0], len(self.rejected) - 1)
            raise SnapshotError(str(self.path), "holds no Kubernetes objects")

    @classmethod
    def from_objects(cls, objs: list[Obj], captures: dict[str, dict[str, str]] | None = None,
                     source: str = "memory") -> SnapshotReader:
        """A reader over objects already in memory (tests, and snapshots built by code)."""
        self = cls.__new__(cls)
        self.path, self.source = Path(source), f"snapshot {source}"
        self._objects, self.rejected = validate.split(list(objs), source)
        self._captures, self._capture_paths = dict(captures or {}), {}
        self._index = None
        return self

    def _load(self, f: Path) -> None:
        name = f.name
        for suffix in sorted(CAPTURE_SUFFIXES, key=len, reverse=True):
            if name.endswith(suffix) and len(name) > len(suffix):
                node = name[: -len(suffix)]
                self._captures.setdefault(node, {})[CAPTURE_SUFFIXES[suffix]] = self._read(f)
                self._capture_paths[(node, CAPTURE_SUFFIXES[suffix])] = str(f)
                return
        if f.suffix not in OBJECT_SUFFIXES:
            if f == self.path:  # a single file must be usable; in a directory, stray files are skipped
                raise SnapshotError(str(f), f"unknown file type (expected {', '.join(OBJECT_SUFFIXES)} or a capture)")
            return
        objs, rejected = validate.split(parse_documents(str(f), self._read(f)), str(f))
        self.rejected += rejected
        for obj in objs:
            if obj["kind"] == CAPTURE_KIND:
                for kind, text in (obj.get("data") or {}).items():
                    if kind in CAPTURE_KINDS:
                        self._captures.setdefault(obj["metadata"]["name"], {})[kind] = text
                        self._capture_paths[(obj["metadata"]["name"], kind)] = \
                            f"{f} (NodeCapture {obj['metadata']['name']} data.{kind})"
            else:
                self._objects.append(obj)

    @staticmethod
    def _read(f: Path) -> str:
        try:
            return f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise SnapshotError(str(f), str(err)) from None

    # -- Reader --------------------------------------------------------------
    def _indexed(self) -> _Index:
        """Objects by kind and namespace, built once on first read (``_objects`` is final by then)."""
        if self._index is None:
            self._index = _Index(self._objects)
        return self._index

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The object, or None. An object of that name that was left out as malformed is a
        SnapshotError naming it: answering "not found" would be a false diagnosis."""
        index = self._indexed()
        if namespace is not None:
            found = index.by_name.get((kind, namespace, name))
        else:
            found = next((o for o in index.of_kind(kind) if o["metadata"]["name"] == name), None)
        if found is None and self.rejected:
            bad = next((r for r in self.rejected if r.is_named(kind, namespace, name)), None)
            if bad is not None:
                raise _rejected_error(bad)
        return found

    def ignored(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> list[validate.Rejected]:
        """The malformed objects that :meth:`list` with these arguments may have left out."""
        return [r for r in self.rejected if r.matches(kind, namespace, label_selector, field_selector)]

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        index = self._indexed()
        objs = index.of_kind(kind) if namespace is None else index.by_namespace.get((kind, namespace), ())
        try:
            selector = {"matchExpressions": labels.parse_selector_string(label_selector)} if label_selector else None
            return [
                o for o in objs
                if (selector is None or labels.matches_label_selector(selector, o["metadata"].get("labels")))
                and matches_field_selector(field_selector, o)
            ]
        except ValueError as err:
            raise SnapshotError(str(self.path), str(err)) from None

    def node_captures(self) -> dict[str, dict[str, str]]:
        return self._captures

    def capture_source(self, node: str, kind: str) -> str:
        """The file a capture came from, for error messages that name it."""
        return self._capture_paths.get((node, kind), f"{node}.{kind}")

    def policy_crds(self, namespaces: list[str]) -> list[str]:
        return sorted(
            kinds.describe(o) for o in self._objects
            if kinds.kind_of(o) is not None and o["metadata"].get("namespace") in (None, *namespaces)
        )

    def default_namespace_for(self, service: str) -> str:
        """The one namespace holding a Service of that name, else ``default``."""
        holders = sorted({s["metadata"].get("namespace", "default") for s in self.list("Service")
                          if s["metadata"]["name"] == service}
                         | {r.namespace for r in self.rejected  # a malformed one: get() then names its fault
                            if r.kind == "Service" and r.name == service and r.namespace})
        return holders[0] if len(holders) == 1 else "default"


class _Index:
    """A snapshot's objects by kind, by (kind, namespace) and by (kind, namespace, name), in file order.

    A core kind's entries leave out the CNI policy CRDs that share its name (Calico's
    NetworkPolicy is not networking.k8s.io's). Where names repeat, ``get`` answers the
    first, as a scan in file order would.
    """

    def __init__(self, objects: list[Obj]):
        self.kinds: dict[str, list[Obj]] = {}
        self.by_namespace: dict[tuple[str, str], list[Obj]] = {}
        self.by_name: dict[tuple[str, str | None, str], Obj] = {}
        for o in objects:
            kind = o.get("kind")
            if kind in KINDS and kinds.kind_of(o) is not None:  # a CNI policy CRD of a core kind name
                continue
            self.kinds.setdefault(kind, []).append(o)
            meta = o["metadata"]
            ns = meta.get("namespace")
            self.by_namespace.setdefault((kind, ns), []).append(o)
            self.by_name.setdefault((kind, ns, meta["name"]), o)

    def of_kind(self, kind: str) -> list[Obj]:
        return self.kinds.get(kind, [])
