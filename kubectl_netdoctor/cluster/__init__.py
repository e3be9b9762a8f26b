"""Everything that talks to a cluster or reads a snapshot of one.

Checks never import the Kubernetes client: they ask a :class:`Reader`.
"""
