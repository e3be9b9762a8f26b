"""Issue 8's probes: UDP targets and their task, GETs to each endpoint, UDP listener reads, and a probe
that could not start said exactly (image, where it was set, how to set another)."""

from __future__ import annotations

from kubectl_netdoctor.cluster.probe import ExecResult
from kubectl_netdoctor.context import Options
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.probes import plan, prober
from kubectl_netdoctor.probes import tasks as orch
from tests.probes.test_tasks import POD, Answering

UDP_ANSWER = ("UDP|10.244.0.12|5353|1|0|1.00|1.01|Server:\t\t10.244.0.12:5353~Address:\t10.244.0.12:5353~~"
              "Non-authoritative answer:~")


class Script:
    """A probe session whose scripts print canned output, remembering what it was asked."""

    image = "docker.io/library/busybox:1.36.1"

    def __init__(self, stdout: str):
        self.stdout, self.scripts = stdout, []

    def script(self, text, timeout=30.0):
        self.scripts.append(text)
        return ExecResult(0, self.stdout, "")


def udp_service(cluster) -> None:
    svc = cluster.find("Service", "web", "shop")
    svc["spec"]["ports"] = [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}]
    cluster.find("EndpointSlice", "web-x7k2p", "shop")["ports"] = [{"name": "dns", "port": 5353, "protocol": "UDP"}]


def test_targets_hold_udp_endpoints_and_the_cluster_ip(cluster):
    udp_service(cluster)
    t = plan.probe_targets(cluster.context())
    assert t.udp_endpoints == [("10.244.0.12", 5353, "web-7c9f8d6b5-abcde", True),
                               ("10.244.1.7", 5353, "web-7c9f8d6b5-fghij", True)]
    assert t.udp_cluster_ips == [("10.96.141.22", 53, True)]
    assert t.endpoints == [] and t.http_urls == []


def test_targets_hold_one_url_per_ready_endpoint(cluster):
    t = plan.probe_targets(cluster.context())
    assert t.http_urls == ["http://10.96.141.22:80/"]
    assert t.endpoint_urls == {"http://10.244.0.12:8080/": "web-7c9f8d6b5-abcde",
                               "http://10.244.1.7:8080/": "web-7c9f8d6b5-fghij"}


def test_http_task_asks_each_endpoint_twice_and_stores_it_apart():
    out = "\n".join(["HTTP|http://10.96.141.22:80/|0|1.00|1.01|HTTP/1.0 200 OK ~"] * 10
                    + ["HTTP|http://10.244.0.12:8080/|0|1.00|1.01|HTTP/1.0 503 Service Unavailable ~"] * 2)
    session = Script(out)
    ev = LiveEvidence()
    orch.run_tasks(ev, [orch.http_task(session, ["http://10.96.141.22:80/"],
                                       {"http://10.244.0.12:8080/": "web-1"})], None)
    assert session.scripts[0].count("g 'http://10.244.0.12:8080/'") == 2
    assert list(ev.http) == ["http://10.96.141.22:80/"] and len(ev.http["http://10.96.141.22:80/"]) == 10
    assert [r.status for r in ev.endpoint_http["http://10.244.0.12:8080/"]] == [503, 503]
    assert ev.endpoint_pods == {"http://10.244.0.12:8080/": "web-1"}


def test_udp_task_stores_by_address():
    ev = LiveEvidence()
    orch.run_tasks(ev, [orch.udp_task(Script(UDP_ANSWER), [("10.244.0.12", 5353, True)], "web.shop.svc.cluster.local")],
                   None)
    assert ev.udp[("10.244.0.12", 5353)].ok


def test_listener_reads_include_udp_and_survive_a_missing_ipv6_table():
    seen = {}

    class Partial:
        def exec(self, namespace, pod, command, container=None, timeout=20.0):
            seen["command"] = command
            return ExecResult(1, "  sl  local_address rem_address   st\n", "cat: can't open '/proc/net/tcp6': No such file")

    ev = LiveEvidence()
    orch.run_tasks(ev, [orch.listener_task(Partial(), POD)], None)
    assert seen["command"] == ["cat", "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"]
    assert "web-1" in ev.listeners
    ev = LiveEvidence()
    orch.run_tasks(ev, [orch.listener_task(Answering(""), POD)], None)
    assert ev.listeners == {}


def test_an_unpullable_probe_image_says_which_where_from_and_what_to_do(monkeypatch, tmp_path):
    monkeypatch.delenv("NETDOCTOR_PROBE_IMAGE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))

    class Session:
        image = "docker.io/library/busybox:1.36.1"

    error = ("the probe image docker.io/library/busybox:1.36.1 cannot start: ErrImagePull: failed to pull and "
             "unpack image (use --probe-image)")
    message = prober.unavailable_message(Session(), error, Options())
    assert message.startswith("the probe image docker.io/library/busybox:1.36.1 (set by the default) cannot be "
                              "pulled: ErrImagePull: failed to pull and unpack image; set a pullable image")
    assert "--probe-image IMAGE" in message and "NETDOCTOR_PROBE_IMAGE=IMAGE" in message
    assert "--read-only" in message and str(tmp_path / "kubectl-netdoctor" / "config.yaml") in message
    Session.image = "mirror.local/toolbox:1"
    assert "(set by --probe-image)" in prober.unavailable_message(Session(), error.replace(
        "docker.io/library/busybox:1.36.1", "mirror.local/toolbox:1"), Options(origins={"probe_image": "--probe-image"}))
    assert prober.unavailable_message(Session(), "forbidden: create pods in ns shop", Options()).endswith(
        "to diagnose without a probe pod, run with --read-only")
