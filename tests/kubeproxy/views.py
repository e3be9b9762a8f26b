"""Shared by the tests that read one Service's part of a capture (kubeproxy/test_narrow.py, the targeted
node captures in cluster/test_node_capture.py): what makes two views read the same for that Service."""

from __future__ import annotations

from collections.abc import Iterable

from kubectl_netdoctor.kubeproxy.view import NODE_PORT, KubeProxyView, ServiceRef


def refs_of(view: KubeProxyView) -> dict[ServiceRef, list[str]]:
    """Each Service in a whole view, as its ServiceRef (every port, as ``ServiceRef.of`` would build it from
    the Service), with the port names kube-proxy labelled its rules with."""
    names = {s.comment for s in view.services} | {r.comment for r in view.no_endpoints}
    by_service: dict[str, list[str]] = {}
    for name in sorted(names):
        by_service.setdefault(name.split(":", 1)[0], []).append(name)
    out = {}
    for service, port_names in by_service.items():
        ns, name = service.split("/", 1)
        entries = [e for n in port_names for e in view.named(n)]
        refusals = [r for r in view.no_endpoints if r.comment in port_names]
        ports = tuple(dict.fromkeys((n.partition(":")[2], p.protocol.lower()) for n in port_names
                                    for p in [*view.named(n), *(r for r in refusals if r.comment == n)]))
        addresses = tuple(dict.fromkeys([e.vip for e in entries if e.kind != NODE_PORT and e.vip] +
                                        [r.vip for r in refusals if r.vip]))
        node_ports = tuple(dict.fromkeys([e.port for e in entries if e.kind == NODE_PORT] +
                                         [r.port for r in refusals if r.kind == NODE_PORT]))
        out[ServiceRef(ns, name, ports, addresses, node_ports)] = port_names
    return out


def service_ports(view: KubeProxyView, port_name: str) -> set[int]:
    return {e.port for e in view.named(port_name) if e.kind != NODE_PORT} | \
        {r.port for r in view.no_endpoints if r.comment == port_name and r.kind != NODE_PORT}


def assert_same_view(got: KubeProxyView, full: KubeProxyView, ref: ServiceRef, ports: Iterable[int],
                     port_names: Iterable[str]) -> None:
    """``got`` (read from part of a capture) answers every question the proxy step asks about ``ref`` the
    way ``full`` (the whole capture) does."""
    for name in port_names:
        assert got.named(name) == full.named(name)
    for vip in ref.addresses:
        for port in ports:
            for proto in ("TCP", "UDP"):
                assert got.at(vip, port, proto) == full.at(vip, port, proto)
                assert got.refusals(vip, port, proto) == full.refusals(vip, port, proto)
    for np in ref.node_ports:
        for proto in ("TCP", "UDP"):
            assert got.node_port(np, proto) == full.node_port(np, proto)
            assert got.node_port_refusals(np, proto) == full.node_port_refusals(np, proto)
    # What the step reads about the node as a whole.
    assert (got.masq_mark_rule, got.masq_jumped, got.masquerade_rule, got.programmed, got.unhooked) == \
        (full.masq_mark_rule, full.masq_jumped, full.masquerade_rule, full.programmed, full.unhooked)
    assert {":" in s.vip for s in got.services if s.vip} == {":" in s.vip for s in full.services if s.vip}
