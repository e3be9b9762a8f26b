"""Two sysctls that decide whether a node passes pod traffic on: ``ip_forward`` and ``rp_filter``.

``net.ipv4.ip_forward`` 0: the node delivers packets addressed to itself but forwards nothing, so a
pod's packet never leaves for the overlay, and a decapsulated one never reaches cni0.

``net.ipv4.conf.<dev>.rp_filter``, reverse-path filtering of packets that come in on ``dev``. The
kernel uses the larger of ``conf.all`` and ``conf.<dev>`` (``all`` = 1 makes every device at least
strict, and a device's 2 beats ``all`` = 1)::

    0  off
    1  strict: the route back to the source must leave by the device the packet came in on
    2  loose:  any route back to the source will do

A packet from a pod on vm arrives on vm2 by flannel.1 (by eth0 with host-gw): strict filtering on
vm2 drops it when vm2's route back to vm's pod CIDR leaves by another device, or when it has none.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar

from kubectl_netdoctor.parsers.iproute import IprouteError, Route
from kubectl_netdoctor.podnet.node import Health, NodeCapture, lookup, route_devices

RP_MODES = {0: "off", 1: "strict", 2: "loose"}


@dataclass(frozen=True)
class RpFilter:
    """The reverse-path filter mode in force on one device."""

    dev: str
    mode: int | None
    """max(conf.all, conf.<dev>); None when either is not captured."""
    all_value: int | None
    dev_value: int | None

    @property
    def text(self) -> str:
        if self.mode is None:
            return f"rp_filter on {self.dev} unknown (all={_show(self.all_value)}, {self.dev}={_show(self.dev_value)})"
        return (f"rp_filter {self.mode} ({RP_MODES.get(self.mode, '?')}: max of all={self.all_value}, "
                f"{self.dev}={self.dev_value}) on {self.dev}")


def _show(value: int | None) -> str:
    return "not captured" if value is None else str(value)


def rp_filter(node: NodeCapture, dev: str) -> RpFilter:
    """The mode in force on ``dev`` (the kernel's max of ``conf.all`` and ``conf.<dev>``)."""
    s = node.sysctls
    if s is None:
        return RpFilter(dev, None, None, None)
    all_value = _int(node, "net.ipv4.conf.all.rp_filter")
    dev_value = _int(node, f"net.ipv4.conf.{dev.replace('.', '/')}.rp_filter")
    mode = max(all_value, dev_value) if all_value is not None and dev_value is not None else None
    return RpFilter(dev, mode, all_value, dev_value)


def _int(node: NodeCapture, key: str) -> int | None:
    try:
        return node.sysctls.int_value(key) if node.sysctls is not None else None
    except IprouteError:
        return None


@dataclass(frozen=True)
class ReversePath:
    """Does ``node`` accept packets from ``source`` that come in on ``in_dev``?"""

    part: ClassVar[str] = "rp_filter"
    node: str
    source: str
    """The sender's network (a pod CIDR, a node IP)."""
    in_dev: str
    filter: RpFilter
    back: Route | None
    """The route back to ``source``."""
    health: Health
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


def reverse_path(node: NodeCapture, source: str, in_dev: str, what: str = "") -> ReversePath:
    """Reverse-path filtering on ``node`` for packets from ``source`` (an address or a CIDR, ``what`` names it
    in the text: "vm's pods") arriving on ``in_dev``."""
    rp = rp_filter(node, in_dev)
    label = what or source
    try:
        net = ipaddress.ip_network(source, strict=False)  # a CIDR: its first address stands for its pods
    except ValueError:
        return ReversePath(node.name, source, in_dev, rp, None, Health.UNKNOWN,
                           (f"{node.name}: {source!r} is not an address or CIDR: cannot check the way back",))
    address = str(net.network_address + 1) if net.num_addresses > 1 else str(net.network_address)
    back = lookup(node.routes, address) if node.routes is not None else None
    evidence = [f"{node.name}: {rp.text}"]
    if back is not None:
        evidence.append(f"{node.name}: {back.text} (the way back to {label})")

    def result(health: Health, *problems: str) -> ReversePath:
        return ReversePath(node.name, source, in_dev, rp, back, health, problems, tuple(evidence))

    if rp.mode is None:
        return result(Health.UNKNOWN, f"{node.name}: {rp.text}")
    if rp.mode == 0:
        return result(Health.OK)
    if node.routes is None:
        return result(Health.UNKNOWN, f"{node.name}: routes not captured: cannot check the way back to {label}")
    if back is None or back.type != "unicast":
        return result(Health.BROKEN, f"{node.name}: {rp.text} drops packets from {label} coming in on {in_dev}: "
                                     f"no route back to {source}")
    out_devs = route_devices(back)
    if rp.mode == 1 and in_dev not in out_devs:
        out = ", ".join(out_devs) or "?"
        return result(Health.BROKEN, f"{node.name}: {rp.text} drops packets from {label} coming in on {in_dev}: "
                                     f"the way back to them leaves by {out}")
    return result(Health.OK)


@dataclass(frozen=True)
class Forwarding:
    """Does ``node`` forward IPv4 packets (``net.ipv4.ip_forward``)?"""

    part: ClassVar[str] = "ip_forward"
    node: str
    value: int | None
    health: Health
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


def ip_forward(node: NodeCapture) -> Forwarding:
    """A node between pods forwards both ways: its pods' packets out, other nodes' packets in to its pods."""
    value = _int(node, "net.ipv4.ip_forward")
    if value is None:
        why = "not captured" if node.sysctls is None or node.sysctls.get("net.ipv4.ip_forward") is None \
            else f"{node.sysctls.get('net.ipv4.ip_forward')!r} is not a number"
        return Forwarding(node.name, None, Health.UNKNOWN, (f"{node.name}: net.ipv4.ip_forward {why}",))
    evidence = (f"{node.name}: net.ipv4.ip_forward = {value}",)
    if value == 0:
        return Forwarding(node.name, 0, Health.BROKEN,
                          (f"{node.name}: net.ipv4.ip_forward = 0: it forwards no packet, neither its pods' packets "
                           "to other nodes nor other nodes' packets to its pods",),
                          evidence)
    return Forwarding(node.name, value, Health.OK, (), evidence)
