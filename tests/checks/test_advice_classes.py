"""Advice that must not contradict the rest of the report, fixed as classes (issue 8).

Each case starts from the healthy fixture cluster and overlays real ``kubectl get -o yaml``
objects (status included) from tests/fixtures/cluster/: a readiness gate nothing sets,
a rollout whose new template moved the port, a hostNetwork pod whose port the kubelet
holds, and a NetworkPolicy that rejects the client.
"""

from __future__ import annotations

import copy

import yaml

from kubectl_netdoctor.checks import listen, selectors
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.model import Basis, Severity, Status
from kubectl_netdoctor.parsers import probe_output as po
from kubectl_netdoctor.probes.plan import probe_targets
from tests.checks.pasted import apply_to
from tests.conftest import FIXTURES, codes

PROBE = "probe pod shop/netdoctor-probe-1a2b3c"
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def overlay(cluster, name: str) -> None:
    """Replace the fixture cluster's objects by the file's (same kind, namespace, name); add the rest."""
    doc = yaml.safe_load((FIXTURES / "cluster" / name).read_text())
    for obj in doc["items"]:
        meta = obj["metadata"]
        try:
            cluster.remove(obj["kind"], meta["name"], meta.get("namespace"))
        except KeyError:
            pass
        cluster.add(copy.deepcopy(obj))


def tcp(*lines: str) -> dict:
    return {(r.host, r.port): r for r in po.parse_tcp("\n".join(lines), wait_s=3)}


def listening(port: int, address: str = "00000000") -> str:
    return HEADER + f"   0: {address}:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534 0 40431 1 0\n"


# -- readiness gates --------------------------------------------------------------------

def test_a_pod_held_back_by_a_readiness_gate_names_the_gate_not_the_passing_probe(cluster, run_step):
    overlay(cluster, "readiness-gate.yaml")
    result = run_step(selectors, cluster.context())
    assert codes(result) == ["SEL_READINESS_GATE_UNMET"]
    f = result.findings[0]
    gate = "target-health.elbv2.k8s.aws/k8s-shop-web-6b8e2c1f3a"
    assert f.message == (f"1 of 2 selected pods are held out of the endpoints by readiness gate {gate}: their "
                         "containers are ready, but the gate condition is not True (the others still serve)")
    assert f.severity is Severity.WARNING
    assert (f"pod web-7c9f8d6b5-fghij: readinessGates conditionType {gate}: no such condition in "
            "status.conditions (nothing has set it)") in f.evidence
    assert not any("readinessProbe: httpGet" in e for e in f.evidence)
    assert "remove the gate from the pod template's spec.readinessGates" in f.fix


def test_every_pod_held_by_the_gate_is_an_error(cluster, run_step):
    overlay(cluster, "readiness-gate.yaml")
    gated = cluster.find("Pod", "web-7c9f8d6b5-fghij", "shop")
    other = cluster.find("Pod", "web-7c9f8d6b5-abcde", "shop")
    other["spec"]["readinessGates"] = copy.deepcopy(gated["spec"]["readinessGates"])
    other["status"]["conditions"] = copy.deepcopy(gated["status"]["conditions"])
    result = run_step(selectors, cluster.context())
    assert codes(result) == ["SEL_READINESS_GATE_UNMET"] and result.status is Status.FAIL


# -- mixed templates ----------------------------------------------------------------------

def test_mixed_rollout_names_the_odd_template(cluster, run_step):
    overlay(cluster, "mixed-rollout.yaml")
    result = run_step(selectors, cluster.context())
    f = next(f for f in result.findings if f.code == "SEL_MIXED_TEMPLATES")
    assert f.message == ("the selector picks pods of 2 templates that declare different ports: Deployment web "
                         "(ReplicaSet web-5d8f9c7b4) differs from Deployment web (ReplicaSet web-7c9f8d6b5)")
    assert f.fix.startswith("fix the odd template, not the Service")
    assert "kubectl -n shop edit deployment web" in f.fix and "rollout undo deployment/web" in f.fix


def test_mixed_rollout_listen_fix_goes_to_the_template_not_the_targetport(cluster, run_step):
    overlay(cluster, "mixed-rollout.yaml")
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp(
        "TCP|10.244.0.12|8080|0|100.00|100.01|", "TCP|10.244.1.7|8080|0|100.00|100.01|",
        "TCP|10.244.0.19|8080|1|100.00|100.00|nc: can't connect to remote host (10.244.0.19): Connection refused"),
        listeners={"web-5d8f9c7b4-q2w9x": listening(8081), "web-7c9f8d6b5-abcde": listening(8080)})
    result = run_step(listen, ctx)
    f = next(f for f in result.findings if f.code == "LSN_NOT_LISTENING")
    assert "point the Service targetPort" not in f.fix
    assert f.fix.startswith("fix the template, not the Service: Deployment web (ReplicaSet web-5d8f9c7b4) makes "
                            "the app listen on 8081, where the Service targets 8080 and the pods of Deployment web "
                            "(ReplicaSet web-7c9f8d6b5) serve it")
    # Each command on a line of its own, whole: the edit, then the rollback.
    assert f.fix.splitlines()[1:] == ["kubectl -n shop edit deployment web", "or roll back:",
                                      "kubectl -n shop rollout undo deployment/web"]
    assert f.fix.splitlines()[0].endswith("; make it listen on 8080 like the others:")


def test_a_single_template_on_the_wrong_port_still_points_the_targetport(cluster, run_step):
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp(
        "TCP|10.244.0.12|8080|1|100.00|100.00|", "TCP|10.244.1.7|8080|1|100.00|100.00|"),
        listeners={"web-7c9f8d6b5-abcde": listening(9090), "web-7c9f8d6b5-fghij": listening(9090)})
    f = next(f for f in run_step(listen, ctx).findings if f.code == "LSN_NOT_LISTENING")
    prose, command = f.fix.splitlines()
    assert prose == "point the Service targetPort at the port the app uses (9090):"
    # Pasted, the patch points the Service at 9090, where the app listens: nothing is left to find.
    cluster.objects = apply_to(command, cluster.objects)
    assert cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] == 9090
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp(
        "TCP|10.244.0.12|9090|0|100.00|100.01|", "TCP|10.244.1.7|9090|0|100.00|100.01|"),
        listeners={"web-7c9f8d6b5-abcde": listening(9090), "web-7c9f8d6b5-fghij": listening(9090)})
    assert "LSN_NOT_LISTENING" not in codes(run_step(listen, ctx))


# -- hostNetwork port conflicts --------------------------------------------------------------

def test_hostnetwork_pod_whose_port_the_kubelet_holds(cluster, run_step):
    overlay(cluster, "hostnetwork-port-conflict.yaml")
    ctx = cluster.context("node-agent")
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp("TCP|10.0.24.29|10250|0|100.00|100.01|"))
    result = run_step(listen, ctx)
    f = next(f for f in result.findings if f.code == "LSN_HOST_PORT_CONFLICT")
    assert f.message == ("pod node-agent-7xk2m uses hostNetwork and cannot bind port 10250 on node node-2: it is "
                         "already held by the kubelet, so the pod crash-loops; what answers on that port is not "
                         "this app")
    assert "last exit: 2026/11/22 10:01:44 agent: listen tcp 0.0.0.0:10250: bind: address already in use" in f.evidence
    assert result.status is Status.FAIL
    # A failing step's summary leads with what is wrong.
    assert result.summary == ("A hostNetwork pod cannot bind its port: another process on the node holds it; "
                              "0 endpoints answer TCP: 10.0.24.29:10250 answered by another process on the node, "
                              "not by the pod")
    assert not any(p.ok for p in result.probes if p.kind == "tcp")


def test_hostnetwork_conflict_is_named_without_probes_too(cluster, run_step):
    overlay(cluster, "hostnetwork-port-conflict.yaml")
    result = run_step(listen, cluster.context("node-agent"))
    # No LSN_HOST_PORT: the fixture's hostPort 10250 is the API server's default for a hostNetwork pod
    # (hostPort = containerPort), not a hostPort anyone chose, so "use a NodePort instead" would be wrong.
    assert codes(result) == ["LSN_HOST_NETWORK", "LSN_HOST_PORT_CONFLICT"]
    assert result.status is Status.FAIL



def test_a_chosen_hostport_is_still_named(cluster, run_step):
    for pod in cluster.all("Pod", "shop"):
        if pod["metadata"].get("labels", {}).get("app") == "web":
            pod["spec"]["containers"][0]["ports"][0]["hostPort"] = 8080
    assert "LSN_HOST_PORT" in codes(run_step(listen, cluster.context()))


# -- listen fix vs netpol ----------------------------------------------------------------------

DENY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": "shop", "uid": "6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f",
                     "resourceVersion": "72001", "generation": 1, "creationTimestamp": "2026-11-22T08:00:00Z"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}


def test_a_policy_that_rejects_is_not_blamed_on_the_app(cluster, run_step):
    cluster.add(copy.deepcopy(DENY))
    ctx = cluster.context()
    refused = "nc: can't connect to remote host ({ip}): Connection refused"
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp(
        "TCP|10.244.0.12|8080|1|100.00|100.00|" + refused.format(ip="10.244.0.12"),
        "TCP|10.244.1.7|8080|1|100.00|100.00|" + refused.format(ip="10.244.1.7")),
        listeners={"web-7c9f8d6b5-abcde": listening(8080)})
    f = next(f for f in run_step(listen, ctx).findings if f.code == "LSN_ENDPOINT_UNREACHABLE")
    assert "0.0.0.0" not in f.fix and "logs" not in f.fix
    assert f.fix.startswith("NetworkPolicy default-deny denies this client (see the netpol step): the connect is "
                            "rejected (refused) by the policy enforcer, not by the app")


def test_the_same_policy_dropping_gives_the_same_advice(cluster, run_step):
    cluster.add(copy.deepcopy(DENY))
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp("TCP|10.244.0.12|8080|1|100.00|103.00|nc: timed out",
                                                 "TCP|10.244.1.7|8080|1|100.00|103.00|nc: timed out"))
    f = next(f for f in run_step(listen, ctx).findings if f.code == "LSN_ENDPOINT_UNREACHABLE")
    assert f.fix.startswith("NetworkPolicy default-deny denies this client (see the netpol step): the connect is "
                            "dropped (timeout) by the policy enforcer")


def test_refused_while_listening_everywhere_without_a_policy_points_between(cluster, run_step):
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp(
        "TCP|10.244.0.12|8080|1|100.00|100.00|nc: can't connect to remote host (10.244.0.12): Connection refused",
        "TCP|10.244.1.7|8080|0|100.00|100.01|"), listeners={"web-7c9f8d6b5-abcde": listening(8080)})
    f = next(f for f in run_step(listen, ctx).findings if f.code == "LSN_ENDPOINT_UNREACHABLE")
    assert "yet the connect is refused: something in between rejects it" in f.fix


def test_listen_says_what_it_verified_live(cluster, run_step):
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp("TCP|10.244.0.12|8080|0|100.00|100.01|",
                                                 "TCP|10.244.1.7|8080|0|100.00|100.01|"),
                            listeners={"web-7c9f8d6b5-abcde": listening(8080)})
    result = run_step(listen, ctx)
    assert result.status is Status.PASS
    assert result.verification.basis is Basis.LIVE
    assert result.verification.describe() == "live: 2/2 endpoints answer TCP, listeners of 1 pod(s) read"
    assert result.to_dict()["verified"] == {"basis": "live", "detail": "2/2 endpoints answer TCP, listeners of 1 pod(s) read"}


# -- UDP, read-only evidence, a probe that could not start -------------------------------------

UDP_CAPTURE = (FIXTURES / "captures" / "pod-dns-echo.proc-net-tcp-udp").read_text()  # UDP 9000, 5353 bound


def udp_service(cluster, target: int, name: str = "dns", port: int = 53) -> None:
    """The healthy web Service turned into a UDP-only one, as the API would show it."""
    svc = cluster.find("Service", "web", "shop")
    svc["spec"]["ports"] = [{"name": name, "port": port, "protocol": "UDP", "targetPort": target}]
    sl = cluster.find("EndpointSlice", "web-x7k2p", "shop")
    sl["ports"] = [{"name": name, "port": target, "protocol": "UDP"}]


def udp(*lines: str) -> dict:
    return {(r.host, r.port): r for r in po.parse_udp("\n".join(lines))}


ANSWER = "Server:\t\t{ip}:{port}~Address:\t{ip}:{port}~~Non-authoritative answer:~Name:\tweb.shop.svc.cluster.local~Address: 10.244.0.12~"


def test_udp_service_answered_by_every_endpoint_passes_live(cluster, run_step):
    udp_service(cluster, 5353)
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, udp=udp(
        *(f"UDP|{ip}|5353|1|0|1.00|1.01|" + ANSWER.format(ip=ip, port=5353) for ip in ("10.244.0.12", "10.244.1.7"))),
        listeners={"web-7c9f8d6b5-abcde": UDP_CAPTURE})
    result = run_step(listen, ctx)
    assert result.status is Status.PASS, [(f.code, f.message) for f in result.findings]
    assert result.summary == f"2 of 2 UDP endpoints answer from {PROBE}"
    assert result.verification.describe() == "live: 2/2 UDP endpoints, listeners of 1 pod(s) read"


def test_dead_udp_backend_is_a_problem_not_ok(cluster, run_step):
    udp_service(cluster, 5514, name="syslog", port=514)
    ctx = cluster.context()
    refused = "UDP|{ip}|5514|0|124|1.00|4.00|nslookup: read: Connection refused"
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, udp=udp(refused.format(ip="10.244.0.12"), refused.format(ip="10.244.1.7")),
                            listeners={"web-7c9f8d6b5-abcde": UDP_CAPTURE})
    result = run_step(listen, ctx)
    assert result.status is Status.FAIL
    assert codes(result) == ["LSN_NOT_LISTENING", "LSN_ENDPOINT_UNREACHABLE"]
    assert result.findings[0].message.startswith("nothing is bound to UDP port 5514 in pod web-7c9f8d6b5-abcde")
    assert result.findings[1].message == ("2 of 2 UDP endpoints fail a direct probe (ICMP port unreachable: "
                                          "nothing bound)")


def test_a_silent_udp_port_is_said_honestly(cluster, run_step):
    udp_service(cluster, 7777, name="metrics-udp", port=7777)
    ctx = cluster.context()
    silent = "UDP|{ip}|7777|0|124|1.00|4.00|"
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, udp=udp(silent.format(ip="10.244.0.12"), silent.format(ip="10.244.1.7")))
    result = run_step(listen, ctx)
    assert codes(result) == ["LSN_UDP_NO_REPLY"] and result.findings[0].severity is Severity.INFO
    assert "not proof of failure" in result.findings[0].message


def test_read_only_uses_the_listeners_it_read(cluster, run_step):
    ctx = cluster.context(read_only=True)
    reason = "--read-only: no probe pod is created"
    ctx.live = LiveEvidence(targets=probe_targets(ctx), skipped={"tcp": reason, "http": reason, "dns": reason},
                            listeners={"web-7c9f8d6b5-abcde": listening(8080), "web-7c9f8d6b5-fghij": listening(8080)})
    result = run_step(listen, ctx)
    assert result.status is Status.PASS and not result.blocked
    assert result.verification.describe() == "live: listeners of 2/2 pods, no connect"


def test_a_probe_that_could_not_start_blocks_listen_even_with_listeners_read(cluster, run_step):
    ctx = cluster.context()
    reason = ("the probe image docker.io/library/busybox:1.36.1 (the default) cannot be pulled: ErrImagePull; "
              "set a pullable image with --probe-image IMAGE")
    ctx.live = LiveEvidence(targets=probe_targets(ctx), skipped={"tcp": reason, "http": reason, "dns": reason}, probe_unavailable=reason,
                            listeners={"web-7c9f8d6b5-abcde": listening(8080)})
    result = run_step(listen, ctx)
    assert result.status is Status.SKIP and result.blocked
    assert result.skip_reason == f"connects not run: {reason}; listeners of 1 pod(s) read"


def test_sctp_is_said_not_to_be_probed(cluster, run_step):
    svc = cluster.find("Service", "web", "shop")
    svc["spec"]["ports"].append({"name": "sigtran", "port": 2905, "protocol": "SCTP", "targetPort": 2905})
    result = run_step(listen, cluster.context())
    f = next(f for f in result.findings if f.code == "LSN_SCTP_NOT_PROBED")
    assert f.severity is Severity.INFO and "not probed" in f.message


# -- a readinessProbe on a port nothing listens on (issue 18) ----------------------------------

def test_live_listeners_show_the_readiness_probe_asks_where_nothing_listens(cluster, run_step):
    """No kubelet event needed: the pods' own /proc/net/tcp shows the app on 8080 and nothing on 9999,
    where the readinessProbe connects; the fix points the probe at 8080."""
    for pod in cluster.all("Pod", "shop"):
        if (pod["metadata"].get("labels") or {}).get("app") != "web":
            continue
        pod["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 9999}, "periodSeconds": 2}
        pod["status"]["conditions"] = [dict(c, status="False") if c["type"] in ("Ready", "ContainersReady") else c
                                       for c in pod["status"]["conditions"]]
        pod["status"]["containerStatuses"][0]["ready"] = False
    ctx = cluster.context()
    ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE,
                            listeners={"web-7c9f8d6b5-abcde": listening(8080), "web-7c9f8d6b5-fghij": listening(8080)})
    result = run_step(selectors, ctx)
    f = next(f for f in result.findings if f.code == "SEL_READINESS_PROBE_PORT")
    assert f.severity is Severity.ERROR and result.status is Status.FAIL
    assert "/proc/net/tcp of web-7c9f8d6b5-abcde: listening on 8080" in f.evidence
    assert f.fix.splitlines()[-1] == (
        "kubectl -n shop patch deployment web --type json -p '[{\"op\":\"replace\",\"path\":"
        "\"/spec/template/spec/containers/0/readinessProbe/tcpSocket/port\",\"value\":8080}]'")
    assert result.summary.startswith("The readinessProbe checks a port the app does not listen on")
