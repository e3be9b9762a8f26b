"""``-o json``: the stable machine-readable report (schema ``netdoctor/v1``, see README)."""

from __future__ import annotations

import json
from typing import TextIO

from kubectl_netdoctor.model import Report, ScanReport


def dumps(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False)


def render(report: Report, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
           width: int | None = None) -> None:
    """JSON always carries every finding; ``verbose`` changes nothing here."""
    stream.write(dumps(report) + "\n")


def render_scan(scan: ScanReport, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
                width: int | None = None) -> None:
    """``scan -o json``: schema ``netdoctor/scan/v1``, each Service's full ``netdoctor/v1`` report in ``reports``."""
    stream.write(json.dumps(scan.to_dict(), indent=2) + "\n")
