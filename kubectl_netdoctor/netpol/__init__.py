"""Everything the tool knows about NetworkPolicy, in one place.

- :mod:`.policy`: one policy object: its name, ``policyTypes`` and ``podSelector``, in one line.
- :mod:`.evaluate`: the evaluator of ``networking.k8s.io/v1`` NetworkPolicy: would this connection
  be allowed, by which rule, and which rule would admit it.
- :mod:`.pod_ports`: a Service's pods on each of its ports against one client: what the netpol step
  words, and which pod-ports the policies deny (for the steps whose advice must agree with it).
- :mod:`.fixes`: the policy that would admit a denied client, as YAML to apply.
- :mod:`.kinds`: the CNI-specific policy kinds the evaluator does not model.
- :mod:`.enforcers`: one table of the pod network's agents (those that turn policies into packet
  filters, and flannel, which does not), and what the system pods say about enforcement.

No I/O here: the readers (``cluster/``) fetch the objects, the steps read them through the run
context and pass them in; the netpol step (``checks/netpol.py``) words the findings.
"""
