"""Sysctl values as a node shows them: ``sysctl`` output, or files under ``/proc/sys`` read as text.

The pod network's kernel settings (``net.ipv4.ip_forward``, ``net.ipv4.conf.<dev>.rp_filter``). A
device's dots are slashes in sysctl's spelling (``net.ipv4.conf.flannel/1.rp_filter``). Bad text is an
:class:`~kubectl_netdoctor.parsers.iproute.IprouteError` naming the source and line.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kubectl_netdoctor.parsers.iproute import IprouteError, _show


@dataclass(frozen=True)
class Sysctls:
    """Sysctl values by name, as ``sysctl`` spells the name (a device's dots as slashes)."""

    values: Mapping[str, str]
    source: str = "sysctl"
    messages: tuple[str, ...] = ()
    """Lines ``sysctl`` printed about itself (``sysctl: permission denied on key ...``), kept, not parsed."""

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def conf(self, dev: str, name: str, family: str = "ipv4") -> str | None:
        """``net.ipv4.conf.<dev>.<name>`` (``dev`` as the kernel names it: ``flannel.1``, ``all``)."""
        return self.values.get(f"net.{family}.conf.{dev.replace('.', '/')}.{name}")

    def int_value(self, key: str) -> int | None:
        """The value as a number, None when absent; a value that is not one is an :class:`IprouteError`."""
        value = self.values.get(key)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise IprouteError(self.source, f"{key} = {value!r} is not a number") from None


_SYSCTL_LINE = re.compile(r"^([^\s=]+)\s*=\s*(.*)$")


def parse_sysctl(text: str, source: str = "sysctl") -> Sysctls:
    """``key = value`` lines (``sysctl -a``, ``sysctl KEY...``); blank and ``#``/``;`` comment lines are
    skipped, sysctl's own ``sysctl: ...`` messages kept apart. Any other line is an error naming it."""
    values: dict[str, str] = {}
    messages = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("sysctl:"):
            messages.append(line)
            continue
        m = _SYSCTL_LINE.match(line)
        if not m:
            raise IprouteError(source, f"not a 'key = value' line: {line[:120]!r}", line=lineno)
        values[m.group(1)] = m.group(2).strip()
    return Sysctls(values, source, tuple(messages))


def sysctl_name(path: str) -> str:
    """``/proc/sys/net/ipv4/conf/flannel.1/rp_filter`` -> ``net.ipv4.conf.flannel/1.rp_filter``."""
    rel = path.strip()
    for prefix in ("/proc/sys/", "proc/sys/"):
        if rel.startswith(prefix):
            rel = rel[len(prefix):]
            break
    else:
        raise ValueError(f"{path!r} is not under /proc/sys")
    parts = [p for p in rel.split("/") if p]
    if not parts:
        raise ValueError(f"{path!r} names no sysctl")
    return ".".join(p.replace(".", "/") for p in parts)


def parse_proc_sys(files: Mapping[str, str], source: str = "/proc/sys") -> Sysctls:
    """Sysctls from files under ``/proc/sys`` that the caller read as text (path -> content)."""
    values = {}
    for path, content in files.items():
        try:
            name = sysctl_name(path)
        except ValueError as err:
            raise IprouteError(source, str(err)) from None
        if not isinstance(content, str) or "\n" in content.strip():
            raise IprouteError(source, f"{path}: {_show(content)} is not one value")
        values[name] = content.strip()
    return Sysctls(values, source)
