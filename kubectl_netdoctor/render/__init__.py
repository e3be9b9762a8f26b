"""Output formats, siblings behind one signature: ``render(report, stream, verbose=False)`` for one
Service and ``render_scan(scan, stream, verbose=False)`` for a scan. Checks never render."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from kubectl_netdoctor.model import Report, ScanReport


def get_renderer(fmt: str) -> Callable[[Report, TextIO], None]:
    if fmt == "json":
        from kubectl_netdoctor.render.json import render
    elif fmt == "junit":
        from kubectl_netdoctor.render.junit import render
    else:
        from kubectl_netdoctor.render.text import render
    return render


def get_scan_renderer(fmt: str) -> Callable[[ScanReport, TextIO], None]:
    if fmt == "json":
        from kubectl_netdoctor.render.json import render_scan
    elif fmt == "junit":
        from kubectl_netdoctor.render.junit import render_scan
    else:
        from kubectl_netdoctor.render.scan_text import render as render_scan
    return render_scan


FORMATS = ("text", "json", "junit")
