"""``--wait 120s``: durations as kubectl spells them (``--timeout=2m``, ``--request-timeout=1h30m``).

Pure and cheap to import: the CLI parses the flag before anything heavy loads.
"""

from __future__ import annotations

import re

from kubectl_netdoctor.errors import UsageError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
MAX_DURATION_S = 24 * 3600.0
"""The longest wait accepted: a CI gate that needs more than a day waits for the wrong thing (and a
400-digit number must end in a usage error, not in an overflow)."""


def parse_duration(text: str, flag: str = "--wait") -> float:
    """Seconds in ``text``: Go's ``time.ParseDuration`` units (``ms``, ``s``, ``m``, ``h``, combined as
    ``1m30s``), or a bare number of seconds (``90``). Zero or negative is refused: waiting no time is
    the same as not passing the flag; so is more than :data:`MAX_DURATION_S`."""
    raw = text.strip().lower()
    shown = repr(text if len(text) <= 40 else text[:37] + "...")
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    else:
        parts = _PART.findall(raw)
        if not raw or "".join(n + u for n, u in parts) != raw:
            raise UsageError(f"{flag} {shown}: expected a duration such as 120s, 2m or 1m30s")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError(f"{flag} {shown}: must be more than zero")
    if seconds > MAX_DURATION_S:
        raise UsageError(f"{flag} {shown}: at most {format_duration(MAX_DURATION_S)}")
    return seconds


def format_duration(seconds: float) -> str:
    """``125.0`` -> ``2m5s``; under a minute with one decimal (``4.2s``)."""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds % 1 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
