"""Address syntax shared by the rule parsers: ``IP:PORT``, ``[IPv6]:PORT``, ``IP/32``."""

from __future__ import annotations

import ipaddress


def normalise_ip(ip: str) -> str:
    """Canonical text of an IP (drops a ``/32`` or ``/128`` host prefix, compresses IPv6)."""
    text = ip.split("/", 1)[0] if ip.endswith(("/32", "/128")) else ip
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return text


def join_host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def split_host_port(text: str) -> tuple[str, int]:
    """``10.0.0.1:80`` or ``[fd00::1]:80`` -> (ip, port). Raises ValueError."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"bad address {text!r}")
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"bad address {text!r}")
    if not port.isdigit() or len(port) > 5 or not 0 <= int(port) <= 65535:
        raise ValueError(f"bad port in {text!r}")
    return host, int(port)
