"""Output formats, siblings behind one signature: ``render(report, stream, verbose=False)``. Checks never render."""

from __future__ import annotations

from typing import Callable, TextIO

from kubectl_netdoctor.model import Report


def get_renderer(fmt: str) -> Callable[[Report, TextIO], None]:
    if fmt == "json":
        from kubectl_netdoctor.render.json import render
    else:
        from kubectl_netdoctor.render.text import render
    return render


FORMATS = ("text", "json")
