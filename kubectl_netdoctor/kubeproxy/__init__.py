"""Everything the tool knows about kube-proxy, in one place.

- :mod:`.config`: its ConfigMap, and the mode it runs in.
- :mod:`.capture`: which capture (and which command) shows a mode's rules, and which parser
  and layout read it.
- :mod:`.topology`: the endpoints kube-proxy will use on one node.
- :mod:`.view`: the backend-neutral model of what it programmed; :mod:`.iptables`,
  :mod:`.ipvs` and :mod:`.nftables` say what each mode's chains, virtual servers and maps mean.

No I/O here: the transport (``cluster/node_capture.py``) runs the commands this package names.
"""
