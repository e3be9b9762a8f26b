"""``-o json``: the stable machine-readable report (schema ``netdoctor/v1``, see README).

Always valid UTF-8: the document is ASCII (``json`` escapes every other character), and a lone
surrogate (a non-UTF-8 byte in a file name, a bad escape in a snapshot), which no UTF-8 decoder
accepts even escaped, becomes U+FFFD first.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from kubectl_netdoctor.model import Report, ScanReport
from kubectl_netdoctor.render.safe import valid_unicode


def _valid(value: Any) -> Any:
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {_valid(k): _valid(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid(v) for v in value]
    return value


def encode(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, indent=2)
    # A lone surrogate shows as a \udXXX escape; most are halves of a pair (an emoji): only then look closer.
    return json.dumps(_valid(doc), indent=2) if "\\ud" in text else text


def dumps(report: Report) -> str:
    return encode(report.to_dict())


def render(report: Report, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
           width: int | None = None) -> None:
    """JSON always carries every finding; ``verbose`` changes nothing here."""
    stream.write(dumps(report) + "\n")


def render_scan(scan: ScanReport, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
                width: int | None = None) -> None:
    """``scan -o json``: schema ``netdoctor/scan/v1``, each Service's full ``netdoctor/v1`` report in ``reports``."""
    stream.write(encode(scan.to_dict()) + "\n")
