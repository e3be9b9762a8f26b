"""The steps in flowchart order. Registration is explicit: no import side effects, no subclass discovery.

A step may read earlier results from ``ctx.results``.
"""

from __future__ import annotations

from kubectl_netdoctor.checks import dns, endpoints, http, listen, netpol, proxy, selectors, service

STEPS = (service, endpoints, selectors, listen, proxy, http, dns, netpol)
STEP_IDS = tuple(m.STEP_ID for m in STEPS)
