"""Pure parsers for what nodes and pods print: syntax only, no I/O, no cluster access.

* :mod:`.iptables_save` - ``iptables-save`` (all tables or ``-t nat``)
* :mod:`.ipvsadm` - ``ipvsadm -Ln`` (and ``--stats``)
* :mod:`.nft` - an nftables capture in any form: :mod:`.nft_json` (``nft -j list ...``) or
  :mod:`.nft_text` (``nft list ...`` blocks, flat ``add ...``), into :mod:`.nft_ruleset` tables
* :mod:`.proc_net_tcp` - ``/proc/net/tcp`` and ``/proc/net/tcp6``
* :mod:`.probe_output` - what the probe scripts print
* :mod:`.addresses` - ``IP:PORT`` syntax

What kube-proxy's chains, virtual servers and maps mean is :mod:`kubectl_netdoctor.kubeproxy`.
Each rule parser takes the text and an optional ``source`` (file or node name,
used in error messages) and raises :class:`kubectl_netdoctor.errors.SnapshotError`
naming the line on malformed input.
"""
