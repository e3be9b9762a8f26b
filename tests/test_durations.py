"""``--wait DURATION``: kubectl's duration spelling."""

from __future__ import annotations

import pytest

from kubectl_netdoctor.durations import format_duration, parse_duration
from kubectl_netdoctor.errors import UsageError


@pytest.mark.parametrize("text, seconds", [
    ("120s", 120), ("2m", 120), ("1m30s", 90), ("90", 90), ("1h", 3600), ("1h2m3s", 3723),
    ("500ms", 0.5), ("1.5m", 90), (" 45S ", 45),
])
def test_parse(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "2 m", "2x", "m", "1m30", "-5s", "0s", "0", "1d"])
def test_bad_durations_are_usage_errors(text):
    with pytest.raises(UsageError, match="--wait"):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [(4.2, "4.2s"), (30, "30s"), (120, "2m"), (125, "2m5s"), (3723, "1h2m3s")])
def test_format(seconds, text):
    assert format_duration(seconds) == text
