"""Label selectors, both forms Kubernetes uses, as pure functions.

* ``spec.selector`` of a Service: a plain ``{key: value}`` map (all must match).
* ``metav1.LabelSelector`` (NetworkPolicy, ...): ``matchLabels`` plus
  ``matchExpressions`` with In, NotIn, Exists, DoesNotExist. An empty selector
  matches everything; a missing (None) one matches nothing where the API says so,
  so callers decide what None means.
* The string form (``app=web,tier in (a,b),!legacy``) used by ``-l``, so a
  snapshot can answer the same label-selected queries as the API server.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from kubectl_netdoctor.args import DNS1123_SUBDOMAIN

Labels = Mapping[str, str]


def matches_map(selector: Mapping[str, str], labels: Labels | None) -> bool:
    """A Service selector: every key/value pair must be present."""
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _expression_matches(expr: Mapping[str, Any], labels: Labels) -> bool:
    key, op = expr.get("key", ""), expr.get("operator", "")
    values = expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):  # labels.Parse's `key>N`, `key<N`: the label's value read as an integer
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    raise ValueError(f"unknown label selector operator {op!r}")


def matches_label_selector(selector: Mapping[str, Any] | None, labels: Labels | None) -> bool:
    """A ``metav1.LabelSelector``. ``{}`` matches everything; ``None`` is treated as ``{}``."""
    labels = labels or {}
    selector = selector or {}
    if not matches_map(selector.get("matchLabels") or {}, labels):
        return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def map_to_string(selector: Mapping[str, str]) -> str:
    """``{"app": "web"}`` -> ``app=web``, as ``kubectl get -l`` takes it."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def label_selector_to_string(selector: Mapping[str, Any] | None) -> str:
    """Render a ``metav1.LabelSelector`` in the ``-l`` syntax (for evidence and commands)."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key", ""), e.get("operator", ""), e.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


# -- the string form: k8s.io/apimachinery/pkg/labels.Parse, as kubectl -l reads it ------------------

_SYMBOLS = ("!=", "==", "!", "(", ")", ",", "=", ">", "<")
"""Tokens that end an identifier (whitespace ends one too), longest first as the lexer tries them."""
_OPERATORS = {"=": "In", "==": "In", "!=": "NotIn", "in": "In", "notin": "NotIn", ">": "Gt", "<": "Lt"}
_NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_INTEGER = re.compile(r"[-+]?\d{1,18}")


def _tokens(text: str) -> list[str]:
    """The lexer of labels.Parse: the symbols above, and identifiers (any run of other non-space characters)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        symbol = next((sym for sym in _SYMBOLS if text.startswith(sym, i)), None)
        if symbol:
            out.append(symbol)
            i += len(symbol)
            continue
        j = i
        while j < len(text) and not text[j].isspace() and not any(text.startswith(sym, j) for sym in _SYMBOLS):
            j += 1
        out.append(text[i:j])
        i = j
    return out


def _identifier(token: str | None) -> bool:
    return token is not None and token not in _SYMBOLS


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a label key (``[prefix/]name``: a DNS-1123 subdomain of at most 253 characters,
    then a name of at most 63 that starts and ends alphanumeric), or None."""
    prefix, slash, name = key.rpartition("/")
    if not name or len(name) > 63 or not _NAME_PART.fullmatch(name):
        return (f"invalid label key {key!r}: the name part must be at most 63 characters: letters, digits, "
                "'-', '_' and '.', starting and ending with a letter or digit")
    if slash and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return f"invalid label key {key!r}: the prefix must be a DNS subdomain (lowercase, at most 253 characters)"
    return None


def value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value (empty, or at most 63 characters that start and end alphanumeric)."""
    if value and (len(value) > 63 or not _NAME_PART.fullmatch(value)):
        return (f"invalid label value {value!r}: at most 63 characters: letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit")
    return None


class _Parser:
    """labels.Parse's grammar: ``requirement (',' requirement)*``, where a requirement is ``!key``, ``key``,
    ``key (=|==|!=) value`` (the value may be empty), ``key (in|notin) (v1,v2,...)`` (a non-empty set), or
    ``key (>|<) integer``. Keys and values are checked as the API server checks labels."""

    def __init__(self, text: str):
        self.text, self.tokens, self.i = text, _tokens(text), 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.i += 1
        return token

    def error(self, problem: str) -> ValueError:
        return ValueError(f"bad label selector {self.text!r}: {problem}")

    def expected(self, what: str) -> ValueError:
        found = self.peek()
        return self.error(f"found {found!r}, expected {what}" if found is not None else f"{what} expected at the end")

    def parse(self) -> tuple[dict[str, Any], ...]:
        out = [self.requirement()]
        while self.peek() is not None:
            if self.take() != ",":
                self.i -= 1
                raise self.expected("',' or the end")
            out.append(self.requirement())
        return tuple(out)

    def requirement(self) -> dict[str, Any]:
        negated = self.peek() == "!"
        self.i += negated
        if not _identifier(self.peek()):
            raise self.expected("a label key")
        key = self.take() or ""
        if problem := key_problem(key):
            raise self.error(problem)
        op = self.peek()
        if op is None or op == ",":
            return {"key": key, "operator": "DoesNotExist" if negated else "Exists"}
        if negated:
            raise self.expected(f"',' or the end after '!{key}'")
        if op not in _OPERATORS:
            raise self.expected("an operator (=, ==, !=, in, notin, >, <), ',' or the end")
        self.i += 1
        values = self.value_set(op) if op in ("in", "notin") else [self.one_value()]
        for value in values:
            if problem := value_problem(value):
                raise self.error(problem)
        if op in (">", "<") and not _INTEGER.fullmatch(values[0]):
            raise self.error(f"'{key} {op} {values[0]}': {op!r} compares with an integer")
        return {"key": key, "operator": _OPERATORS[op], "values": values}

    def one_value(self) -> str:
        """``app=`` means the empty value: the value ends at ',' or the end."""
        token = self.peek()
        if token is None or token == ",":
            return ""
        if not _identifier(token):
            raise self.expected("a value")
        self.i += 1
        return token

    def value_set(self, op: str) -> list[str]:
        if self.take() != "(":
            self.i -= 1
            raise self.expected(f"'(' after {op!r}")
        values: list[str] = []
        while True:
            token = self.peek()
            if token == ")" and not values:
                raise self.error(f"the values of {op!r} must not be empty")
            if token in (",", ")"):  # `in (a,)` and `in (,a)` hold the empty value, as labels.Parse reads them
                values.append("")
            elif _identifier(token):
                values.append(self.take() or "")
                token = self.peek()
            else:
                raise self.expected(f"a value or ')' in the values of {op!r}")
            if token == ")":
                self.i += 1
                return values
            if token != ",":
                raise self.expected("',' or ')'")
            self.i += 1


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[dict[str, Any], ...]:
    return _Parser(text).parse() if text.strip() else ()


def parse_selector_string(text: str) -> list[dict[str, Any]]:
    """Parse ``-l`` syntax into matchExpressions, refusing what kubectl (labels.Parse) refuses: a key or
    value that is not a valid label key or value, ``in ()``, two '/' in a key, a comparison with a
    non-integer. Raises ValueError (one line) on bad input."""
    return list(_parse(text))


def matches_selector_string(text: str | None, labels: Labels | None) -> bool:
    if not text:
        return True
    return matches_label_selector({"matchExpressions": parse_selector_string(text)}, labels)
