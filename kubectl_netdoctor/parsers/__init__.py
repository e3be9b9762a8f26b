"""Pure parsers for what nodes and pods print: no I/O, no cluster access.

* :mod:`.iptables_save` - ``iptables-save`` (all tables or ``-t nat``) and kube-proxy's iptables layout
* :mod:`.ipvsadm` - ``ipvsadm -Ln`` (and ``--stats``)
* :mod:`.nft` - kube-proxy's nftables table, ``nft -j list ...`` JSON or ``nft list table ip kube-proxy`` text
* :mod:`.proc_net_tcp` - ``/proc/net/tcp`` and ``/proc/net/tcp6``
* :mod:`.proxyview` - the backend-neutral model of what kube-proxy programmed on one node

Each rule parser takes the text and an optional ``source`` (file or node name,
used in error messages) and raises :class:`kubectl_netdoctor.errors.SnapshotError`
naming the line on malformed input.
"""

from __future__ import annotations

from kubectl_netdoctor.parsers.proxyview import Backend, KubeProxyView, NoEndpointsRule, ProxiedService

__all__ = ["Backend", "KubeProxyView", "NoEndpointsRule", "ProxiedService"]
