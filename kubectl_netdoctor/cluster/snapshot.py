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

import gc
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
    try:
        return safeload.load_yaml_all(text)
    except safeload.InputError as err:
        raise SnapshotError(path, str(err), err.line) from None
    except Exception as err:
        if not _is_yaml_error(err):
            raise
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SnapshotError(path, f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None


def _is_yaml_error(err: Exception) -> bool:
    """A PyYAML syntax error. PyYAML is imported only where the fast path cannot read a text
    (see :mod:`~kubectl_netdoctor.parsers.yaml_fast`), and any YAMLError comes after that."""
    yaml = sys.modules.get("yaml")
    return yaml is not None and isinstance(err, yaml.YAMLError)


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
    """Implements :class:`~kubectl_netdoctor.cluster.reader.Reader` over saved files.

    Objects are validated when a read first reaches them (lazily): a diagnosis reads a few dozen
    of a 5,000-Service namespace's 15,000 objects. An object whose kind, name or namespace is
    malformed, which any query might have meant, is validated as it is loaded. :attr:`rejected`
    validates the rest: the report's note on malformed objects no step read needs them all.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.source = f"snapshot {self.path}"
        self._objects: list[Obj] = []
        """Every object read, in file order, malformed ones included."""
        self._sources: list[str] = []
        self._fine: list[bool | None] = []
        """Per object: True well formed, False malformed (see ``_rejected``), None not validated yet."""
        self._rejected: dict[int, validate.Rejected] = {}
        self._pending = 0
        self._index: _Index | None = None
        self._queries: dict[tuple, list[Obj]] = {}
        self._captures: dict[str, dict[str, str]] = {}
        self._capture_paths: dict[tuple[str, str], str] = {}
        if self.path.is_dir():
            files = sorted(p for p in self.path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif self.path.is_file():
            files = [self.path]
        else:
            raise SnapshotError(str(self.path), "no such file or directory")
        with _collector_paused() as size:
            for f in files:
                size.chars += self._load(f)
        if not self._captures and not any(self._check(i) for i in range(len(self._objects))):
            bad = self.rejected  # every object was validated on the way: all malformed
            if bad:
                raise _rejected_error(bad[0], len(bad) - 1)
            raise SnapshotError(str(self.path), "holds no Kubernetes objects")

    @classmethod
    def from_objects(cls, objs: list[Obj], captures: dict[str, dict[str, str]] | None = None,
                     source: str = "memory") -> SnapshotReader:
        """A reader over objects already in memory (tests, and snapshots built by code)."""
        self = cls.__new__(cls)
        self.path, self.source = Path(source), f"snapshot {source}"
        self._objects, self._sources, self._fine, self._rejected, self._pending = [], [], [], {}, 0
        self._index, self._queries = None, {}
        for obj in objs:
            self._add(obj, source)
        self._captures, self._capture_paths = dict(captures or {}), {}
        return self

    def _load(self, f: Path) -> int:
        """Read one file; its length in characters."""
        name = f.name
        for suffix in sorted(CAPTURE_SUFFIXES, key=len, reverse=True):
            if name.endswith(suffix) and len(name) > len(suffix):
                node = name[: -len(suffix)]
                text = self._captures.setdefault(node, {})[CAPTURE_SUFFIXES[suffix]] = self._read(f)
                self._capture_paths[(node, CAPTURE_SUFFIXES[suffix])] = str(f)
                return len(text)
        if f.suffix not in OBJECT_SUFFIXES:
            if f == self.path:  # a single file must be usable; in a directory, stray files are skipped
                raise SnapshotError(str(f), f"unknown file type (expected {', '.join(OBJECT_SUFFIXES)} or a capture)")
            return 0
        text = self._read(f)
        for obj in parse_documents(str(f), text):
            if isinstance(obj, dict) and obj.get("kind") == CAPTURE_KIND:  # needed now, so validated now
                found = validate.problems(obj, limit=1)
                if not found:
                    self._take_capture(obj, f)
                    continue
                self._add(obj, str(f), found)
            else:
                self._add(obj, str(f))
        return len(text)

    def _take_capture(self, obj: Obj, f: Path) -> None:
        node = obj["metadata"]["name"]
        for kind, text in (obj.get("data") or {}).items():
            if kind in CAPTURE_KINDS:
                self._captures.setdefault(node, {})[kind] = text
                self._capture_paths[(node, kind)] = f"{f} (NodeCapture {node} data.{kind})"

    def _add(self, obj: Any, source: str, problems: list[str] | None = None) -> None:
        i = len(self._objects)
        self._objects.append(obj)
        self._sources.append(source)
        self._fine.append(None)
        self._pending += 1
        if problems:
            self._fine[i], self._pending = False, self._pending - 1
            self._rejected[i] = validate.reject(obj, problems[0], source)
        elif _identity(obj) is None:  # malformed where any query might have meant it: known now
            self._check(i)

    def _check(self, i: int) -> bool:
        """Validate object ``i`` (once): True when well formed, else it joins :attr:`rejected`."""
        fine = self._fine[i]
        if fine is None:
            found = validate.problems(self._objects[i], limit=1)
            fine = self._fine[i] = not found
            self._pending -= 1
            if found:
                self._rejected[i] = validate.reject(self._objects[i], found[0], self._sources[i])
        return fine

    @property
    def rejected(self) -> list[validate.Rejected]:
        """Objects left out because a field has the wrong shape (see :mod:`kubectl_netdoctor.validate`),
        in file order. Asking validates every object not read yet (a report asks once, when its
        steps are done, for its note on malformed objects no step read)."""
        if self._pending:
            for i, fine in enumerate(self._fine):
                if fine is None:
                    self._check(i)
        return self._rejected_so_far()

    def _rejected_so_far(self) -> list[validate.Rejected]:
        return [self._rejected[i] for i in sorted(self._rejected)]

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
            self._index = _Index(self._objects, self._fine)
            for i in self._index.unindexed:  # CNI policies named like a core kind: few, checked now
                self._check(i)
        return self._index

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The object, or None. An object of that name that was left out as malformed is a
        SnapshotError naming it: answering "not found" would be a false diagnosis."""
        index = self._indexed()
        if namespace is not None:
            candidates = index.by_name.get((kind, namespace, name), ())
        else:
            candidates = [i for i in index.of_kind(kind) if self._objects[i]["metadata"]["name"] == name]
        found = next((self._objects[i] for i in candidates if self._check(i)), None)
        if found is None and self._rejected:
            bad = next((r for r in self._rejected_so_far() if r.is_named(kind, namespace, name)), None)
            if bad is not None:
                raise _rejected_error(bad)
        return found

    def ignored(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> list[validate.Rejected]:
        """The malformed objects that :meth:`list` with these arguments may have left out."""
        self._query(kind, namespace, label_selector, field_selector)
        return [r for r in self._rejected_so_far() if r.matches(kind, namespace, label_selector, field_selector)]

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        return list(self._query(kind, namespace, label_selector, field_selector))

    def _query(self, kind: str, namespace: str | None, label_selector: str | None,
               field_selector: str | None) -> list[Obj]:
        """The well-formed objects a ``list`` returns. On the way it validates every object the query
        returns, and every one that, were it malformed, :meth:`ignored` would count as left out: its
        labels are malformed or match, and its name matches a ``metadata.name=`` term."""
        key = (kind, namespace, label_selector, field_selector)
        if key in self._queries:
            return self._queries[key]
        index = self._indexed()
        candidates = index.of_kind(kind) if namespace is None else index.by_namespace.get((kind, namespace), ())
        try:
            expressions = labels.parse_selector_string(label_selector) if label_selector else None
        except ValueError as err:
            raise SnapshotError(str(self.path), str(err)) from None
        selector = {"matchExpressions": expressions} if expressions else None
        if expressions and namespace is not None and any(_equality(e) for e in expressions):
            # A scan asks for each Service's EndpointSlices by label: a look-up, not a pass over them all.
            candidates = index.labelled(self._objects, kind, namespace, next(e for e in expressions if _equality(e)))
        names = _names_asked(field_selector)
        out = []
        for i in candidates:
            o = self._objects[i]
            meta = o["metadata"]
            if names is not None and meta["name"] not in names:
                continue
            if selector is not None:
                found = meta.get("labels")
                if (found is None or type(found) is dict) and not labels.matches_label_selector(selector, found) \
                        and LABELS_OK(found):  # labels that do not match, and are well formed
                    continue
            if self._check(i) and matches_field_selector(field_selector, o):
                out.append(o)
        self._queries[key] = out
        return out

    def node_captures(self) -> dict[str, dict[str, str]]:
        return self._captures

    def capture_source(self, node: str, kind: str) -> str:
        """The file a capture came from, for error messages that name it."""
        return self._capture_paths.get((node, kind), f"{node}.{kind}")

    def policy_crds(self, namespaces: list[str]) -> list[str]:
        index = self._indexed()
        spaces = (None, *namespaces)
        return sorted(
            kinds.describe(self._objects[i]) for i in index.policies
            if self._objects[i]["metadata"].get("namespace") in spaces and self._check(i)
        )

    def default_namespace_for(self, service: str) -> str:
        """The one namespace holding a Service of that name, else ``default``."""
        named = [i for i in self._indexed().of_kind("Service") if self._objects[i]["metadata"]["name"] == service]
        holders = sorted({self._objects[i]["metadata"].get("namespace", "default") for i in named if self._check(i)}
                         | {r.namespace for r in self._rejected_so_far()  # a malformed one: get() then names its fault
                            if r.kind == "Service" and r.name == service and r.namespace})
        return holders[0] if len(holders) == 1 else "default"


def _identity(obj: Any) -> tuple[str, str | None, str] | None:
    """Kind, namespace and name of an object, when they are well formed and so the index can hold it
    before it is validated; None for an object that is malformed right there (see ``_fine`` in
    :mod:`~kubectl_netdoctor.validate`: each None below is one of its refusals)."""
    if not isinstance(obj, dict):
        return None
    kind, meta, api = obj.get("kind"), obj.get("metadata"), obj.get("apiVersion", "")
    if not isinstance(kind, str) or not isinstance(meta, dict) or not isinstance(api, str):
        return None
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or ("namespace" in meta and not isinstance(namespace, str)):
        return None
    if namespace is None and kind in validate.NAMESPACED and validate.SCHEMAS.get(kind) is not None \
            and (api.split("/", 1)[0] if "/" in api else "") in validate.CORE_GROUPS:
        return None  # a namespaced kind without its namespace
    return kind, namespace, name


def _names_asked(field_selector: str | None) -> set[str] | None:
    """The names a ``metadata.name=`` term limits a query to (as :meth:`Rejected.matches` reads the
    selector: an object outside them is neither returned nor counted as left out); None: any."""
    names = None
    for term in (field_selector or "").split(","):
        key, _, value = term.replace("==", "=").partition("=")
        if key.strip() == "metadata.name" and not key.endswith("!"):
            names = {value.strip()} if names is None else names & {value.strip()}
    return names


LABELS_OK = validate.LABELS.ok  # type: ignore[attr-defined]
_POLICY_KIND_NAMES = frozenset(k.kind for k in kinds.POLICY_KINDS)


class _Index:
    """A snapshot's objects (their positions) by kind, by (kind, namespace) and by (kind, namespace,
    name), in file order; objects known malformed are left out, the others are validated as reads
    reach them.

    A core kind's entries leave out the CNI policy CRDs that share its name (Calico's
    NetworkPolicy is not networking.k8s.io's): those are ``unindexed``. Where names repeat,
    ``get`` answers the first well-formed one, as a scan in file order would.
    """

    def __init__(self, objects: list[Obj], fine: list[bool | None]):
        self.kinds: dict[str, list[int]] = {}
        self.by_namespace: dict[tuple[str, str | None], list[int]] = {}
        self.by_name: dict[tuple[str, str | None, str], list[int]] = {}
        self.unindexed: list[int] = []
        self.by_label: dict[tuple[str, str], tuple[dict[tuple[str, str], list[int]], list[int]]] = {}
        """(kind, namespace) -> ((label key, value) -> positions, positions with malformed labels)."""
        self.policies: list[int] = []
        """CNI-specific policy objects, for ``policy_crds``."""
        for i, o in enumerate(objects):
            if fine[i] is False:
                continue
            kind = o["kind"]
            if kind in _POLICY_KIND_NAMES and kinds.kind_of(o) is not None:
                self.policies.append(i)
                if kind in KINDS:  # a CNI policy CRD of a core kind name
                    self.unindexed.append(i)
                    continue
            meta = o["metadata"]
            ns = meta.get("namespace")
            self.kinds.setdefault(kind, []).append(i)
            self.by_namespace.setdefault((kind, ns), []).append(i)
            self.by_name.setdefault((kind, ns, meta["name"]), []).append(i)

    def of_kind(self, kind: str) -> list[int]:
        return self.kinds.get(kind, [])

    def labelled(self, objects: list[Obj], kind: str, namespace: str, expression: dict) -> list[int]:
        """The objects of ``kind`` in ``namespace`` that carry the label ``key=value`` of an equality
        ``expression``, plus those whose labels are malformed (the query validates them, so that
        :meth:`SnapshotReader.ignored` counts them), in file order. Built per (kind, namespace) on
        first use."""
        key = (kind, namespace)
        if key not in self.by_label:
            table: dict[tuple[str, str], list[int]] = {}
            odd: list[int] = []
            for i in self.by_namespace.get(key, ()):
                found = objects[i]["metadata"].get("labels")
                if found is None:
                    continue
                if type(found) is not dict or not LABELS_OK(found):
                    odd.append(i)
                    continue
                for pair in found.items():
                    table.setdefault(pair, []).append(i)
            self.by_label[key] = (table, odd)
        table, odd = self.by_label[key]
        hits = table.get((expression["key"], expression["values"][0]), [])
        return sorted(hits + odd) if odd else hits


def _equality(expression: dict) -> bool:
    """``key=value`` (``In`` with one value): a look-up in the label index answers it."""
    return expression.get("operator") == "In" and len(expression.get("values") or ()) == 1


class _TextRead:
    chars = 0


@contextmanager
def _collector_paused() -> Iterator[_TextRead]:
    """Python's cyclic garbage collector off while a snapshot loads, and the loaded objects out of its
    sight afterwards if they are many (``gc.freeze``). Decoding builds a million containers and not
    one cycle; each of the collector's passes over them, triggered by the allocations themselves,
    cost as much as the decoding (json.loads of 42 MB: 0.9 s with the collector, 0.4 s without), and
    the objects live as long as the process anyway."""
    size = _TextRead()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield size
    finally:
        if enabled:
            gc.enable()
        if size.chars >= FREEZE_CHARS:
            gc.freeze()


FREEZE_CHARS = 4_000_000
"""Snapshots at least this large (in characters) are frozen out of the collector's sight once read."""
