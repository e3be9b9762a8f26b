"""Output formats, siblings behind one signature: every renderer is
``render(result, stream, *, verbose=False, elapsed_s=0.0, width=None)``, for the report of one
target (``svc``) or of a round of many (``scan``). Checks never render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMATS = ("text", "json", "junit")

Renderer = Callable[..., None]
"""``(result, stream, *, verbose=False, elapsed_s=0.0, width=None) -> None``."""


def get_renderer(fmt: str, scan: bool = False) -> Renderer:
    """The renderer of format ``fmt`` for one target's report, or (``scan``) for a round's."""
    if fmt == "json":
        from kubectl_netdoctor.render import json as module
    elif fmt == "junit":
        from kubectl_netdoctor.render import junit as module
    elif scan:
        from kubectl_netdoctor.render import scan_text as module
    else:
        from kubectl_netdoctor.render import text as module
    chosen: Any = module.render_scan if scan and fmt != "text" else module.render
    return chosen
