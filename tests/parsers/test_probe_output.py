"""Probe batch output (busybox nc / wget / nslookup) as the probe scripts print it."""

from __future__ import annotations

import subprocess

import pytest

from kubectl_netdoctor.parsers import probe_output as po

NSLOOKUP_OK = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53


Name:\tweb.shop.svc.cluster.local
Address: 10.96.141.22

"""
NSLOOKUP_NX = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

** server can't find web.default.svc.cluster.local: NXDOMAIN

** server can't find web.default.svc.cluster.local: NXDOMAIN

"""
NSLOOKUP_TIMEOUT = ";; connection timed out; no servers could be reached\n\n"


def test_tcp_lines_are_classified():
    text = ("TCP|10.244.0.12|8080|0|1021.33|1021.34|\n"
            "TCP|10.244.0.13|8080|1|1021.33|1021.34|\n"
            "TCP|10.244.0.14|8080|1|1021.33|1024.34|nc: timed out\n"
            "TCP|10.244.0.3|8081|1|2730.05|2730.05|nc: can't connect to remote host (10.244.0.3): Connection refused\n"
            "garbage line\n")
    results = po.parse_tcp(text, wait_s=3)
    assert [(r.host, r.outcome) for r in results] == [
        ("10.244.0.12", "open"), ("10.244.0.13", "refused"), ("10.244.0.14", "timeout"), ("10.244.0.3", "refused")]
    assert results[0].ok and results[0].latency_ms == 10.0


def test_http_outcomes():
    # What http_script prints: the raw answer of a hand-written HTTP/1.0 GET through nc, CR/LF folded.
    lines = [
        "HTTP|http://10.96.86.117:80/|0|2729.65|2729.66|HTTP/1.0 200 OK ~Content-Type: text/plain ~"
        "Date: Sun, 22 Nov 2026 05:09:37 GMT ~Content-Length: 52 ~ ~httpapp host=web-7bdcb55b4d-x8778 path=/ status=200~",
        "HTTP|http://10.96.1.1:80/|0|5.10|5.12|HTTP/1.0 503 Service Unavailable ~Content-Length: 0 ~ ~",
        "HTTP|http://10.96.1.2:80/|0|5.10|5.11|nc: can't connect to remote host (10.96.1.2): Connection refused~",
        "HTTP|http://10.96.1.3:80/|0|5.10|8.10|nc: timed out~",
        "HTTP|http://10.96.1.4:80/|0|5.10|5.11|nc: read error: Connection reset by peer~",
        "HTTP|http://10.96.1.5:80/x|0|5.10|5.11|HTTP/1.1 404 Not Found ~ ~",
        "HTTP|http://10.96.1.6:5432/|0|5.10|5.11|\x00\x00\x00\x08 binary junk~",
        "HTTP|http://10.96.1.7:80/|0|5.10|9.11|~",
    ]
    results = {r.url: r for r in po.parse_http("\n".join(lines))}
    assert [(r.outcome, r.status) for r in results.values()] == [
        ("ok", 200), ("server_error", 503), ("refused", None), ("timeout", None), ("reset", None),
        ("client_error", 404), ("not_http", None), ("timeout", None)]
    assert results["http://10.96.86.117:80/"].latency_ms == 10.0
    assert results["http://10.96.86.117:80/"].detail == "HTTP/1.0 200 OK"



def test_http_nothing_back_is_a_timeout_only_after_the_wait():
    # Live, iptables mode, a Service with no endpoint: the packet left the node and a proxy out there
    # accepted and hung up in 10 ms. That is not a timeout (nc's wait is 3 s).
    closed = "HTTP|http://10.96.17.21:80/|0|12144.13|12144.14|"
    waited = "HTTP|http://10.96.17.21:80/|0|12144.13|12147.15|"
    assert [r.outcome for r in po.parse_http(closed + "\n" + waited, wait_s=3)] == ["empty", "timeout"]
    assert [r.outcome for r in po.parse_http(closed)] == ["timeout"]  # no wait known: as before


@pytest.mark.parametrize("output, rc, outcome, addresses", [
    (NSLOOKUP_OK, 0, "ok", ("10.96.141.22",)),
    (NSLOOKUP_NX, 1, "nxdomain", ()),
    (NSLOOKUP_TIMEOUT, 1, "timeout", ()),
    ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n** server can't find x.: SERVFAIL\n", 1, "servfail", ()),
    ("", 143, "timeout", ()),
])
def test_nslookup(output, rc, outcome, addresses):
    r = po.parse_nslookup_output("web.shop.svc.cluster.local.", rc, output, 4.0)
    assert (r.outcome, r.addresses) == (outcome, addresses)


def test_nslookup_batch_line_round_trip():
    line = "DNS|web.shop.svc.cluster.local.|0|1.00|1.01|" + NSLOOKUP_OK.replace("\n", "~")
    (r,) = po.parse_nslookup(line)
    assert r.ok and r.server == "10.96.0.10" and r.latency_ms == 10.0


def test_resolv_conf():
    r = po.parse_resolv_conf("search shop.svc.cluster.local svc.cluster.local cluster.local\n"
                             "nameserver 10.96.0.10\noptions ndots:5 timeout:1\n")
    assert r.search == ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local")
    assert r.nameservers == ("10.96.0.10",) and r.ndots == 5


def test_http_script_asks_each_url_the_given_number_of_times():
    script = po.http_script(["http://10.0.0.1:80/", "http://10.0.0.2:8080/x"], 2, attempts=4)
    assert script.count("g 'http://10.0.0.1:80/' 10.0.0.1 80 '/' &") == 4
    assert script.count("g 'http://10.0.0.2:8080/x' 10.0.0.2 8080 '/x' &") == 4


def test_scripts_are_valid_posix_sh():
    for script in (po.tcp_script([("10.0.0.1", 80)], 2), po.http_script(["http://10.0.0.1:80/"], 2),
                   po.nslookup_script(["a.b."], 2)):
        subprocess.run(["sh", "-n", "-c", script], check=True)


# -- UDP: a DNS question as the datagram ---------------------------------------------------

def test_udp_script_asks_each_target_at_once():
    script = po.udp_script([("10.244.0.9", 5353, True), ("10.96.7.7", 514, False)], "logs.shop.svc.cluster.local", 3)
    assert "u 10.244.0.9 5353 1 'logs.shop.svc.cluster.local' &" in script
    assert "u 10.96.7.7 514 0 'logs.shop.svc.cluster.local' &" in script
    assert script.endswith("wait")


def test_udp_outcomes_from_busybox_nslookup():
    # Real busybox 1.35 nslookup output: ICMP port unreachable, a DNS answer, silence.
    lines = [
        "UDP|10.244.0.9|5514|0|124|10.00|13.00|nslookup: read: Connection refused",
        "UDP|10.244.0.9|5353|1|0|10.00|10.01|Server:\t\t10.244.0.9:5353~Address:\t10.244.0.9:5353~~"
        "Non-authoritative answer:~Name:\tlogs.shop.svc.cluster.local~Address: 10.244.0.7~",
        "UDP|10.244.0.9|9000|0|124|10.00|13.00|",
        "UDP|10.244.0.9|53|1|1|10.00|15.00|;; connection timed out; no servers could be reached~",
        "UDP|10.244.0.9|5300|1|1|10.00|10.02|** server can't find logs.shop.svc.cluster.local: NXDOMAIN~",
    ]
    r = {x.port: x for x in po.parse_udp("\n".join(lines))}
    assert r[5514].outcome == "refused" and r[5514].failed and r[5514].detail == "nslookup: read: Connection refused"
    assert r[5353].ok and r[5353].dns and r[5353].latency_ms == 10.0
    assert r[9000].outcome == "no_reply" and not r[9000].failed  # a non-DNS app need not answer
    assert r[53].outcome == "no_reply" and r[53].failed  # a DNS port that is silent is broken
    assert r[5300].ok  # NXDOMAIN is still an answer from a DNS server


def test_http_script_attempts_per_url():
    script = po.http_script(["http://10.96.1.1:80/", "http://10.244.0.9:8080/"], 3, 10,
                            per_url={"http://10.244.0.9:8080/": 2})
    assert script.count("g 'http://10.96.1.1:80/'") == 10 and script.count("g 'http://10.244.0.9:8080/'") == 2
