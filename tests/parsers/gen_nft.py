"""Render a kube-proxy 1.34 (nftables mode) ``nft list table ip kube-proxy`` for N Services.

The same Services as :mod:`gen_iptables` (``generate_services``), in kube-proxy's nftables layout
(pkg/proxy/nftables/proxier.go): chain names ``service-HASH-ns/name/proto/port`` with HASH the first 8
base32 characters of sha256 of the rest, endpoint chains ``endpoint-HASH-ns/name/proto/port__IP/PORT``,
the shared sets and verdict maps, and the block text printed the way nft 1.0.6 prints a listing
(set elements wrapped 2 addresses a line, map elements one a line). Checked by hand once against a
real ``nft -f`` of its output listed back. Used by the node-capture tests.
"""

from __future__ import annotations

import base64
import hashlib

from gen_iptables import (  # noqa: F401
    POD_CIDR,
    GenService,  # noqa: F401 (re-exported for the tests)
    generate_services,
)

NODE_IP = "192.0.2.17"
SERVICE_CIDR = "10.96.0.0/12"
_ELEMENT_BREAK = ",\n\t\t\t     "


def name_base(text: str) -> str:
    """kube-proxy's ``hashAndTruncate``: ``HASH8-text``."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8] + "-" + text


def chain_base(svc: GenService) -> str:
    return f"{svc.namespace}/{svc.name}/{svc.protocol}/{svc.port_name}"


def endpoint_chain(svc: GenService, ip: str, port: int) -> str:
    return "endpoint-" + name_base(f"{chain_base(svc)}__{ip}/{port}")


def _elements(items: list[str], per_line: int) -> list[str]:
    if not items:
        return []
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ["\t\telements = { " + (",\n\t\t\t     ").join(lines) + " }"]


def render(services: list[GenService], node: str, pod_cidr: str = POD_CIDR) -> str:
    cluster_ips: list[str] = []
    service_ips: list[str] = []
    nodeports: list[str] = []
    no_ep_services: list[str] = []
    no_ep_nodeports: list[str] = []
    chains: list[tuple[str, list[str]]] = []
    for svc in services:
        base = chain_base(svc)
        p, h = svc.protocol, name_base(base)
        svc_chain, local_chain, ext_chain = f"service-{h}", f"local-{h}", f"external-{h}"
        cluster_ips.append(svc.cluster_ip)
        key = f"{svc.cluster_ip} . {p} . {svc.port}"
        local = [e for e in svc.endpoints if e.node == node]
        external = bool(svc.node_port)
        external_local = external and svc.external_policy == "Local"
        if not svc.endpoints:
            no_ep_services.append(f'{key} comment "{svc.port_string}" : goto reject-chain')
            if svc.node_port:
                no_ep_nodeports.append(f'{p} . {svc.node_port} comment "{svc.port_string}" : goto reject-chain')
            continue
        service_ips.append(f"{key} : goto {svc_chain}")
        spread = [f"{i} : goto {endpoint_chain(svc, e.ip, e.port)}" for i, e in enumerate(svc.endpoints)]
        chains.append((svc_chain, [
            f"ip daddr {svc.cluster_ip} {p} dport {svc.port} ip saddr != {pod_cidr} jump mark-for-masquerade",
            f"numgen random mod {len(spread)} vmap {{ {', '.join(spread)} }}"]))
        for e in svc.endpoints:
            chains.append((endpoint_chain(svc, e.ip, e.port), [
                f"ip saddr {e.ip} jump mark-for-masquerade", f"meta l4proto {p} dnat to {e.ip}:{e.port}"]))
        if not external:
            continue
        if external_local:
            ext = [f'ip saddr {pod_cidr} goto {svc_chain} comment "short-circuit pod traffic"',
                   'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
                   f'fib saddr type local goto {svc_chain} comment "short-circuit local traffic"']
            if local:
                ext.append(f"goto {local_chain}")
                lspread = [f"{i} : goto {endpoint_chain(svc, e.ip, e.port)}" for i, e in enumerate(local)]
                chains.append((local_chain, [f"numgen random mod {len(lspread)} vmap {{ {', '.join(lspread)} }}"]))
            else:
                no_ep_nodeports.append(f'{p} . {svc.node_port} comment "{svc.port_string}" : drop')
        else:
            ext = ["jump mark-for-masquerade", f"goto {svc_chain}"]
        chains.append((ext_chain, ext))
        if local or not external_local:
            nodeports.append(f"{p} . {svc.node_port} : goto {ext_chain}")
    out = ["table ip kube-proxy {", '\tcomment "rules for kube-proxy"']

    def block(kind: str, name: str, head: list[str], elements: list[str]) -> None:
        out.extend([f"\t{kind} {name} {{", *(f"\t\t{h}" for h in head), *elements, "\t}", ""])

    vmap = "ipv4_addr . inet_proto . inet_service : verdict"
    block("set", "cluster-ips", ["type ipv4_addr", 'comment "Active ClusterIPs"'], _elements(cluster_ips, 2))
    block("set", "nodeport-ips", ["type ipv4_addr", 'comment "IPs that accept NodePort traffic"'],
          _elements([NODE_IP], 2))
    block("map", "firewall-ips", [f"type {vmap}",
                                  'comment "destinations that are subject to LoadBalancerSourceRanges"'], [])
    block("map", "no-endpoint-nodeports", [
        "type inet_proto . inet_service : verdict",
        'comment "vmap to drop or reject packets to service nodeports with no endpoints"'],
        _elements(no_ep_nodeports, 1))
    block("map", "no-endpoint-services", [
        f"type {vmap}", 'comment "vmap to drop or reject packets to services with no endpoints"'],
        _elements(no_ep_services, 1))
    block("map", "service-ips", [f"type {vmap}", 'comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"'],
          _elements(service_ips, 1))
    block("map", "service-nodeports", ["type inet_proto . inet_service : verdict", 'comment "NodePort traffic"'],
          _elements(nodeports, 1))
    shared = [
        ("filter-prerouting", ["type filter hook prerouting priority dstnat - 10; policy accept;",
                               "ct state new jump firewall-check"]),
        ("filter-input", ["type filter hook input priority -110; policy accept;",
                          "ct state new jump nodeport-endpoints-check", "ct state new jump service-endpoints-check"]),
        ("filter-forward", ["type filter hook forward priority -110; policy accept;",
                            "ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]),
        ("filter-output", ["type filter hook output priority -110; policy accept;",
                           "ct state new jump service-endpoints-check", "ct state new jump firewall-check"]),
        ("filter-output-post-dnat", ["type filter hook output priority -90; policy accept;",
                                     "ct state new jump cluster-ips-check"]),
        ("nat-prerouting", ["type nat hook prerouting priority dstnat; policy accept;", "jump services"]),
        ("nat-output", ["type nat hook output priority -100; policy accept;", "jump services"]),
        ("nat-postrouting", ["type nat hook postrouting priority srcnat; policy accept;", "jump masquerading"]),
        ("cluster-ips-check", ['ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
                               f'ip daddr {SERVICE_CIDR} drop comment "Drop traffic to unallocated ClusterIPs"']),
        ("firewall-check", ["ip daddr . meta l4proto . th dport vmap @firewall-ips"]),
        ("mark-for-masquerade", ["meta mark set meta mark | 0x00004000"]),
        ("masquerading", ["meta mark & 0x00004000 == 0x00000000 return", "meta mark set meta mark ^ 0x00004000",
                          "masquerade fully-random"]),
        ("nodeport-endpoints-check", ["ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"]),
        ("reject-chain", ['comment "helper for @no-endpoint-services / @no-endpoint-nodeports"', "reject"]),
        ("service-endpoints-check", ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"]),
        ("services", ["ip daddr . meta l4proto . th dport vmap @service-ips",
                      "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"]),
    ]
    for name, rules in shared + chains:
        out.extend([f"\tchain {name} {{", *(f"\t\t{r}" for r in rules), "\t}", ""])
    out[-1] = "}"
    return "\n".join(out) + "\n"
