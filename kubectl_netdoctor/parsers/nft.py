"""An nftables capture in any of its forms, told apart by the first character.

* ``nft -j list ruleset`` / ``nft -j list table ip kube-proxy`` (JSON, preferred: structured):
  :mod:`.nft_json`;
* ``nft list table ip kube-proxy`` / ``nft list ruleset`` (the block text nft prints) and
  the flat ``add table/chain/rule/map/element ...`` form (``nft -f`` input, knftables dumps):
  :mod:`.nft_text`.
"""

from __future__ import annotations

from kubectl_netdoctor.parsers.nft_json import parse_nft_json
from kubectl_netdoctor.parsers.nft_ruleset import NftElement, NftRule, NftSet, NftTable
from kubectl_netdoctor.parsers.nft_text import parse_nft_text

__all__ = ["NftElement", "NftRule", "NftSet", "NftTable", "parse_nft", "parse_nft_json", "parse_nft_text"]


def parse_nft(text: str, source: str = "nft") -> list[NftTable]:
    """Parse an nftables capture in any of the three forms (detected from the first character)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return parse_nft_json(text, source)
    return parse_nft_text(text, source)
