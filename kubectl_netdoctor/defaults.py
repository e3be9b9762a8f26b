"""Defaults shared by the command line and the probe, in a module cheap enough to import at start-up."""

DEFAULT_PROBE_IMAGE = "docker.io/library/busybox:1.36.1"
"""A small public network toolbox with sh, nc, wget and nslookup; override with --probe-image."""
