"""``metav1.Condition`` lists as Gateway API controllers write them, read with their staleness.

A condition is *stale* when its ``observedGeneration`` is lower than the object's
``metadata.generation``: the controller has not yet (or no longer) reconciled the current spec,
so the condition describes an older one. Types and reasons are quoted verbatim (``Accepted``,
``ResolvedRefs``, ``NoMatchingListenerHostname``, ...): they are what users search for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Condition:
    """One condition of one object (or of one of its parents or listeners)."""

    type: str
    """``Accepted``, ``Programmed``, ``ResolvedRefs``, ``Conflicted``, ..."""
    status: str
    """``True``, ``False`` or ``Unknown``."""
    reason: str = ""
    """CamelCase reason (``NoMatchingListenerHostname``)."""
    message: str = ""
    """The controller's message."""
    observed_generation: int | None = None
    """The ``metadata.generation`` the controller saw when it wrote this."""
    generation: int | None = None
    """The object's current ``metadata.generation``."""

    @property
    def stale(self) -> bool:
        """Written for an older spec than the current one."""
        return (self.observed_generation is not None and self.generation is not None
                and self.observed_generation < self.generation)

    @property
    def is_true(self) -> bool:
        return self.status == "True"

    @property
    def text(self) -> str:
        """``Accepted=False (NoMatchingListenerHostname): message`` with `` [stale: generation 2, status for 1]``."""
        out = f"{self.type}={self.status}"
        if self.reason:
            out += f" ({self.reason})"
        if self.message:
            out += f": {self.message}"
        if self.stale:
            out += f" [stale: generation {self.generation}, status for {self.observed_generation}]"
        return out


def read_conditions(conditions: Iterable[Mapping[str, Any]] | None, generation: int | None) -> tuple[Condition, ...]:
    """The conditions of a status block, in order, each knowing the object's generation."""
    out = []
    for c in conditions or ():
        observed = c.get("observedGeneration")
        out.append(Condition(str(c.get("type", "")), str(c.get("status", "Unknown")), c.get("reason") or "",
                             c.get("message") or "", int(observed) if observed is not None else None, generation))
    return tuple(out)


def find(conditions: Iterable[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def generation_of(obj: Mapping[str, Any]) -> int | None:
    gen = (obj.get("metadata") or {}).get("generation")
    return int(gen) if gen is not None else None


def problems(conditions: Iterable[Condition], positive: Iterable[str], negative: Iterable[str] = (),
             required: Iterable[str] = ()) -> tuple[str, ...]:
    """The conditions a finding should quote.

    ``positive`` types are healthy when True (Accepted, Programmed, ResolvedRefs), ``negative`` ones
    when False or absent (Conflicted); ``required`` types missing altogether are a problem (the
    controller never wrote them). Stale conditions are reported even when healthy.
    """
    conditions = list(conditions)
    positive, negative = set(positive), set(negative)
    out: list[str] = []
    for t in required:
        if find(conditions, t) is None:
            out.append(f"no {t} condition: no controller has reported on it")
    for c in conditions:
        if (c.type in positive and not c.is_true) or (c.type in negative and c.status != "False"):
            out.append(c.text)
        elif c.stale and (c.type in positive or c.type in negative):
            out.append(c.text)
    return tuple(out)
