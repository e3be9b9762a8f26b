"""The hops of the outside-in paths (Ingress, HTTPRoute): a URL from outside the cluster, through
the controller, to a backend Service. Each hop module handles both kinds; :mod:`.view` is what they
share. Registered in :mod:`kubectl_netdoctor.checks.registry`."""
