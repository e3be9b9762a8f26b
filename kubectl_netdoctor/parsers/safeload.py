"""YAML and JSON decoding with bounds: what a user's file may cost to read.

A snapshot is input from anyone, so decoding it must end, quickly, in either the
data or one clear error. Three things would otherwise break the tool:

* **Depth.** libyaml's composer recurses in C: ``[[[[...]]]]`` 100,000 levels deep
  overflows the C stack (a segfault, no traceback); PyYAML's Python composer and
  the checks raise RecursionError far earlier. Kubernetes objects nest about 15
  levels, so :data:`MAX_DEPTH` is generous.
* **Expansion.** YAML aliases share one decoded object: a "billion laughs" of nine
  anchors that each repeat the previous one nine times is a few hundred bytes, loads
  instantly, and becomes 387 million values for whoever walks it (the selector
  renderer did, for more than 20 s). An anchor may even contain itself. Without
  aliases a document never decodes to more values than it has characters, so that
  is the budget; a self-referencing anchor exceeds :data:`MAX_DEPTH` on the way.
* **Numbers.** Python refuses to convert a decimal integer of more than 4,300
  digits; hex or octal ones convert, and break later when printed. No Kubernetes
  field exceeds 64 bits.

Pure functions: text in, data or :class:`InputError` out (the caller names the file).
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_DEPTH = 100
"""Deepest nesting accepted (Kubernetes objects nest about 15 levels; CRD schemas about 40)."""
MAX_INT_BITS = 64
"""No Kubernetes field holds more than an int64 (or uint64)."""

_LONG_INT = re.compile(r"\d{4300,}")
_ALIAS = re.compile(r"(^|[\s\[{,:-])\*[^\s,\]}]")


class InputError(ValueError):
    """Decoded input that is nested too deeply, expands too far, or holds an out-of-range number."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _too_long_int(text: str) -> InputError:
    m = _LONG_INT.search(text)
    return InputError("integer of more than 4300 digits", _line_of(text, m.start()) if m else None)


def load_json(text: str) -> Any:
    """``json.loads`` with the bounds above. Raises json.JSONDecodeError (with line) or InputError."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise InputError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # int() refused more than 4300 digits
        raise _too_long_int(text) from None
    _check_json_bounds(doc)
    return doc


def load_yaml_all(text: str, fast: bool = True) -> list[Any]:
    """Every document of a YAML stream (``None`` documents dropped), with the bounds above.

    Raises ``yaml.YAMLError`` for bad syntax (with its mark) or :class:`InputError`.
    Timestamps stay strings, as the API server (JSON) has them. Where
    :mod:`~kubectl_netdoctor.parsers.yaml_fast` can vouch that it reads the text as PyYAML does
    (``kubectl get -o yaml`` output), it reads it, ten times faster; any other text, and any error,
    is PyYAML's. ``fast=False`` reads with PyYAML alone: the reference the fast path is held to.
    """
    shallow = _shallow(text)
    if shallow and fast:
        from kubectl_netdoctor.parsers import yaml_fast

        vouched = yaml_fast.load_all(text, _pyyaml_load_all, MAX_DEPTH)
        if vouched is not None:  # bounded as check_bounds would: see yaml_fast
            return [d for d in vouched if d is not None]
    import yaml  # only snapshots and kube-proxy's config need YAML: keep it off the start-up path

    loader = _fast_loader() if shallow else _bounded_loader()
    try:
        docs = [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except InputError:
        raise
    except ValueError:  # int() refused more than 4300 digits
        raise _too_long_int(text) from None
    except RecursionError:  # only without libyaml, where the composer recurses in Python
        raise InputError(f"nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as err:
        # libyaml from PyYAML 6.0.4 on has a nesting limit of its own: the same refusal, one wording.
        if "maximum nesting depth" not in str(err):
            raise
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        raise InputError(f"nested deeper than {MAX_DEPTH} levels", mark.line + 1 if mark else None) from None
    try:
        check_bounds(docs, len(text), start_depth=-1)
    except InputError as err:
        if str(err).startswith("nested") and _ALIAS.search(text):
            raise InputError(f"{err} (or a YAML alias inside its own anchor)") from None
        raise
    return docs


def load_yaml(text: str) -> Any:
    """One YAML document (None when empty), bounded like :func:`load_yaml_all`."""
    docs = load_yaml_all(text)
    return docs[0] if docs else None


def check_bounds(doc: Any, size: int, start_depth: int = 0) -> None:
    """Walk the decoded data once (iteratively): depth, expanded size and integer width.

    ``size`` is the length of the text it came from: the expansion budget.
    """
    budget = size + 64
    stack: list[tuple[Any, int]] = [(doc, start_depth)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > budget:
            raise InputError(f"expands to more than {budget} values: YAML aliases that repeat (or contain) each other")
        if isinstance(node, dict):
            if depth >= MAX_DEPTH:
                raise InputError(f"nested deeper than {MAX_DEPTH} levels")
            for k, v in node.items():
                if isinstance(k, int):
                    _check_int(k)
                stack.append((v, depth + 1))
        elif isinstance(node, list):
            if depth >= MAX_DEPTH:
                raise InputError(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, int):
            _check_int(node)


def _check_json_bounds(doc: Any) -> None:
    """:func:`check_bounds` for what ``json.loads`` returned: JSON has no aliases, so it cannot expand
    beyond its text; depth and integer width are what is left to check. Only containers go on the
    stack, their scalars are checked where they sit: a 5,000-Service snapshot holds about a million
    scalars, and pushing each one cost as much as decoding the file."""
    # json.loads builds exactly dict, list, str, int, float, bool and None: type() tests suffice.
    if type(doc) is not dict and type(doc) is not list:
        if type(doc) is int:
            _check_int(doc)
        return
    stack: list[tuple[Any, int]] = [(doc, 0)]
    push, pop = stack.append, stack.pop
    while stack:
        node, depth = pop()
        if depth >= MAX_DEPTH:
            raise InputError(f"nested deeper than {MAX_DEPTH} levels")
        below = depth + 1
        for v in node.values() if type(node) is dict else node:  # JSON keys are strings
            t = type(v)
            if t is dict or t is list:
                push((v, below))
            elif t is int and v.bit_length() > MAX_INT_BITS:
                _check_int(v)


def _check_int(value: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise InputError(f"integer wider than {MAX_INT_BITS} bits ({value.bit_length()} bits)")


def _pyyaml_load_all(text: str) -> list[Any]:
    """PyYAML's reading of a small text, unbounded: the fast path's reference for a doubtful word."""
    import yaml

    return list(yaml.load_all(text, Loader=_fast_loader()))


_INDENT_CHARS = str.maketrans("\t-", "  ")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def _shallow(text: str) -> bool:
    """Cheap proof that libyaml's recursive composer is safe: at most MAX_DEPTH levels of flow
    brackets (counting brackets inside strings too) and of indentation (a line starting with
    MAX_DEPTH spaces, tabs or dashes). Each pass runs in C over the whole text; Python counts only
    the brackets left once the empty pairs (``{}`` and ``[]``, most of a snapshot's) are gone."""
    spaced = text.translate(_INDENT_CHARS)
    margin = " " * MAX_DEPTH
    if spaced.startswith(margin) or "\n" + margin in spaced:
        return False
    brackets = text.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)  # UTF-8 keeps ASCII apart
    if len(brackets) <= MAX_DEPTH:
        return True
    # Each replace() removes one level at most along any path (pairs it creates stay): two levels lost at most.
    steps = list(accumulate(array("b", brackets.replace(b"{}", b"").replace(b"[]", b"").translate(_BRACKET_STEPS))))
    if not steps or (min(steps) >= 0 and max(steps) <= MAX_DEPTH - 2):  # never below 0: no clamp to mimic
        return True
    depth = 0
    for b in brackets:
        depth = depth + 1 if b in b"[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            return False
    return True


_LOADERS: dict[str, Any] = {}


def _no_timestamps(cls: Any) -> Any:
    cls.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in cls.yaml_implicit_resolvers.items()
    }
    return cls


def _fast_loader() -> Any:
    """libyaml's loader where the text is provably shallow (twice as fast as the bounded one)."""
    if "fast" not in _LOADERS:
        import yaml

        base = getattr(yaml, "CSafeLoader", None)
        _LOADERS["fast"] = _no_timestamps(type("FastLoader", (base,), {})) if base else _bounded_loader()
    return _LOADERS["fast"]


def _bounded_loader() -> Any:
    """libyaml's parser (events) under PyYAML's Python composer, which counts depth as it goes."""
    if "bounded" not in _LOADERS:
        import yaml
        from yaml.composer import Composer
        from yaml.constructor import SafeConstructor
        from yaml.resolver import Resolver

        try:
            from yaml._yaml import CParser as Parser  # type: ignore[import-not-found]
        except ImportError:  # PyYAML without libyaml
            from yaml.parser import Parser  # type: ignore[assignment]
            from yaml.reader import Reader
            from yaml.scanner import Scanner

            class PyParser(Reader, Scanner, Parser):  # type: ignore[misc,valid-type]
                def __init__(self, stream: str):
                    Reader.__init__(self, stream)
                    Scanner.__init__(self)
                    Parser.__init__(self)

            Parser = PyParser  # type: ignore[misc,assignment]

        class BoundedComposer(Composer):
            depth = 0

            def compose_node(self, parent: Any, index: Any) -> Any:
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    event = self.peek_event()
                    raise InputError(f"nested deeper than {MAX_DEPTH} levels",
                                     event.start_mark.line + 1 if event.start_mark else None)
                try:
                    return Composer.compose_node(self, parent, index)
                finally:
                    self.depth -= 1

        class BoundedLoader(BoundedComposer, Parser, SafeConstructor, Resolver):  # type: ignore[misc,valid-type]
            get_single_node = Composer.get_single_node
            check_node = Composer.check_node
            get_node = Composer.get_node

            def __init__(self, stream: str):
                Parser.__init__(self, stream)
                Composer.__init__(self)
                SafeConstructor.__init__(self)
                Resolver.__init__(self)

        _LOADERS["bounded"] = _no_timestamps(BoundedLoader)
        del yaml
    return _LOADERS["bounded"]
