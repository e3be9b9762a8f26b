"""Everything the tool knows about the pod network between nodes, in one place.

Which part of the path from a pod on one node to a pod on another is broken, from what was read on
the two nodes (:mod:`kubectl_netdoctor.parsers.iproute` parses it):

- :mod:`.node`: one node's captures (:class:`~.node.NodeCapture`), the commands that take them, the
  route the kernel picks, and :class:`~.node.Health` (ok, broken, degraded, unknown).
- :mod:`.route`: the route to the other node's pod CIDR: overlay, host-gw, missing or wrong.
- :mod:`.overlay`: the VXLAN device on each node, VNI and port on both ends, and the neighbour and
  FDB entries that send to the peer's VTEP.
- :mod:`.mtu`: which packet sizes cross whole.
- :mod:`.kernel`: ``ip_forward`` and reverse-path filtering (``rp_filter``).
- :mod:`.pair`: both directions between two nodes, part by part in the order a packet meets them.
- :mod:`.cni`: which CNI moves the packets, from its DaemonSet, pods, devices and routes.

Every result is data: a frozen dataclass with ``part``, ``node``, ``health``, ``problems`` (what is
wrong, one line each) and ``evidence`` (the lines read on the nodes). Findings, codes and fixes are
the check's. No I/O here: the transport runs :data:`~.node.CAPTURE_COMMANDS` on the nodes.
"""
