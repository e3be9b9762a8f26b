"""Command-line values checked before anything is read: names as the API server would accept
them, no empty values, no control characters, no flags that contradict each other.

Each check raises :class:`~kubectl_netdoctor.errors.UsageError` (exit 2) with a one-line
message that quotes the flag and the value. Pure: no I/O, nothing heavy imported, so
``--help`` stays instant.
"""

from __future__ import annotations

import math
import re

from kubectl_netdoctor.errors import UsageError

# The API server's own patterns (k8s.io/apimachinery/pkg/util/validation).
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 3600.0


def _shown(value: str) -> str:
    return repr(value if len(value) <= 70 else value[:67] + "...")


def not_empty(flag: str, value: str | None) -> None:
    """A flag given with an empty value would silently mean "not given"."""
    if value is not None and not value.strip():
        raise UsageError(f"{flag} {_shown(value)}: must not be empty")


def no_control_characters(flag: str, value: str | None) -> None:
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UsageError(f"{flag} {_shown(value)}: control characters (CR, LF, tab ...) are not allowed")


def _name(flag: str, value: str, pattern: re.Pattern[str], limit: int, what: str) -> None:
    not_empty(flag, value)
    if len(value) > limit or not pattern.fullmatch(value):
        raise UsageError(f"{flag} {_shown(value)}: not a valid {what}")


def service_name(value: str, flag: str = "NAME") -> None:
    """A Service name is a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, <= 63."""
    _name(flag, value, DNS1035_LABEL, 63,
          "Service name (DNS-1035 label: lowercase letters, digits and '-', starting with a letter, at most 63)")


def namespace(flag: str, value: str | None) -> None:
    """A namespace name is a DNS-1123 label."""
    if value is not None:
        _name(flag, value, DNS1123_LABEL, 63,
              "namespace (DNS-1123 label: lowercase letters, digits and '-', at most 63)")


def pod_ref(value: str | None) -> None:
    """``--from-pod NS/POD`` or ``POD``: the namespace a DNS-1123 label, the pod a DNS-1123 subdomain."""
    if value is None:
        return
    not_empty("--from-pod", value)
    ns, _, pod = value.rpartition("/")
    if value.count("/") > 1 or (value.count("/") == 1 and not ns) or not pod:
        raise UsageError(f"--from-pod {_shown(value)}: expected NS/POD or POD")
    if ns:
        namespace("--from-pod", ns)
    _name("--from-pod", pod, DNS1123_SUBDOMAIN, 253,
          "pod name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253)")


def service_port(value: str | None) -> None:
    """``--port``: a number 1-65535 or a Service port name (a DNS-1123 label)."""
    if value is None:
        return
    not_empty("--port", value)
    if value.isdigit():
        if not 1 <= int(value) <= 65535:
            raise UsageError(f"--port {_shown(value)}: a port number is 1-65535")
    elif len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
        raise UsageError(f"--port {_shown(value)}: expected a port number or a Service port name")


def object_name(value: str, kind: str, flag: str = "NAME") -> None:
    """An Ingress or HTTPRoute name is a DNS-1123 subdomain."""
    _name(flag, value, DNS1123_SUBDOMAIN, 253,
          f"{kind} name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253)")


def http_path(value: str, flag: str = "--http-path") -> None:
    """The path goes into a hand-written request line: one token starting with '/', nothing that ends it."""
    no_control_characters(flag, value)
    if not value.startswith("/"):
        raise UsageError(f"{flag} {_shown(value)}: must start with '/'")
    if " " in value:
        raise UsageError(f"{flag} {_shown(value)}: spaces are not allowed (encode them as %20)")


def timeout(value: float) -> None:
    if not math.isfinite(value) or value < MIN_TIMEOUT:
        raise UsageError(f"--timeout {value:g}: expected a number of seconds, at least {MIN_TIMEOUT:g}")
    if value > MAX_TIMEOUT:  # a socket timeout past the platform's time_t overflows
        raise UsageError(f"--timeout {value:g}: at most {MAX_TIMEOUT:g} seconds (it bounds each API request)")


def image(flag: str, value: str | None) -> None:
    not_empty(flag, value)
    no_control_characters(flag, value)
    if value is not None and any(c.isspace() for c in value):
        raise UsageError(f"{flag} {_shown(value)}: an image reference has no spaces")


def path_value(flag: str, value: str | None) -> None:
    not_empty(flag, value)
    no_control_characters(flag, value)


def exclusive(given: dict[str, object], against: str, reason: str) -> None:
    """Refuse every flag of ``given`` that was set together with ``against``."""
    clash = [flag for flag, value in given.items() if value not in (None, False)]
    if clash:
        raise UsageError(f"{against} cannot be combined with {', '.join(clash)}: {reason}")
