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

import re
from collections.abc import Mapping
from typing import Any

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


# One requirement of the string syntax; commas inside (...) do not split.
_SPLIT = re.compile(r",(?![^()]*\))")
_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


def parse_selector_string(text: str) -> list[dict[str, Any]]:
    """Parse ``-l`` syntax into matchExpressions. Raises ValueError on bad input."""
    out: list[dict[str, Any]] = []
    if not text.strip():
        return out
    for part in _SPLIT.split(text):
        if m := _SET.match(part):
            values = [v.strip() for v in m.group(3).split(",") if v.strip()]
            out.append({"key": m.group(1), "operator": "In" if m.group(2) == "in" else "NotIn", "values": values})
        elif m := _EQ.match(part):
            op = "NotIn" if m.group(2) == "!=" else "In"
            out.append({"key": m.group(1), "operator": op, "values": [m.group(3)]})
        elif m := _EXISTS.match(part):
            out.append({"key": m.group(2), "operator": "DoesNotExist" if m.group(1) else "Exists"})
        else:
            raise ValueError(f"bad label selector {text!r} near {part!r}")
    return out


def matches_selector_string(text: str | None, labels: Labels | None) -> bool:
    if not text:
        return True
    return matches_label_selector({"matchExpressions": parse_selector_string(text)}, labels)
