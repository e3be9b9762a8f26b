"""kube-proxy's IPVS layout: what its virtual services mean.

kube-proxy in IPVS mode makes one virtual service per ClusterIP:port, external
and load-balancer IP, and node address:nodePort; it gives every ready endpoint
weight 1 and drops a deleted endpoint to weight 0 while its connections drain.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubectl_netdoctor.kubeproxy.view import CLUSTER_IP, NODE_PORT, Backend, KubeProxyView, ProxiedService, normalise_ip
from kubectl_netdoctor.parsers.ipvsadm import VirtualService


def kube_proxy_view(services: Iterable[VirtualService], node_ips: Iterable[str] = (),
                    source: str = "ipvsadm") -> KubeProxyView:
    """The IPVS virtual services as a :class:`KubeProxyView`.

    IPVS does not record which Service a virtual service belongs to, so entries
    have no ``comment``. Those on one of ``node_ips`` (the node's own addresses)
    are NodePorts; the rest are ClusterIP, external or load-balancer IPs, told
    apart only by the address the caller looks up. FWM services are left out.
    """
    node_set = {normalise_ip(ip) for ip in node_ips}
    out = []
    for vs in services:
        if vs.protocol == "FWM":
            continue
        kind = NODE_PORT if normalise_ip(vs.ip) in node_set else CLUSTER_IP
        backends = tuple(
            Backend(ip=rs.ip, port=rs.port, weight=rs.weight, select_rule=rs.raw, dnat_rule=rs.raw,
                    active_conns=rs.active_conns)
            for rs in vs.real_servers)
        out.append(ProxiedService(vip=vs.ip, port=vs.port, protocol=vs.protocol, kind=kind, entry_rule=vs.raw,
                                  backends=backends, scheduler=vs.scheduler, flags=vs.flags))
    return KubeProxyView("ipvs", tuple(out), source=source)
