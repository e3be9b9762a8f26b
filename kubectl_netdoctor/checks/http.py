"""Step 6: does the Service answer HTTP (L7)? Live only: skipped without a probe.

Refused, reset, timeout, 5xx and 4xx are told apart, because each points
somewhere else: nothing listening, a crashing app or proxy, a drop, the app
itself, the path or Host header. GETs through a Service port with no ready
endpoint fail by design: that is the endpoints step's headline, so here it is a
note and the step is a skip.
"""

from __future__ import annotations

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import (
    Context,
    Obj,
    conclude,
    finding,
    fix_text,
    needs_service,
    skipped,
    verified_live,
)
from kubectl_netdoctor.evidence import http_probe_result, took
from kubectl_netdoctor.model import Finding, Severity, StepResult

STEP_ID = "http"
TITLE = "HTTP answers (L7)"

OUTCOME_CODES = {
    "server_error": ("HTTP_SERVER_ERROR", "the app answers with a server error",
                     "the app's own error:\nkubectl -n {ns} logs -l {sel} --tail=50"),
    "client_error": ("HTTP_CLIENT_ERROR", "the app answers, but refuses this request (path or Host header?)",
                     "retry with the right path:\nkubectl netdoctor svc {name} -n {ns} --http-path /healthz"),
    "refused": ("HTTP_REFUSED", "connection refused: nothing accepts connections behind this address",
                "see the listen and proxy steps"),
    "reset": ("HTTP_RESET", "connection reset: the app or a proxy in the path closed it abruptly",
              "check for TLS on a plain-HTTP port; the app's log:\nkubectl -n {ns} logs -l {sel} --tail=50"),
    "empty": ("HTTP_RESET", "connection closed with no answer: the app or a proxy in the path accepted it and hung up",
              "check for TLS on a plain-HTTP port; the app's log:\nkubectl -n {ns} logs -l {sel} --tail=50"),
    "timeout": ("HTTP_TIMEOUT", "no HTTP answer in time: packets dropped (NetworkPolicy?) or the app hangs",
                "see the proxy and netpol steps; the app's log:\nkubectl -n {ns} logs -l {sel}"),
    "not_http": ("HTTP_NOT_HTTP", "the port answers, but not with HTTP (TLS, gRPC, or another protocol?)",
                 "if this port is not HTTP, ignore; for TLS probe https yourself"),
    "error": ("HTTP_NOT_HTTP", "the HTTP request failed", "the app's log:\nkubectl -n {ns} logs -l {sel}"),
}
"""outcome -> (code, what it means, fix: prose, then each command on a line of its own)."""


@needs_service(STEP_ID, TITLE)
def run(ctx: Context, svc: Obj) -> StepResult:
    if objects.service_kind(svc) == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName: test the external host directly")
    if ctx.live is None:
        return skipped(STEP_ID, TITLE, ctx.probe_skip_reason)
    if not ctx.live.http and not ctx.live.endpoint_http:
        reason = ctx.live.skipped.get(
            "http", "no port looks like HTTP (name, appProtocol or number); use --port to test one anyway")
        # Blocked (inconclusive) only when there was something to GET and the probe could not start.
        wanted = any(ctx.options.port is not None or objects.looks_like_http(p) for p in ctx.service_ports()
                     if p.get("protocol", "TCP") == "TCP")
        return skipped(STEP_ID, TITLE, reason, blocked=bool(ctx.live.probe_unavailable) and wanted)
    selector = ",".join(f"{k}={v}" for k, v in sorted(((svc.get("spec") or {}).get("selector") or {}).items()))
    found: list[Finding] = []
    probes = []
    summaries = []
    unserved = []
    for url, attempts in sorted(ctx.live.http.items()):
        probes += [http_probe_result(r) for r in attempts]
        port_label = without_ready_endpoint(ctx, svc, url)
        if port_label:
            unserved.append(url)
            expected = no_endpoint_gets(ctx, url, port_label, attempts, selector)
            found += [expected] if expected else []
            summaries.append(f"{url}: no ready endpoint behind it, {sum(not r.ok for r in attempts)} of "
                             f"{len(attempts)} GETs failed as expected")
            continue
        # A 4xx on the default path is often normal (an API with no root page): only a note then.
        lenient = ctx.options.http_path == "/"
        bad = [r for r in attempts if not r.ok and not (lenient and r.outcome == "client_error")]
        answered = [r for r in attempts if r.status]
        if answered:
            r = answered[0]
            fine = f" ({len(attempts) - len(bad)} of {len(attempts)} GETs fine)" if bad else ""
            summaries.append(f"{url} -> {r.status} in {took(r.latency_ms)}{fine}")
        if bad and len(bad) < len(attempts):
            found.append(intermittent(ctx, url, attempts, bad))
            continue
        failed = majority_failure(attempts)
        if failed is None:
            continue
        code, what, fix = OUTCOME_CODES[failed.outcome]
        status = f" (HTTP {failed.status})" if failed.status else ""
        severity = Severity.INFO if failed.outcome == "client_error" and lenient else None
        # Every GET failed, not necessarily the same way (some refused, some timed out): show each kind.
        evidence = [f"from {ctx.live.probe}, {len(attempts)} GETs at once", *tally(attempts)] if len(attempts) > 1 \
            else [f"from {ctx.live.probe}: {failed.detail or failed.outcome}", f"after {failed.latency_ms} ms"]
        found.append(finding(code, f"GET {url}: {what}{status}", evidence,
                             fix.format(ns=ctx.namespace, sel=selector or "<selector>", name=ctx.name),
                             severity=severity))
    direct_found, direct_probes, direct_summary = endpoint_findings(ctx, selector)
    found += direct_found
    probes += direct_probes
    gets = sum(len(a) for a in ctx.live.http.values())
    detail = ", ".join(x for x in (f"{gets} GETs via the Service" if gets else "", direct_summary) if x)
    summary = "; ".join(x for x in (", ".join(summaries), direct_summary) if x) or "no HTTP answer"
    if unserved and len(unserved) == len(ctx.live.http) and not ctx.live.endpoint_http:
        # Nothing behind the Service to ask: the endpoints step owns the failure, this step proved nothing.
        return conclude(STEP_ID, TITLE, found, summary, probes,
                        unverified="the Service has no ready endpoint to answer HTTP (see the endpoints step)")
    return conclude(STEP_ID, TITLE, found, summary, probes, verified=verified_live(detail))


def without_ready_endpoint(ctx: Context, svc: Obj, url: str) -> str:
    """The label of the Service port a ClusterIP URL asks, when that port has no ready endpoint, else ""."""
    host_port = url.removeprefix("http://").split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if host != (svc.get("spec") or {}).get("clusterIP") or not port.isdigit():
        return ""  # a headless Service's URL is an endpoint's own address
    ports = [p for p in ctx.service_ports() if p.get("port") == int(port) and p.get("protocol", "TCP") == "TCP"]
    slices = ctx.endpoint_slices()
    if not ports or any(objects.ready_backends(slices, p.get("name", ""), "TCP") for p in ports):
        return ""
    return objects.port_label(ports[0])


def no_endpoint_gets(ctx: Context, url: str, port_label: str, attempts: tuple, selector: str) -> Finding | None:
    """GETs through a Service port with no ready endpoint: their failure is expected (the endpoints step's
    headline), so it is a note. It still says what the client saw, which differs by datapath: kube-proxy
    rejects (refused), but the node kernel rate-limits the ICMP port unreachable replies a reject sends
    (net.ipv4.icmp_ratelimit, per client), so of many connects at once most wait for a SYN retransmit and
    time out; a filter ahead of kube-proxy's reject that accepts the packet lets it leave by the node's
    default route, and whatever answers there is not a pod of this Service."""
    failed = majority_failure(attempts)
    connected = [r for r in attempts if r.status or r.outcome in ("empty", "not_http", "reset")]
    if failed is None:
        return None
    code = OUTCOME_CODES[failed.outcome][0]
    outcomes = {r.outcome for r in attempts}
    notes = []
    if "refused" in outcomes and "timeout" in outcomes:
        notes.append("kube-proxy rejects these connects; the timeouts are most likely rejects whose ICMP port "
                     "unreachable the node rate-limited (net.ipv4.icmp_ratelimit), not drops")
    if connected:
        seen = sorted({f"HTTP {r.status}" if r.status else r.outcome for r in connected})
        notes.append(f"{len(connected)} connects were accepted ({', '.join(seen)}) although no pod serves this port: "
                     "whatever accepted them is not a pod of this Service (a rule ahead of kube-proxy's reject "
                     "let the packet through, and it left by the node's default route?)")
    return finding(
        code,
        f"GET {url}: {sum(not r.ok for r in attempts)} of {len(attempts)} requests fail "
        f"({', '.join(sorted(o for o in outcomes if o != 'ok'))}) (expected: port {port_label} has no ready "
        "endpoint, see the endpoints step)" + "".join(f"; {n}" for n in notes),
        [f"from {ctx.live.probe}, {len(attempts)} GETs at once", *tally(attempts)],
        fix_text("see the endpoints step: make a selected pod Ready:",
                 f"kubectl -n {ctx.namespace} get pods" + (f" -l {selector}" if selector else "") + " -o wide"),
        severity=Severity.INFO,
    )


# Failures that are the HTTP server's own answer (or its absence on an open port): this step's to report.
# Refused and timed-out connects to an endpoint are the listen step's (it connects to each one).
HTTP_LEVEL = ("server_error", "client_error", "not_http", "reset", "empty", "error")


def endpoint_findings(ctx: Context, selector: str) -> tuple[list[Finding], list, str]:
    """GETs to each ready endpoint's pod IP: one bad pod shows whatever the balancing or session affinity
    does with the GETs through the Service."""
    direct = ctx.live.endpoint_http
    if not direct:
        return [], [], ""
    lenient = ctx.options.http_path == "/"
    verdicts = {}
    for url, attempts in sorted(direct.items()):
        bad = [r for r in attempts if not r.ok and not (lenient and r.outcome == "client_error")]
        verdicts[url] = majority_failure(tuple(bad)) if len(bad) * 2 >= len(attempts) and bad else None
    probes = [http_probe_result(r) for url in sorted(direct) for r in direct[url]]
    fine = [u for u, v in verdicts.items() if v is None]
    http_bad = {u: v for u, v in verdicts.items() if v is not None and v.outcome in HTTP_LEVEL}
    summary = f"{len(fine)}/{len(verdicts)} endpoints answer directly"
    if not http_bad or not fine:
        # None bad, or all bad: the GETs through the Service already say it (and name the code).
        return [], probes, summary

    def who(url: str) -> str:
        pod = ctx.live.endpoint_pods.get(url)
        return f"pod {pod} ({url})" if pod else url

    outcomes = sorted({v.outcome + (f" {v.status}" if v.status else "") for v in http_bad.values()})
    first = next(iter(http_bad))
    pod = ctx.live.endpoint_pods.get(first)
    evidence = [f"from {ctx.live.probe}, {len(direct[first])} GETs to each endpoint's pod IP"]
    for url in sorted(direct):
        evidence.append(f"{who(url)}: " + ("; ".join(tally(direct[url]))))
    return [finding(
        "HTTP_ENDPOINT_ERROR",
        f"{len(http_bad)} of {len(verdicts)} endpoints fail HTTP when asked directly ({', '.join(outcomes)}): "
        + ", ".join(who(u) for u in http_bad)
        + "; through the Service this shows only when a GET lands there (balancing, sessionAffinity)",
        evidence,
        fix_text("the bad pod's own error, then compare its image, config and template with the healthy ones:",
                 f"kubectl -n {ctx.namespace} logs {pod} --tail=50",
                 f"kubectl -n {ctx.namespace} get pods -l {selector or '<selector>'} -o wide") if pod else
        fix_text("which endpoints there are:",
                 f"kubectl -n {ctx.namespace} get endpointslices -l kubernetes.io/service-name={ctx.name} -o wide"),
    )], probes, summary


# When failures tie, the outcome that says more about the path wins.
_OUTCOME_ORDER = ("timeout", "refused", "reset", "empty", "server_error", "not_http", "error", "client_error")


def majority_failure(attempts: tuple) -> object | None:
    """A representative of the most common way the GETs failed (8 timeouts and 2 refusals: a timeout),
    not whichever failure happened to come back first."""
    failed = [r for r in attempts if not r.ok]
    if not failed:
        return None
    counts: dict[str, int] = {}
    for r in failed:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    rank = {o: i for i, o in enumerate(_OUTCOME_ORDER)}
    outcome = min(counts, key=lambda o: (-counts[o], rank.get(o, len(rank))))
    return next(r for r in failed if r.outcome == outcome)


def intermittent(ctx: Context, url: str, attempts: tuple, bad: list) -> Finding:
    """Some GETs through the Service answer, others fail: one or more endpoints behind it are bad."""
    outcomes = sorted({r.outcome + (f" {r.status}" if r.status else "") for r in bad})
    return finding(
        "HTTP_INTERMITTENT",
        f"GET {url}: {len(bad)} of {len(attempts)} requests fail ({', '.join(outcomes)}), the others answer: "
        "the Service balances over at least one bad endpoint",
        [f"from {ctx.live.probe}, {len(attempts)} GETs at once"] + tally(attempts),
        fix_text("find the bad endpoint in the listen step (a direct connect to each); the endpoints:",
                 f"kubectl -n {ctx.namespace} get endpointslices -l kubernetes.io/service-name={ctx.name} -o wide"),
    )


def tally(attempts: tuple) -> list[str]:
    """One line per distinct answer: ``7x ok HTTP 200 (140-330 ms)``, ``3x refused (...): nc: ...``."""
    groups: dict[tuple, list] = {}
    for r in attempts:
        groups.setdefault((r.outcome, r.status, "" if r.ok else r.detail), []).append(r)
    lines = []
    for (outcome, status, detail), rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        times = sorted(r.latency_ms for r in rs if r.latency_ms is not None)
        span = (f" ({took(times[0])}" + (f" to {took(times[-1])}" if times[-1] != times[0] else "") + ")"
                if times else "")
        lines.append(f"{len(rs)}x {outcome}" + (f" HTTP {status}" if status else "") + span
                     + (f": {detail}" if detail else ""))
    return lines
