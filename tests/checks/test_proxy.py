"""The proxy step over a kubeadm 1.34 cluster (tests/fixtures/proxy) and real-format node captures.

Each case starts from the healthy fixtures and breaks one thing, the way it breaks
in a cluster: a rule line gone from a capture, an endpoint gone from a slice, a
kube-proxy pod crash-looping. Captures are edited as text, objects as dicts.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from kubectl_netdoctor import labels
from kubectl_netdoctor.checks import proxy
from kubectl_netdoctor.checks.base import Client, Context
from kubectl_netdoctor.checks.proxy import health, rules
from kubectl_netdoctor.cluster.reader import WellFormed
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.kubeproxy.topology import endpoint_sets
from kubectl_netdoctor.model import Severity, Status
from kubectl_netdoctor.parsers.probe_output import TcpResult

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "proxy"
CAPTURE_SUFFIXES = ((".iptables-save", "iptables-save"), (".ipvsadm", "ipvsadm"), (".nft.json", "nft"), (".nft", "nft"))


class MemoryReader(WellFormed):
    """The Reader protocol over a list of objects: kind, namespace, ``-l`` and ``involvedObject.name=``."""

    source = "memory"

    def __init__(self, objects: list[dict], captures: dict[str, dict[str, str]]):
        self.objects, self.captures = objects, captures

    def get(self, kind, namespace, name):
        return next((o for o in self.list(kind, namespace) if o["metadata"]["name"] == name), None)

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        out = []
        for o in self.objects:
            meta = o["metadata"]
            if o["kind"] != kind or (namespace is not None and meta.get("namespace") != namespace):
                continue
            if not labels.matches_selector_string(label_selector, meta.get("labels")):
                continue
            if field_selector and field_selector.startswith("involvedObject.name="):
                if (o.get("involvedObject") or {}).get("name") != field_selector.split("=", 1)[1]:
                    continue
            out.append(o)
        return out

    def node_captures(self):
        return self.captures

    def capture_source(self, node, kind):
        return f"{node}.{kind}"

    def default_namespace_for(self, service):
        return "default"

    def policy_crds(self, namespaces=None):
        return []


def load_objects() -> list[dict]:
    out = []
    for name in ("nodes.yaml", "kube-system.yaml", "shop.yaml"):
        out += yaml.safe_load((FIXTURES / name).read_text())["items"]
    return out


def load_captures(directory: str | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if directory is None:
        return out
    for f in sorted((FIXTURES / directory).iterdir()):
        for suffix, kind in CAPTURE_SUFFIXES:
            if f.name.endswith(suffix):
                out.setdefault(f.name[: -len(suffix)], {})[kind] = f.read_text()
                break
    return out


# -- mutations ------------------------------------------------------------------------

def find(objs: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def set_mode(mode: str) -> Callable[[list[dict]], None]:
    def apply(objs):
        cm = find(objs, "ConfigMap", "kube-proxy")
        cm["data"]["config.conf"] = cm["data"]["config.conf"].replace('mode: ""', f"mode: {mode}")
    return apply


def delete_endpoint(ip: str, pod: str) -> Callable[[list[dict]], None]:
    """The pod was deleted: the EndpointSlice controller dropped it."""
    def apply(objs):
        for s in (o for o in objs if o["kind"] == "EndpointSlice"):
            s["endpoints"] = [e for e in s.get("endpoints") or [] if ip not in e["addresses"]]
        objs.remove(find(objs, "Pod", pod))
    return apply


def add_web_endpoint(objs: list[dict]) -> None:
    """A new web pod became ready on worker-2 (the slice has it; kube-proxy may not)."""
    s = find(objs, "EndpointSlice", "web-x7k2p")
    new = copy.deepcopy(s["endpoints"][1])
    new["addresses"] = ["10.244.2.20"]
    new["targetRef"]["name"] = "web-6d5f8b7c9-p5r7t"
    s["endpoints"].append(new)


def kube_proxy_crashing(node_pod: str) -> Callable[[list[dict]], None]:
    def apply(objs):
        pod = find(objs, "Pod", node_pod)
        for c in pod["status"]["conditions"]:
            if c["type"] in ("Ready", "ContainersReady"):
                c["status"] = "False"
        cs = pod["status"]["containerStatuses"][0]
        cs.update(ready=False, restartCount=14, started=False,
                  state={"waiting": {"message": "back-off 5m0s restarting failed container=kube-proxy",
                                     "reason": "CrashLoopBackOff"}})
    return apply


def delete_objects(kind: str, *names: str) -> Callable[[list[dict]], None]:
    def apply(objs):
        for n in names:
            objs.remove(find(objs, kind, n))
    return apply


def add_cilium(objs: list[dict]) -> None:
    pod = copy.deepcopy(find(objs, "Pod", "kube-proxy-b8k4d"))
    pod["metadata"].update(name="cilium-9fk2x", generateName="cilium-",
                           labels={"k8s-app": "cilium", "app.kubernetes.io/name": "cilium-agent"})
    objs.append(pod)


def load_balancer(ip_mode: str = "VIP") -> Callable[[list[dict]], None]:
    """web becomes a LoadBalancer that got an IP (the captures were taken before: no rule for it)."""
    def apply(objs):
        svc = find(objs, "Service", "web")
        svc["spec"].update(type="LoadBalancer", allocateLoadBalancerNodePorts=True)
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10", "ipMode": ip_mode}]}}
    return apply


def edit(node: str, kind: str, old: str, new: str = "", count: int = 1) -> Callable[[dict], None]:
    """Replace text in one capture; the old text must occur exactly ``count`` times (honest fixtures)."""
    def apply(captures):
        text = captures[node][kind]
        assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times in {node}.{kind}"
        captures[node][kind] = text.replace(old, new)
    return apply


CILIUM_NODE_NAT = """\
# Generated by iptables-save v1.8.9 (nf_tables) on Sat Nov 22 04:31:07 2025
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CILIUM_OUTPUT_nat - [0:0]
:CILIUM_POST_nat - [0:0]
:CILIUM_PRE_nat - [0:0]
-A PREROUTING -m comment --comment "cilium-feeder: CILIUM_PRE_nat" -j CILIUM_PRE_nat
-A OUTPUT -m comment --comment "cilium-feeder: CILIUM_OUTPUT_nat" -j CILIUM_OUTPUT_nat
-A POSTROUTING -m comment --comment "cilium-feeder: CILIUM_POST_nat" -j CILIUM_POST_nat
-A CILIUM_POST_nat -s 10.244.1.0/24 ! -d 10.244.0.0/16 ! -o cilium_+ -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE
COMMIT
# Completed on Sat Nov 22 04:31:07 2025
"""


def replace_capture(node: str, kind: str, text: str) -> Callable[[dict], None]:
    def apply(captures):
        captures[node][kind] = text
    return apply


def drop_line(node: str, kind: str, needle: str) -> Callable[[dict], None]:
    """Delete the one line containing ``needle``."""
    def apply(captures):
        lines = captures[node][kind].splitlines(keepends=True)
        hits = [i for i, ln in enumerate(lines) if needle in ln]
        assert len(hits) == 1, f"{needle!r} is on {len(hits)} lines of {node}.{kind}"
        del lines[hits[0]]
        captures[node][kind] = "".join(lines)
    return apply


def drop_real_server(node: str, virtual: str, real: str) -> Callable[[dict], None]:
    """Delete a real server line from one IPVS virtual service block only."""
    def apply(captures):
        text = captures[node]["ipvsadm"]
        pattern = re.compile(rf"(^{re.escape(virtual)} .*\n(?:  -> .*\n)*?)  -> {re.escape(real)} .*\n", re.M)
        new, n = pattern.subn(r"\1", text)
        assert n == 1, f"{real} not under {virtual}"
        captures[node]["ipvsadm"] = new
    return apply


# -- cases -----------------------------------------------------------------------------

ERRORS = {"PROXY_NOT_RUNNING", "PROXY_SERVICE_RULE_MISSING", "PROXY_ENDPOINT_RULE_MISSING",
          "PROXY_STALE_ENDPOINT_RULE", "PROXY_DNAT_MISMATCH", "PROXY_NODEPORT_RULE_MISSING",
          "PROXY_LOCAL_POLICY_RULES_MISSING"}


@dataclass
class Case:
    id: str
    service: str
    captures: str | None
    status: Status
    codes: set[str]
    """Codes that must be among the findings."""
    says: dict[str, list[str]] = field(default_factory=dict)
    """code -> substrings its message (and evidence) must contain."""
    absent: set[str] = field(default_factory=set)
    objects: list[Callable[[list[dict]], None]] = field(default_factory=list)
    edits: list[Callable[[dict], None]] = field(default_factory=list)
    skip_reason: str = ""


W1_NAT = "worker-1", "iptables-save"
W2_NAT = "worker-2", "iptables-save"

CASES = [
    Case("healthy 3-endpoint NodePort service", "web", "iptables", Status.PASS, {"PROXY_MODE"},
         says={"PROXY_MODE": ["iptables mode", "mode: ''"]}, absent=ERRORS | {"PROXY_PROBABILITY_LADDER"}),
    Case("KUBE-SERVICES entry missing on one node", "web", "iptables", Status.FAIL, {"PROXY_SERVICE_RULE_MISSING"},
         says={"PROXY_SERVICE_RULE_MISSING": ["10.96.1.5:8080/TCP", "on worker-2:", "iptables-save -t nat | grep 10.96.1.5",
                                              "kubectl -n kube-system logs kube-proxy-q9fzm"]},
         edits=[drop_line(*W2_NAT, "-A KUBE-SERVICES -d 10.96.1.5/32")]),
    Case("stale KUBE-SEP for a deleted pod", "web", "iptables", Status.FAIL, {"PROXY_STALE_ENDPOINT_RULE"},
         says={"PROXY_STALE_ENDPOINT_RULE": ["10.244.2.7:8080", "worker-1, worker-2", "in no EndpointSlice",
                                             "--to-destination 10.244.2.7:8080"]},
         absent={"PROXY_ENDPOINT_RULE_MISSING", "PROXY_PROBABILITY_LADDER"},
         objects=[delete_endpoint("10.244.2.7", "web-6d5f8b7c9-7hq9z")]),
    Case("ready endpoint without a KUBE-SEP", "web", "iptables", Status.FAIL, {"PROXY_ENDPOINT_RULE_MISSING"},
         says={"PROXY_ENDPOINT_RULE_MISSING": ["10.244.2.20:8080", "web-6d5f8b7c9-p5r7t", "worker-1, worker-2"]},
         absent={"PROXY_STALE_ENDPOINT_RULE"}, objects=[add_web_endpoint]),
    Case("SEP DNATs to the wrong port", "web", "iptables", Status.FAIL, {"PROXY_DNAT_MISMATCH"},
         says={"PROXY_DNAT_MISMATCH": ["10.244.2.7:8081", "10.244.2.7:8080", "on worker-1"]},
         absent={"PROXY_ENDPOINT_RULE_MISSING", "PROXY_STALE_ENDPOINT_RULE"},
         edits=[edit(*W1_NAT, "--to-destination 10.244.2.7:8080", "--to-destination 10.244.2.7:8081")]),
    Case("probability ladder skewed", "web", "iptables", Status.WARN, {"PROXY_PROBABILITY_LADDER"},
         says={"PROXY_PROBABILITY_LADDER": ["3 endpoints", "0.10000000009", "expected 0.33333"]},
         edits=[edit(*W1_NAT, "--probability 0.33333333349", "--probability 0.10000000009")]),
    Case("last endpoint jump has a probability", "web", "iptables", Status.FAIL, {"PROXY_PROBABILITY_LADDER"},
         says={"PROXY_PROBABILITY_LADDER": ["match no endpoint", "expected no probability"]},
         edits=[edit(*W2_NAT, '"shop/web:http -> 10.244.2.7:8080" -j',
                     '"shop/web:http -> 10.244.2.7:8080" -m statistic --mode random --probability 0.50000000000 -j')]),
    Case("NodePort missing from KUBE-NODEPORTS", "web", "iptables", Status.FAIL, {"PROXY_NODEPORT_RULE_MISSING"},
         says={"PROXY_NODEPORT_RULE_MISSING": ["NodePort 30080", "on worker-1:"]},
         absent={"PROXY_SERVICE_RULE_MISSING"},
         edits=[drop_line(*W1_NAT, "--dport 30080 -j KUBE-EXT-")]),
    Case("externalTrafficPolicy Local without KUBE-SVL", "api", "iptables", Status.FAIL,
         {"PROXY_LOCAL_POLICY_RULES_MISSING"},
         says={"PROXY_LOCAL_POLICY_RULES_MISSING": ["NodePort 31380", "worker-1", "10.244.1.12:8000",
                                                    "api-5f7c9d6b8-q2w3e"]},
         edits=[drop_line(*W1_NAT, "-A KUBE-EXT-YI7FANR2652WTB3A -j KUBE-SVL-YI7FANR2652WTB3A")]),
    Case("externalTrafficPolicy Local programmed as Cluster", "api", "iptables", Status.FAIL,
         {"PROXY_LOCAL_POLICY_RULES_MISSING"},
         says={"PROXY_LOCAL_POLICY_RULES_MISSING": ["all endpoints", "KUBE-SVC-YI7FANR2652WTB3A", "client IP"]},
         edits=[edit(*W1_NAT, "-A KUBE-EXT-YI7FANR2652WTB3A -j KUBE-SVL-YI7FANR2652WTB3A",
                     "-A KUBE-EXT-YI7FANR2652WTB3A -j KUBE-SVC-YI7FANR2652WTB3A")]),
    Case("Local policy node without endpoint drops NodePort traffic", "api", "iptables", Status.PASS,
         {"PROXY_NO_ENDPOINTS_REJECT"},
         says={"PROXY_NO_ENDPOINTS_REJECT": ["31380", "worker-2", "has no local endpoints", "-j DROP"]},
         absent=ERRORS),
    Case("Service without ready endpoints is REJECTed", "cart", "iptables", Status.PASS, {"PROXY_NO_ENDPOINTS_REJECT"},
         says={"PROXY_NO_ENDPOINTS_REJECT": ["worker-1, worker-2", "shop/cart:http has no endpoints", "REJECT"]},
         absent=ERRORS),
    Case("KUBE-MARK-MASQ gone", "web", "iptables", Status.WARN, {"PROXY_MASQ_MISSING"},
         says={"PROXY_MASQ_MISSING": ["KUBE-MARK-MASQ", "worker-1"]},
         edits=[drop_line(*W1_NAT, "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000")]),
    Case("load-balancer IP without a rule", "web", "iptables", Status.FAIL, {"PROXY_SERVICE_RULE_MISSING"},
         says={"PROXY_SERVICE_RULE_MISSING": ["203.0.113.10:8080", "worker-1, worker-2",
                                              "iptables-save -t nat | grep 203.0.113.10"]},
         objects=[load_balancer()]),
    Case("load-balancer IP with ipMode Proxy is not kube-proxy's", "web", "iptables", Status.PASS, {"PROXY_MODE"},
         absent=ERRORS, objects=[load_balancer("Proxy")]),
    Case("kube-proxy pod not Ready", "web", "iptables", Status.FAIL, {"PROXY_NOT_RUNNING"},
         says={"PROXY_NOT_RUNNING": ["worker-2", "kube-proxy-q9fzm", "CrashLoopBackOff", "restarts=14",
                                     "logs kube-proxy-q9fzm --previous"]},
         objects=[kube_proxy_crashing("kube-proxy-q9fzm")]),
    Case("node without a kube-proxy pod", "web", "iptables", Status.FAIL, {"PROXY_NOT_RUNNING"},
         says={"PROXY_NOT_RUNNING": ["no kube-proxy pod on node cp-1"]},
         objects=[delete_objects("Pod", "kube-proxy-7x2lq")]),
    Case("kube-proxy down and no capture: fail, not skip", "web", None, Status.FAIL, {"PROXY_NOT_RUNNING"},
         objects=[kube_proxy_crashing("kube-proxy-b8k4d")]),
    Case("no kube-proxy pods although its ConfigMap says it runs as pods", "web", None, Status.FAIL,
         {"PROXY_NOT_RUNNING"}, says={"PROXY_NOT_RUNNING": ["ConfigMap kube-system/kube-proxy exists"]},
         objects=[delete_objects("Pod", "kube-proxy-7x2lq", "kube-proxy-b8k4d", "kube-proxy-q9fzm")]),
    Case("no kube-proxy pods and no ConfigMap (a systemd kube-proxy?)", "web", None, Status.SKIP,
         {"PROXY_NOT_FOUND"}, says={"PROXY_NOT_FOUND": ["systemd process"]},
         objects=[delete_objects("Pod", "kube-proxy-7x2lq", "kube-proxy-b8k4d", "kube-proxy-q9fzm"),
                  delete_objects("ConfigMap", "kube-proxy")],
         skip_reason="no node rule capture and no live probe"),
    Case("no kube-proxy pods, Cilium runs", "web", None, Status.SKIP, {"PROXY_NOT_FOUND"},
         says={"PROXY_NOT_FOUND": ["kube-proxy replacement", "cilium-9fk2x"]},
         objects=[add_cilium, delete_objects("Pod", "kube-proxy-7x2lq", "kube-proxy-b8k4d", "kube-proxy-q9fzm")],
         skip_reason="Cilium replaces kube-proxy"),
    Case("Cilium replaces kube-proxy: its iptables captures hold no KUBE-SVC chains", "web", "iptables", Status.SKIP,
         {"PROXY_NOT_FOUND"}, absent=ERRORS,
         objects=[add_cilium, delete_objects("Pod", "kube-proxy-7x2lq", "kube-proxy-b8k4d", "kube-proxy-q9fzm"),
                  delete_objects("ConfigMap", "kube-proxy")],
         edits=[replace_capture(node, "iptables-save", CILIUM_NODE_NAT) for node in ("worker-1", "worker-2")],
         skip_reason="Cilium replaces kube-proxy"),
    Case("IPVS healthy", "web", "ipvs", Status.PASS, {"PROXY_MODE"}, says={"PROXY_MODE": ["ipvs mode"]},
         absent=ERRORS | {"PROXY_MODE_MISMATCH"}, objects=[set_mode("ipvs")]),
    Case("IPVS real server missing", "web", "ipvs", Status.FAIL, {"PROXY_ENDPOINT_RULE_MISSING"},
         says={"PROXY_ENDPOINT_RULE_MISSING": ["10.244.2.7:8080", "on worker-1:", "TCP  10.96.1.5:8080 rr"]},
         absent={"PROXY_MODE_MISMATCH", "PROXY_STALE_ENDPOINT_RULE"}, objects=[set_mode("ipvs")],
         edits=[drop_real_server("worker-1", "TCP  10.96.1.5:8080", "10.244.2.7:8080")]),
    Case("IPVS Local NodePort", "api", "ipvs", Status.PASS, {"PROXY_MODE"}, absent=ERRORS,
         objects=[set_mode("ipvs")]),
    Case("IPVS capture of a node without its Node object: NodePort not judged", "web", "ipvs", Status.PASS,
         {"PROXY_MODE"}, absent=ERRORS, objects=[set_mode("ipvs"), delete_objects("Node", "worker-1")]),
    Case("IPVS drains a deleted endpoint at weight 0", "web", "ipvs", Status.PASS, {"PROXY_MODE"}, absent=ERRORS,
         objects=[set_mode("ipvs"), delete_endpoint("10.244.2.7", "web-6d5f8b7c9-7hq9z")],
         edits=[edit(node, "ipvsadm", "-> 10.244.2.7:8080              Masq    1 ",
                     "-> 10.244.2.7:8080              Masq    0 ", count=2) for node in ("worker-1", "worker-2")]),
    Case("IPVS still weights a deleted endpoint", "web", "ipvs", Status.FAIL, {"PROXY_STALE_ENDPOINT_RULE"},
         says={"PROXY_STALE_ENDPOINT_RULE": ["10.244.2.7:8080", "-> 10.244.2.7:8080              Masq    1"]},
         objects=[set_mode("ipvs"), delete_endpoint("10.244.2.7", "web-6d5f8b7c9-7hq9z")]),
    Case("nftables healthy (text and JSON captures)", "web", "nftables", Status.PASS, {"PROXY_MODE"},
         says={"PROXY_MODE": ["nftables mode"]}, absent=ERRORS | {"PROXY_MODE_MISMATCH", "PROXY_MASQ_MISSING"},
         objects=[set_mode("nftables")]),
    Case("nftables Local policy", "api", "nftables", Status.PASS, {"PROXY_NO_ENDPOINTS_REJECT"},
         says={"PROXY_NO_ENDPOINTS_REJECT": ["worker-2", "no-endpoint-nodeports", "drop"]},
         absent=ERRORS, objects=[set_mode("nftables")]),
    Case("nftables endpoint chain for a deleted pod", "web", "nftables", Status.FAIL, {"PROXY_STALE_ENDPOINT_RULE"},
         says={"PROXY_STALE_ENDPOINT_RULE": ["10.244.2.7:8080", "worker-1, worker-2", "dnat to 10.244.2.7:8080"]},
         objects=[set_mode("nftables"), delete_endpoint("10.244.2.7", "web-6d5f8b7c9-7hq9z")]),
    Case("nftables numgen draws over more endpoints than it maps", "web", "nftables", Status.FAIL,
         {"PROXY_PROBABILITY_LADDER"},
         says={"PROXY_PROBABILITY_LADDER": ["numgen mod 4 over 3 endpoints", "match no endpoint", "on worker-1"]},
         objects=[set_mode("nftables")], edits=[edit("worker-1", "nft", "numgen random mod 3", "numgen random mod 4")]),
    Case("nftables service-ips element missing", "web", "nftables", Status.FAIL, {"PROXY_SERVICE_RULE_MISSING"},
         says={"PROXY_SERVICE_RULE_MISSING": ["on worker-1:", "nft list table ip kube-proxy | grep 10.96.1.5"]},
         objects=[set_mode("nftables")],
         edits=[edit("worker-1", "nft", "10.96.1.5 . tcp . 8080 : goto", "10.96.1.5 . tcp . 8081 : goto")]),
    Case("configured ipvs, rules are iptables", "web", "iptables", Status.WARN, {"PROXY_MODE_MISMATCH"},
         says={"PROXY_MODE_MISMATCH": ["configured for ipvs", "worker-1, worker-2", "no ipvsadm capture"]},
         absent=ERRORS, objects=[set_mode("ipvs")]),
    Case("no ConfigMap: mode unknown, rules still checked", "web", "iptables", Status.PASS, {"PROXY_MODE"},
         says={"PROXY_MODE": ["mode unknown", "not found"]}, absent=ERRORS | {"PROXY_MODE_MISMATCH"},
         objects=[delete_objects("ConfigMap", "kube-proxy")]),
    Case("no captures, no live probe", "web", None, Status.SKIP, {"PROXY_MODE"}, absent=ERRORS,
         skip_reason="no node rule capture and no live probe (live probes are not run against a snapshot)"),
    Case("headless Service", "db", "iptables", Status.SKIP, set(), skip_reason="headless"),
    Case("ExternalName Service", "payments", "iptables", Status.SKIP, set(), skip_reason="ExternalName"),
    Case("missing Service", "nope", "iptables", Status.SKIP, set(), skip_reason="does not exist"),
]


def run_case(case: Case, live: LiveEvidence | None = None):
    objs = load_objects()
    for mutate in case.objects:
        mutate(objs)
    captures = load_captures(case.captures)
    for mutate in case.edits:
        mutate(captures)
    ctx = Context(MemoryReader(objs, captures), "shop", case.service, Client("namespace", "shop"), live=live)
    return proxy.run(ctx)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_proxy_step(case: Case):
    result = run_case(case)
    assert result.id == "proxy"
    assert result.status is case.status, [(f.code, f.message) for f in result.findings]
    found = {f.code for f in result.findings}
    assert case.codes <= found, found
    assert not (case.absent & found), [(f.code, f.message) for f in result.findings if f.code in case.absent]
    for code, needles in case.says.items():
        f = next(f for f in result.findings if f.code == code)
        text = " ".join([f.message, *f.evidence, f.fix])
        for needle in needles:
            assert needle in text, f"{needle!r} not in {code}: {text}"
    if case.status is Status.SKIP:
        assert case.skip_reason in result.skip_reason
    for f in result.findings:
        assert f.message and (f.severity is Severity.INFO or f.fix), f


def test_findings_merge_across_nodes():
    """A stale rule on both captured nodes is one finding naming both, with evidence from each."""
    case = next(c for c in CASES if c.id == "stale KUBE-SEP for a deleted pod")
    stale = [f for f in run_case(case).findings if f.code == "PROXY_STALE_ENDPOINT_RULE"]
    assert len(stale) == 1
    assert sum(e.startswith("worker-1: ") for e in stale[0].evidence) == 2
    assert sum(e.startswith("worker-2: ") for e in stale[0].evidence) == 2


def test_summary_names_checked_nodes():
    result = run_case(CASES[0])
    assert result.summary == "iptables rules for 10.96.1.5 checked on 2 of 3 nodes (worker-1, worker-2)"


def run_live_case(case: Case):
    """The case's captures as if fetched live (exec in kube-proxy), not saved by the user."""
    objs = load_objects()
    captures = load_captures(case.captures)
    for mutate in case.edits:
        mutate(captures)
    ctx = Context(MemoryReader(objs, {}), "shop", case.service, Client("namespace", "shop"),
                  live=LiveEvidence(captures=captures))
    return proxy.run(ctx)


def test_unreadable_saved_capture_is_a_usage_error_naming_file_and_line():
    from kubectl_netdoctor.errors import SnapshotError

    case = Case("truncated", "web", "iptables", Status.PASS, set(), edits=[edit(*W2_NAT, "COMMIT\n", "", count=3)])
    with pytest.raises(SnapshotError, match=r"worker-2\.iptables-save:\d+: .*has no COMMIT"):
        run_case(case)


def test_unreadable_live_capture_is_reported_not_fatal():
    case = Case("truncated", "web", "iptables", Status.PASS, set(), edits=[edit(*W2_NAT, "COMMIT\n", "", count=3)])
    result = run_live_case(case)
    assert result.status is Status.PASS
    assert "capture worker-2.iptables-save unreadable" in result.summary
    assert "has no COMMIT" in result.summary
    assert "checked on 1 of 3 nodes (worker-1)" in result.summary


def test_every_live_capture_unreadable_is_a_skip():
    case = Case("truncated", "web", "iptables", Status.SKIP, set(),
                edits=[edit(*W1_NAT, "COMMIT\n", "", count=3), edit(*W2_NAT, "COMMIT\n", "", count=3)])
    result = run_live_case(case)
    assert result.status is Status.SKIP
    assert result.skip_reason.startswith("no usable kube-proxy rule capture (capture worker-1.iptables-save")


def test_forbidden_reads_are_noted_not_fatal():
    from kubectl_netdoctor.errors import Forbidden

    class Refusing(MemoryReader):
        def list(self, kind, namespace=None, label_selector=None, field_selector=None):
            if kind == "Pod" and namespace == "kube-system":
                raise Forbidden("list", "pods", namespace)
            return super().list(kind, namespace, label_selector, field_selector)

        def get(self, kind, namespace, name):
            if kind == "ConfigMap":
                raise Forbidden("get", "configmaps", namespace)
            return super().get(kind, namespace, name)

    ctx = Context(Refusing(load_objects(), load_captures("iptables")), "shop", "web", Client("namespace", "shop"))
    result = proxy.run(ctx)
    assert result.status is Status.PASS
    assert "kube-proxy pods not checked: forbidden: list pods in ns kube-system" in result.summary
    mode = next(f for f in result.findings if f.code == "PROXY_MODE")
    assert mode.message == "kube-proxy mode unknown" and "forbidden: get configmaps" in mode.evidence[0]


# -- the live seam ---------------------------------------------------------------------

def _live(ok: bool) -> LiveEvidence:
    r = TcpResult("10.96.1.5", 8080, ok, "open" if ok else "timeout", 3.1 if ok else None,
                  "" if ok else "nc: 10.96.1.5 (10.96.1.5:8080): Operation timed out")
    return LiveEvidence(probe="probe pod shop/netdoctor-probe-x2k9", tcp={("10.96.1.5", 8080): r})


def test_live_clusterip_probe_verifies_without_captures():
    result = run_case(Case("live", "web", None, Status.PASS, set()), live=_live(True))
    assert result.status is Status.PASS
    assert [(p.kind, p.target, p.ok) for p in result.probes] == [("tcp", "10.96.1.5:8080", True)]


def test_live_clusterip_probe_failure_fails_the_step():
    result = run_case(Case("live", "web", None, Status.FAIL, set()), live=_live(False))
    assert result.status is Status.FAIL
    f = next(f for f in result.findings if f.code == "PROXY_CLUSTERIP_UNREACHABLE")
    assert "10.96.1.5:8080" in f.message and "timeout" in f.message


def test_clusterip_refused_like_one_bad_endpoint_is_not_blamed_on_kube_proxy():
    # web's ready endpoints (fixture): 10.244.1.6, 10.244.2.7, 10.244.1.9 on 8080; one refuses direct connects.
    refused = "nc: can't connect to remote host: Connection refused"
    live = LiveEvidence(probe="probe pod shop/netdoctor-probe-x2k9", tcp={
        ("10.244.1.6", 8080): TcpResult("10.244.1.6", 8080, True, "open", 1.0, ""),
        ("10.244.2.7", 8080): TcpResult("10.244.2.7", 8080, False, "refused", 1.0, refused),
        ("10.244.1.9", 8080): TcpResult("10.244.1.9", 8080, True, "open", 1.0, ""),
        ("10.96.1.5", 8080): TcpResult("10.96.1.5", 8080, False, "refused", 1.0, refused),
    })
    result = run_case(Case("partial", "web", None, Status.PASS, set()), live=live)
    f = next(f for f in result.findings if f.code == "PROXY_CLUSTERIP_UNREACHABLE")
    assert f.severity is Severity.INFO and "1 of 3 endpoints fail a direct connect the same way" in f.message
    assert result.status is Status.PASS
    # A timeout through the VIP while the one bad endpoint refuses is not explained by it: kube-proxy's.
    live.tcp[("10.96.1.5", 8080)] = TcpResult("10.96.1.5", 8080, False, "timeout", None, "nc: timed out")
    result = run_case(Case("partial", "web", None, Status.FAIL, set()), live=live)
    f = next(f for f in result.findings if f.code == "PROXY_CLUSTERIP_UNREACHABLE")
    assert f.severity is Severity.ERROR and result.status is Status.FAIL


def test_live_without_tcp_result_is_still_a_skip():
    live = LiveEvidence(probe="", skipped={"tcp": "--read-only: no probe pod is created"})
    result = run_case(Case("live", "web", None, Status.SKIP, set()), live=live)
    assert result.skip_reason == "no node rule capture and no live probe (--read-only: no probe pod is created)"


def test_rule_read_refused_by_rbac_is_a_blocked_skip():
    refusal = "forbidden: get pods/exec in ns kube-system"
    live = LiveEvidence(probe="", skipped={"tcp": "--read-only: no probe pod is created"},
                        rules_skipped={"worker-1": refusal}, rules_refused={"worker-1": refusal})
    result = run_case(Case("refused", "web", None, Status.SKIP, set()), live=live)
    assert result.status is Status.SKIP and result.blocked
    assert result.skip_reason == f"kube-proxy rules not read: {refusal}"


def test_rule_read_refused_but_clusterip_probed_is_not_blocked():
    refusal = "forbidden: get pods/exec in ns kube-system"
    live = _live(True)
    live.rules_skipped["worker-1"] = live.rules_refused["worker-1"] = refusal
    result = run_case(Case("refused", "web", None, Status.PASS, set()), live=live)
    assert result.status is Status.PASS and not result.blocked


def test_conntrack_pressure():
    live = _live(True)
    live.conntrack = {"worker-1": (250000, 262144)}
    f = next(f for f in run_case(Case("ct", "web", None, Status.WARN, set()), live=live).findings
             if f.code == "PROXY_CONNTRACK_PRESSURE")
    assert "worker-1" in f.message and "95% full" in f.message


# -- sub-checks on their own ------------------------------------------------------------

def _slice(endpoints: list[dict]) -> list[dict]:
    return [{"metadata": {"name": "s"}, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
             "endpoints": endpoints}]


def _ep(ip, node, ready=True, serving=None, terminating=False, zones=(), nodes=()):
    ep = {"addresses": [ip], "nodeName": node,
          "conditions": {"ready": ready, "serving": ready if serving is None else serving, "terminating": terminating}}
    if zones or nodes:
        ep["hints"] = {**({"forZones": [{"name": z} for z in zones]} if zones else {}),
                       **({"forNodes": [{"name": n} for n in nodes]} if nodes else {})}
    return ep


PORT = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}


def test_endpoint_sets_cluster_and_local():
    sets = endpoint_sets(_slice([_ep("10.0.1.1", "a"), _ep("10.0.2.1", "b"), _ep("10.0.2.2", "b", ready=False)]),
                               PORT, "a")
    assert sets.cluster == {("10.0.1.1", 8080), ("10.0.2.1", 8080)}
    assert sets.local == {("10.0.1.1", 8080)}


def test_endpoint_sets_fall_back_to_serving_terminating():
    sets = endpoint_sets(_slice([_ep("10.0.1.1", "a", ready=False, serving=True, terminating=True),
                                       _ep("10.0.1.2", "a", ready=False, serving=False, terminating=True)]), PORT, "a")
    assert sets.cluster == {("10.0.1.1", 8080)}


def test_endpoint_sets_follow_zone_hints():
    eps = [_ep("10.0.1.1", "a", zones=["zone-a"]), _ep("10.0.2.1", "b", zones=["zone-b"])]
    assert endpoint_sets(_slice(eps), PORT, "a", "zone-a").cluster == {("10.0.1.1", 8080)}
    # a node whose zone no endpoint is hinted for ignores the hints
    assert len(endpoint_sets(_slice(eps), PORT, "c", "zone-c").cluster) == 2
    # hints are all-or-nothing: one unhinted ready endpoint turns them off
    eps.append(_ep("10.0.3.1", "c"))
    assert len(endpoint_sets(_slice(eps), PORT, "a", "zone-a").cluster) == 3


def test_endpoint_sets_prefer_same_node_hints():
    eps = [_ep("10.0.1.1", "a", zones=["z"], nodes=["a"]), _ep("10.0.2.1", "b", zones=["z"], nodes=["b"])]
    assert endpoint_sets(_slice(eps), PORT, "b", "z").cluster == {("10.0.2.1", 8080)}


def test_proxy_config_reads_kubeadm_configmap():
    objs = load_objects()
    set_mode("nftables")(objs)
    ctx = Context(MemoryReader(objs, {}), "shop", "web", Client("namespace", "shop"))
    cfg = health.proxy_config(ctx)
    assert (cfg.mode, cfg.cluster_cidr) == ("nftables", "10.244.0.0/16")


def test_merge_joins_nodes_and_keeps_first_fix():
    issues = [rules.Issue("PROXY_MASQ_MISSING", "k", n, "x on {nodes}", (f"rule {n}",), f"fix {n}") for n in ("a", "b")]
    [f] = rules.merge(issues)
    assert (f.message, f.evidence, f.fix) == ("x on a, b", ("a: rule a", "b: rule b"), "fix a")
