"""The live part of steps listen, http and dns: interpreting what the probes saw.

The evidence is built from the probe tools' real output (the same text the e2e
cluster's probe pod printed), parsed by the real parsers.
"""

from __future__ import annotations

from pathlib import Path

from kubectl_netdoctor.checks import dns, http, listen
from kubectl_netdoctor.checks.base import Client
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.model import Severity, Status
from kubectl_netdoctor.parsers import probe_output as po
from kubectl_netdoctor.probes.plan import probe_targets
from tests.conftest import codes

CAPTURES = Path(__file__).parent.parent / "fixtures" / "captures"
PODS = ("web-7c9f8d6b5-abcde", "web-7c9f8d6b5-fghij")
PROBE = "probe pod shop/netdoctor-probe-1a2b3c"


def tcp(*lines: str) -> dict:
    return {(r.host, r.port): r for r in po.parse_tcp("\n".join(lines), wait_s=3)}


OPEN_12 = "TCP|10.244.0.12|8080|0|100.00|100.01|"
OPEN_7 = "TCP|10.244.1.7|8080|0|100.00|100.01|"
REFUSED_7 = "TCP|10.244.1.7|8080|1|100.00|100.00|nc: can't connect to remote host (10.244.1.7): Connection refused"
TIMEOUT_7 = "TCP|10.244.1.7|8080|1|100.00|103.00|nc: timed out"
VIP_OPEN = "TCP|10.96.141.22|80|0|100.00|100.01|"

# /proc/net/tcp of a pod whose app listens on 127.0.0.1:8080 (0100007F:1F90) and 0.0.0.0:9200.
LOOPBACK_8080 = (CAPTURES / "pod-web.proc-net-tcp").read_text()
ALL_8080 = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534 0 40431 1 0 100 0 0 10 0\n")



def probed(ctx, **fields) -> LiveEvidence:
    """Evidence as the orchestrator leaves it: what was probed (planned from ``ctx``) and what it saw."""
    return LiveEvidence(targets=probe_targets(ctx), **fields)

def test_all_endpoints_answer(cluster):
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, tcp=tcp(OPEN_12, OPEN_7, VIP_OPEN), listeners={PODS[0]: ALL_8080})
    result = listen.run(ctx)
    assert result.status is Status.PASS
    assert result.summary == f"2 of 2 endpoints answer TCP from {PROBE}"
    assert {p.target for p in result.probes} == {"10.244.0.12:8080", "10.244.1.7:8080", f"{PODS[0]}:8080"}


def test_one_bad_endpoint_of_two_is_intermittent_and_names_the_pod(cluster):
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, tcp=tcp(OPEN_12, REFUSED_7), listeners={PODS[1]: LOOPBACK_8080})
    result = listen.run(ctx)
    assert result.status is Status.FAIL
    assert codes(result) == ["LSN_LOOPBACK_ONLY", "LSN_ENDPOINT_UNREACHABLE"]
    unreachable = result.findings[1]
    assert unreachable.message == ("1 of 2 endpoints fail a direct TCP connect (refused); through the Service "
                                   "this shows as intermittent failures")
    assert unreachable.evidence[0].startswith(f"10.244.1.7:8080 ({PODS[1]}): refused")
    assert "listens on 127.0.0.1:8080 only" in result.findings[0].message


def test_timeout_points_at_network_policy(cluster):
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, tcp=tcp(OPEN_12, TIMEOUT_7))
    f = listen.run(ctx).findings[0]
    assert f.code == "LSN_ENDPOINT_UNREACHABLE" and "(timeout)" in f.message
    assert f.fix.startswith("packets are dropped: see the netpol step")


def test_nothing_listening_on_target_port_names_the_real_port(cluster):
    ctx = cluster.context()
    other = ALL_8080.replace("00000000:1F90", "00000000:2382")  # 9090
    ctx.live = probed(ctx, probe=PROBE, tcp=tcp(OPEN_12, REFUSED_7), listeners={PODS[1]: other})
    f = next(f for f in listen.run(ctx).findings if f.code == "LSN_NOT_LISTENING")
    assert f.message == f"nothing listens on port 8080 in pod {PODS[1]}; it listens on 9090"
    assert f.fix == ("point the Service targetPort at the port the app uses (9090):\n"
                     "kubectl -n shop patch svc web --type json "
                     "-p '[{\"op\":\"replace\",\"path\":\"/spec/ports/0/targetPort\",\"value\":9090}]'")


def test_tcp_not_run_is_a_skip_with_the_reason(cluster):
    ctx = cluster.context()
    ctx.live = probed(ctx, skipped={"tcp": "--read-only: no probe pod is created"})
    result = listen.run(ctx)
    assert result.status is Status.SKIP and result.skip_reason == "--read-only: no probe pod is created"


def test_listener_reads_refused_by_rbac_block_the_step(cluster):
    ctx = cluster.context()
    refused = {pod: "forbidden: get pods/exec in ns shop" for pod in PODS}
    ctx.live = probed(ctx, skipped={"tcp": "--read-only: no probe pod is created"}, listen_skipped=refused,
                      listen_refused=refused)
    result = listen.run(ctx)
    assert result.status is Status.SKIP and result.blocked
    assert result.skip_reason == ("listeners not read: forbidden: get pods/exec in ns shop; "
                                  "TCP connect not run: --read-only: no probe pod is created")
    assert {p.detail for p in result.probes} == {"listeners not read: forbidden: get pods/exec in ns shop"}


def http_results(*lines: str) -> dict:
    return po.group_by_url(po.parse_http("\n".join(lines)))


def test_http_ok_and_5xx(cluster):
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, http=http_results(
        "HTTP|http://10.96.141.22:80/|0|1.00|1.01|HTTP/1.0 200 OK ~Content-Length: 2 ~ ~ok~"))
    result = http.run(ctx)
    assert result.status is Status.PASS and result.summary == "http://10.96.141.22:80/ -> 200 in 10 ms"
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, http=http_results(
        "HTTP|http://10.96.141.22:80/|0|1.00|1.01|HTTP/1.1 503 Service Unavailable ~ ~"))
    result = http.run(ctx)
    assert codes(result) == ["HTTP_SERVER_ERROR"] and "(HTTP 503)" in result.findings[0].message


def test_http_404_on_default_path_is_a_note_but_a_warning_on_a_chosen_path(cluster):
    line = "HTTP|http://10.96.141.22:80/{p}|0|1.00|1.01|HTTP/1.1 404 Not Found ~ ~"
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, http=http_results(line.format(p="")))
    assert http.run(ctx).findings[0].severity is Severity.INFO
    ctx = cluster.context(http_path="/api")
    ctx.live = probed(ctx, probe=PROBE, http=http_results(line.format(p="api")))
    assert http.run(ctx).findings[0].severity is Severity.WARNING


OK_200 = "HTTP|http://10.96.141.22:80/|0|1.00|1.02|HTTP/1.0 200 OK ~Content-Length: 2 ~ ~ok~"
REFUSED_VIP = ("HTTP|http://10.96.141.22:80/|1|1.00|1.01|"
               "nc: can't connect to remote host (10.96.141.22): Connection refused")


def test_some_gets_failing_through_the_service_is_intermittent(cluster):
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, http=http_results(*[OK_200] * 7, *[REFUSED_VIP] * 3))
    result = http.run(ctx)
    assert result.status is Status.FAIL and codes(result) == ["HTTP_INTERMITTENT"]
    f = result.findings[0]
    assert f.message == ("GET http://10.96.141.22:80/: 3 of 10 requests fail (refused), the others answer: "
                         "the Service balances over at least one bad endpoint")
    # Failing, the summary leads with what is wrong: "7 of 10 GETs fine" alone reads as healthy.
    assert result.summary == ("Some GETs through the Service fail, others answer: a bad endpoint behind it; "
                              "http://10.96.141.22:80/ -> 200 in 20 ms (7 of 10 GETs fine)")
    assert f.evidence[1:] == ("7x ok HTTP 200 (20 ms)", "3x refused (10 ms): nc: can't connect to remote host "
                                                         "(10.96.141.22): Connection refused")
    assert len(result.probes) == 10 and sum(p.ok for p in result.probes) == 7


def test_every_get_refused_is_refused_not_intermittent(cluster):
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, http=http_results(*[REFUSED_VIP] * 10))
    result = http.run(ctx)
    assert codes(result) == ["HTTP_REFUSED"] and result.summary == "HTTP connection refused; no HTTP answer"
    assert result.findings[0].evidence[1:] == (
        "10x refused (10 ms): nc: can't connect to remote host (10.96.141.22): Connection refused",)


def test_every_get_failing_in_different_ways_shows_each_way(cluster):
    ctx = cluster.context()
    timeout = "HTTP|http://10.96.141.22:80/|1|1.00|4.00|nc: timed out"
    ctx.live = probed(ctx, probe=PROBE, http=http_results(*[REFUSED_VIP] * 6, *[timeout] * 4))
    result = http.run(ctx)
    assert codes(result) == ["HTTP_REFUSED"]
    assert result.findings[0].evidence[1:] == (
        "6x refused (10 ms): nc: can't connect to remote host (10.96.141.22): Connection refused",
        "4x timeout (3000 ms): nc: timed out")


def test_the_code_comes_from_the_majority_of_failures_not_the_first(cluster):
    ctx = cluster.context()
    timeout = "HTTP|http://10.96.141.22:80/|1|1.00|4.00|nc: timed out"
    # The two refusals come back first (they are fast), the eight timeouts later.
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, http=http_results(*[REFUSED_VIP] * 2, *[timeout] * 8))
    result = http.run(ctx)
    assert codes(result) == ["HTTP_TIMEOUT"]
    assert result.findings[0].evidence[1:] == (
        "8x timeout (3000 ms): nc: timed out",
        "2x refused (10 ms): nc: can't connect to remote host (10.96.141.22): Connection refused")


def test_404s_on_the_default_path_among_200s_are_not_intermittent(cluster):
    ctx = cluster.context()
    not_found = "HTTP|http://10.96.141.22:80/|0|1.00|1.01|HTTP/1.1 404 Not Found ~ ~"
    ctx.live = probed(ctx, probe=PROBE, http=http_results(OK_200, not_found))
    assert "HTTP_INTERMITTENT" not in codes(http.run(ctx))



def no_ready_endpoint(cluster) -> None:
    for sl in cluster.all("EndpointSlice", "shop"):
        for ep in sl.get("endpoints") or []:
            ep["conditions"] = {"ready": False, "serving": False, "terminating": False}


def test_gets_to_a_service_without_ready_endpoints_are_expected_nftables(cluster):
    # Live, kube-proxy nftables mode, readiness-gate scenario: kube-proxy rejects, but the node sends one
    # ICMP port unreachable a second (net.ipv4.icmp_ratelimit), so of 10 connects at once 2 are refused
    # (after a SYN retransmit) and 8 time out.
    no_ready_endpoint(cluster)
    ctx = cluster.context()
    refused = ("HTTP|http://10.96.141.22:80/|1|1.00|{e}|"
               "nc: can't connect to remote host (10.96.141.22): Connection refused")
    timeout = "HTTP|http://10.96.141.22:80/|1|1.00|4.10|nc: timed out"
    ctx.live = probed(ctx, probe=PROBE, http=http_results(refused.format(e="2.06"), refused.format(e="3.08"),
                                                          *[timeout] * 8))
    result = http.run(ctx)
    assert codes(result) == ["HTTP_TIMEOUT"]
    f = result.findings[0]
    assert f.severity is Severity.INFO  # the endpoints step's headline, not a second one
    assert "(expected: port http 80->http/TCP has no ready endpoint, see the endpoints step)" in f.message
    assert "rate-limited (net.ipv4.icmp_ratelimit)" in f.message and "accepted" not in f.message
    assert result.status is Status.SKIP and not result.blocked
    assert result.skip_reason == "the Service has no ready endpoint to answer HTTP (see the endpoints step)"


def test_gets_to_a_service_without_ready_endpoints_answered_elsewhere_are_not_intermittent(cluster):
    # Live, iptables mode with kube-router: its FORWARD ACCEPT comes before kube-proxy's REJECT, so the
    # connects left the node by its default route and a proxy there answered 426 or hung up at once.
    no_ready_endpoint(cluster)
    ctx = cluster.context()
    upgrade = "HTTP|http://10.96.141.22:80/|0|1.00|1.01|HTTP/1.0 426 Upgrade Required~server: keryx~"
    closed = "HTTP|http://10.96.141.22:80/|0|1.00|1.01|"
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE,
                            http=po.group_by_url(po.parse_http("\n".join([upgrade] * 4 + [closed] * 6), wait_s=3)))
    result = http.run(ctx)
    assert codes(result) == ["HTTP_RESET"]
    f = result.findings[0]
    assert f.severity is Severity.INFO
    assert "10 connects were accepted (HTTP 426, empty) although no pod serves this port" in f.message
    assert result.summary == "http://10.96.141.22:80/: no ready endpoint behind it, 10 of 10 GETs failed as expected"
    assert result.status is Status.SKIP


def lookups(**outputs: tuple[int, str]) -> dict:
    out = {}
    for name, (rc, text) in outputs.items():
        r = po.parse_nslookup_output(name, rc, text, 3.0)
        out[r.name] = r
    return out


OK_WEB = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tweb.shop.svc.cluster.local\nAddress: 10.96.141.22\n"
OK_KUBE = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n"
NX = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n** server can't find {n}: NXDOMAIN\n"
TIMEOUT = ";; connection timed out; no servers could be reached\n"
RESOLV = po.parse_resolv_conf("search shop.svc.cluster.local svc.cluster.local cluster.local\n"
                              "nameserver 10.96.0.10\noptions ndots:5\n")


def dns_evidence(web: tuple[int, str], kube: tuple[int, str]) -> LiveEvidence:
    names = {"web.shop.svc.cluster.local.": web, "kubernetes.default.svc.cluster.local.": kube,
             "web.svc.cluster.local.": (1, NX.format(n="web.svc.cluster.local")),
             "web.shop.shop.svc.cluster.local.": (1, NX.format(n="web.shop.shop.svc.cluster.local"))}
    ev = LiveEvidence(probe=PROBE, resolv=RESOLV)
    for name, (rc, text) in names.items():
        ev.lookups[name] = po.parse_nslookup_output(name, rc, text, 3.0)
    return ev


def test_dns_resolves_every_name(cluster):
    ctx = cluster.context()
    ctx.live = dns_evidence((0, OK_WEB), (0, OK_KUBE))
    result = dns.run(ctx)
    assert result.status is Status.PASS, [(f.code, f.message) for f in result.findings]


def test_cluster_dns_broken_when_kubernetes_default_fails_too(cluster):
    ctx = cluster.context(client=Client("pod", "shop", cluster.find("Pod", "client", "shop")))
    ctx.live = dns_evidence((1, TIMEOUT), (1, TIMEOUT))
    result = dns.run(ctx)
    assert codes(result) == ["DNS_CLUSTER_DNS_BROKEN"]
    assert "(timeout)" in result.findings[0].message


def test_only_this_name_fails(cluster):
    ctx = cluster.context()
    ctx.live = dns_evidence((1, NX.format(n="web.shop.svc.cluster.local")), (0, OK_KUBE))
    assert codes(dns.run(ctx)) == ["DNS_NAME_UNRESOLVED"]


def test_wrong_answer(cluster):
    ctx = cluster.context()
    ctx.live = dns_evidence((0, OK_WEB.replace("10.96.141.22", "10.96.9.9")), (0, OK_KUBE))
    f = dns.run(ctx).findings[0]
    assert f.code == "DNS_WRONG_ANSWER" and f.message.endswith("expected 10.96.141.22")


# -- every endpoint asked directly -----------------------------------------------------------

def endpoint_gets(url: str, status_line: str, n: int = 2) -> list[str]:
    return [f"HTTP|{url}|0|1.00|1.01|{status_line} ~Content-Length: 2 ~ ~ok~"] * n


def test_one_endpoint_answering_503_is_found_even_when_the_service_gets_all_land_on_good_pods(cluster):
    ctx = cluster.context()
    good, bad = "http://10.244.0.12:8080/", "http://10.244.1.7:8080/"
    direct = po.group_by_url(po.parse_http("\n".join(
        endpoint_gets(good, "HTTP/1.0 200 OK") + endpoint_gets(bad, "HTTP/1.1 503 Service Unavailable"))))
    ctx.live = LiveEvidence(probe=PROBE, http=http_results(*[OK_200] * 10), endpoint_http=direct,
                            endpoint_pods={good: PODS[0], bad: PODS[1]})
    result = http.run(ctx)
    assert result.status is Status.FAIL and codes(result) == ["HTTP_ENDPOINT_ERROR"]
    f = result.findings[0]
    assert f.message.startswith(f"1 of 2 endpoints fail HTTP when asked directly (server_error 503): pod {PODS[1]} "
                                f"({bad})")
    assert f.fix.splitlines()[1:] == [f"kubectl -n shop logs {PODS[1]} --tail=50",
                                      "kubectl -n shop get pods -l app=web -o wide"]
    assert result.summary == ("Asked directly, some endpoints fail HTTP where others answer; "
                              "http://10.96.141.22:80/ -> 200 in 20 ms; 1/2 endpoints answer directly")
    assert result.verification.describe() == "live: 10 GETs via the Service, 1/2 endpoints answer directly"


def test_a_refused_endpoint_is_left_to_the_listen_step(cluster):
    ctx = cluster.context()
    good, bad = "http://10.244.0.12:8080/", "http://10.244.1.7:8080/"
    refused = [f"HTTP|{bad}|1|1.00|1.00|nc: can't connect to remote host (10.244.1.7): Connection refused"] * 2
    direct = po.group_by_url(po.parse_http("\n".join(endpoint_gets(good, "HTTP/1.0 200 OK") + refused)))
    ctx.live = LiveEvidence(probe=PROBE, http=http_results(*[OK_200] * 10), endpoint_http=direct)
    assert codes(http.run(ctx)) == []


def test_http_is_blocked_when_the_probe_could_not_start(cluster):
    ctx = cluster.context()
    reason = "the probe image busybox:1.36.1 cannot start: ErrImagePull"
    ctx.live = LiveEvidence(skipped={"http": reason}, probe_unavailable=reason)
    result = http.run(ctx)
    assert result.status is Status.SKIP and result.blocked and result.skip_reason == reason


def test_read_only_dns_uses_the_direct_coredns_answer(cluster):
    ctx = cluster.context(read_only=True)
    fqdn = "web.shop.svc.cluster.local."
    direct = po.LookupResult(fqdn, "ok", ("10.96.141.22",), 4.2, "coredns-5d78c9869d-4kq2x", "NOERROR")
    ctx.live = LiveEvidence(skipped={"dns": "--read-only: no probe pod is created"}, direct_dns={fqdn: direct})
    result = dns.run(ctx)
    assert result.status is Status.PASS and not result.blocked
    assert result.summary.startswith("web.shop.svc.cluster.local -> 10.96.141.22 from CoreDNS pod coredns-5d78c9869d-4kq2x")
    assert result.verification.basis.value == "live"
    ctx = cluster.context(read_only=True)
    ctx.live = LiveEvidence(skipped={"dns": "--read-only"}, direct_dns={fqdn: po.LookupResult(
        fqdn, "nxdomain", (), 4.2, "coredns-5d78c9869d-4kq2x", "NXDOMAIN")})
    assert codes(dns.run(ctx)) == ["DNS_NAME_UNRESOLVED"]


def test_dns_is_blocked_when_the_probe_could_not_start(cluster):
    ctx = cluster.context()
    reason = "the probe image x cannot be pulled"
    ctx.live = LiveEvidence(skipped={"dns": reason}, probe_unavailable=reason)
    result = dns.run(ctx)
    assert result.status is Status.SKIP and result.blocked


def _client_with_own_nameserver(cluster, server: str = "10.250.0.53"):
    """A client pod with dnsPolicy None and a dnsConfig naming another nameserver (issue 18 section 6)."""
    pod = cluster.find("Pod", "client", "shop")
    pod["spec"].update(dnsPolicy="None", dnsConfig={"nameservers": [server],
                                                     "searches": ["shop.svc.cluster.local"]})
    return Client("pod", "shop", pod)


def test_a_client_asking_another_nameserver_is_not_called_broken_cluster_dns(cluster):
    ctx = cluster.context(client=_client_with_own_nameserver(cluster))
    ev = dns_evidence((1, TIMEOUT), (1, TIMEOUT))
    ev.resolv = po.parse_resolv_conf("search shop.svc.cluster.local\nnameserver 10.250.0.53\n")
    fqdn = "web.shop.svc.cluster.local."
    ev.direct_dns[fqdn] = po.LookupResult(fqdn, "ok", ("10.96.141.22",), 4.2, "coredns-5d78c9869d-4kq2x", "NOERROR")
    ctx.live = ev
    result = dns.run(ctx)
    assert codes(result) == ["DNS_CLIENT_OTHER_NAMESERVER"]
    f = result.findings[0]
    assert f.severity is Severity.ERROR
    assert f.message.startswith("the client asks 10.250.0.53, not cluster DNS (10.96.0.10): its pod sets dnsPolicy None")
    assert "CoreDNS asked directly answers (coredns-5d78c9869d-4kq2x: 10.96.141.22)" in f.message
    assert "dnsPolicy" in f.fix


def test_another_nameserver_that_forwards_cluster_names_is_no_finding(cluster):
    ctx = cluster.context(client=_client_with_own_nameserver(cluster))
    ctx.live = dns_evidence((0, OK_WEB), (0, OK_KUBE))
    assert dns.run(ctx).status is Status.PASS


def test_another_nameserver_without_live_lookups_is_a_warning(cluster):
    result = dns.run(cluster.context(client=_client_with_own_nameserver(cluster)))
    (f,) = result.findings
    assert f.code == "DNS_CLIENT_OTHER_NAMESERVER" and f.severity is Severity.WARNING
    assert "resolve only if that server forwards cluster.local" in f.message


def test_a_refused_endpoint_that_is_not_ready_gets_no_service_traffic(cluster):
    # Issue 18 section 6: a not-Ready endpoint's refused connect is not "intermittent through the Service".
    cluster.find("EndpointSlice", "web-x7k2p", "shop")["endpoints"][1]["conditions"] = {
        "ready": False, "serving": False, "terminating": False}
    ctx = cluster.context()
    ctx.live = probed(ctx, probe=PROBE, tcp=tcp(OPEN_12, REFUSED_7))
    (f,) = [f for f in listen.run(ctx).findings if f.code == "LSN_ENDPOINT_UNREACHABLE"]
    assert "intermittent" not in f.message
    assert "they get no traffic through the Service: they are not Ready" in f.message
