"""kubectl-netdoctor: name the broken hop when a Kubernetes Service is unreachable."""

__version__ = "0.1.0"
