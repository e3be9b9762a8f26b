"""The nftables ruleset as the nft parsers return it: tables of chains (rules in order) and sets/maps.

Syntax only; what kube-proxy's chains mean is :mod:`kubectl_netdoctor.kubeproxy.nftables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NftRule:
    chain: str
    text: str
    """The rule as nft prints it (JSON rules are rendered to the same syntax, best effort)."""
    line: int
    """Line in the text capture, or the rule handle for JSON."""
    jumps: tuple[tuple[str, str], ...] = ()
    """``(verb, chain)`` for each ``jump``/``goto`` outside a map, in order."""
    numgen_mod: int | None = None
    """N of ``numgen random mod N vmap {...}``."""
    numgen_map: tuple[tuple[int, str, str], ...] = ()
    """``(key, verb, chain)`` entries of that vmap."""
    dnat: str | None = None
    """``ip:port`` of ``dnat to``."""
    conditional: bool = False
    """The rule matches on something (address, port, fib, set...) before its verdict."""

    @property
    def evidence(self) -> str:
        return f"chain {self.chain}: {self.text}"


@dataclass(frozen=True)
class NftElement:
    key: tuple[str, ...]
    """The key split at `` . `` (``("10.96.1.5", "tcp", "8080")``)."""
    value: str | None
    """Verdict or data (``goto service-...``, ``drop``); None in a set."""
    comment: str | None
    raw: str


@dataclass(frozen=True)
class NftSet:
    name: str
    is_map: bool
    type: str
    elements: tuple[NftElement, ...] = ()


@dataclass(frozen=True)
class NftTable:
    family: str
    name: str
    chains: Mapping[str, tuple[NftRule, ...]] = field(default_factory=dict)
    sets: Mapping[str, NftSet] = field(default_factory=dict)
    """Sets and maps by name."""

    def rules(self, chain: str) -> tuple[NftRule, ...]:
        return self.chains.get(chain, ())

    def elements(self, name: str) -> tuple[NftElement, ...]:
        s = self.sets.get(name)
        return s.elements if s else ()


class TableBuilder:
    """A table being read: chains and sets by name, frozen by :meth:`build`."""

    def __init__(self, family: str, name: str):
        self.family, self.name = family, name
        self.chains: dict[str, list[NftRule]] = {}
        self.sets: dict[str, NftSet] = {}

    def build(self) -> NftTable:
        return NftTable(self.family, self.name, {k: tuple(v) for k, v in self.chains.items()}, dict(self.sets))
