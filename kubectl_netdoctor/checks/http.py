"""Step 5: does the Service answer HTTP (L7)? Live only: skipped without a probe.

Refused, reset, timeout, 5xx and 4xx are told apart, because each points
somewhere else: nothing listening, a crashing app or proxy, a drop, the app
itself, the path or Host header.
"""

from __future__ import annotations

from kubectl_netdoctor import live, objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, skipped
from kubectl_netdoctor.model import Finding, Severity, StepResult

STEP_ID = "http"
TITLE = "HTTP answers (L7)"

OUTCOME_CODES = {
    "server_error": ("HTTP_SERVER_ERROR", "the app answers with a server error",
                     "kubectl -n {ns} logs -l {sel} --tail=50  # the app's own error"),
    "client_error": ("HTTP_CLIENT_ERROR", "the app answers, but refuses this request (path or Host header?)",
                     "retry with the right path: kubectl netdoctor svc {name} -n {ns} --http-path /healthz"),
    "refused": ("HTTP_REFUSED", "connection refused: nothing accepts connections behind this address",
                "see the listen and proxy steps"),
    "reset": ("HTTP_RESET", "connection reset: the app or a proxy in the path closed it abruptly",
              "kubectl -n {ns} logs -l {sel} --tail=50; check for TLS on a plain-HTTP port"),
    "timeout": ("HTTP_TIMEOUT", "no HTTP answer in time: packets dropped (NetworkPolicy?) or the app hangs",
                "see the netpol step; kubectl -n {ns} logs -l {sel}"),
    "not_http": ("HTTP_NOT_HTTP", "the port answers, but not with HTTP (TLS, gRPC, or another protocol?)",
                 "if this port is not HTTP, ignore; for TLS probe https yourself"),
    "error": ("HTTP_NOT_HTTP", "the HTTP request failed", "kubectl -n {ns} logs -l {sel}"),
}


def run(ctx: Context) -> StepResult:
    svc = ctx.service()
    if svc is None:
        return skipped(STEP_ID, TITLE, "the Service does not exist")
    if objects.service_kind(svc) == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName: test the external host directly")
    if ctx.live is None:
        return skipped(STEP_ID, TITLE, ctx.probe_skip_reason)
    if not ctx.live.http:
        return skipped(STEP_ID, TITLE, ctx.live.skipped.get(
            "http", "no port looks like HTTP (name, appProtocol or number); use --port to test one anyway"))
    selector = ",".join(f"{k}={v}" for k, v in sorted(((svc.get("spec") or {}).get("selector") or {}).items()))
    found: list[Finding] = []
    probes = []
    for url, r in sorted(ctx.live.http.items()):
        probes.append(live.http_probe_result(r))
        if r.ok:
            continue
        code, what, fix = OUTCOME_CODES[r.outcome]
        status = f" (HTTP {r.status})" if r.status else ""
        # A 4xx on the default path is often normal (an API with no root page): only a note then.
        severity = Severity.INFO if r.outcome == "client_error" and ctx.options.http_path == "/" else None
        found.append(finding(code, f"GET {url}: {what}{status}", [f"from {ctx.live.probe}: {r.detail or r.outcome}",
                                                                  f"after {r.latency_ms} ms"],
                             fix.format(ns=ctx.namespace, sel=selector or "<selector>", name=ctx.name),
                             severity=severity))
    answered = [r for r in ctx.live.http.values() if r.status]
    summary = ", ".join(f"{r.url} -> {r.status} in {live.took(r.latency_ms)}" for r in answered) or "no HTTP answer"
    return conclude(STEP_ID, TITLE, found, summary, probes)
