"""A node's rules for one Service: the targeted capture (single chains, by sh in kube-proxy's pod) reads
the same as the whole ``iptables-save``, and anything else falls back to the whole dump."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS / "parsers"))  # the iptables-save generator
sys.path.insert(0, str(TESTS / "kubeproxy"))  # views: what makes two views read the same
import gen_iptables  # noqa: E402
import gen_nft  # noqa: E402
from views import assert_same_view, refs_of, service_ports  # noqa: E402

from kubectl_netdoctor.cluster.node_capture import capture_with  # noqa: E402
from kubectl_netdoctor.cluster.probe import ExecResult  # noqa: E402
from kubectl_netdoctor.kubeproxy import nftables  # noqa: E402
from kubectl_netdoctor.kubeproxy.capture import (  # noqa: E402
    CONNTRACK_FILES,
    CONNTRACK_MARKER,
    parse_capture,
    parse_conntrack,
    service_rule_command,
    split_conntrack,
)
from kubectl_netdoctor.kubeproxy.view import ServiceRef  # noqa: E402

# `iptables -t TABLE -S [CHAIN]` and `iptables-save` answered from a saved capture, the way
# iptables prints them: -P for built-in chains, -N for the others, then the chain's -A lines.
FAKE_IPTABLES = r'''#!/usr/bin/env python3
import os, sys
text = open(os.environ["CAPTURE"]).read()
if os.path.basename(sys.argv[0]) == "iptables-save":
    sys.stdout.write(text); sys.exit(0)
args = sys.argv[1:]
table = args[args.index("-t") + 1] if "-t" in args else "filter"
chain = args[args.index("-S") + 1] if "-S" in args and args.index("-S") + 1 < len(args) else None
decls, rules, current = {}, {}, None
for line in text.splitlines():
    if line.startswith("*"):
        current = line[1:]
    elif current == table and line.startswith(":"):
        name, policy = line[1:].split()[:2]
        decls[name] = policy
        rules.setdefault(name, [])
    elif current == table and line.startswith("-A "):
        rules.setdefault(line.split()[1], []).append(line)
names = [chain] if chain else list(decls)
if chain and chain not in decls:
    print("iptables: No chain/target/match by that name.", file=sys.stderr); sys.exit(1)
for name in names:
    print(f"-P {name} {decls[name]}" if decls[name] != "-" else f"-N {name}")
for name in names:
    for r in rules.get(name, []):
        print(r)
'''


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    services = gen_iptables.generate_services(400, seed=5)
    text = gen_iptables.render(services, "node-7")
    root = tmp_path_factory.mktemp("node")
    (root / "capture").write_text(text)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name in ("iptables", "iptables-save"):
        (bin_dir / name).write_text(FAKE_IPTABLES)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "CAPTURE": str(root / "capture"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    calls: list[list[str]] = []
    return services, text, fake_exec(env, calls), calls


def fake_exec(env: dict[str, str], calls: list[list[str]]):
    """An exec into kube-proxy's pod, run here: the command (the real sh script) with the fake binaries
    on PATH; a separate ``cat`` of the conntrack counters answers fixed numbers. Records every command."""
    def run(command: list[str]) -> ExecResult:
        calls.append(command)
        if command[0] == "cat":
            return ExecResult(0, "12 262144\n", "")
        p = subprocess.run(command, capture_output=True, text=True, env=env)
        return ExecResult(p.returncode, p.stdout, p.stderr)
    return run


def _host_conntrack() -> tuple[int, int] | None:
    """This machine's counters, as the script reads them here (None where the module is not loaded)."""
    try:
        return parse_conntrack(" ".join(Path(f).read_text() for f in CONNTRACK_FILES))
    except OSError:
        return None


HOST_CONNTRACK = _host_conntrack()


def ref(s: gen_iptables.GenService) -> ServiceRef:
    return ServiceRef(s.namespace, s.name, ((s.port_name, s.protocol),), (s.cluster_ip,),
                      (s.node_port,) if s.node_port else ())


def test_one_services_chains_read_like_the_whole_dump(node):
    services, text, run, calls = node
    picks = [next(s for s in services if len(s.endpoints) == 3), next(s for s in services if s.node_port),
             next(s for s in services if s.external_policy == "Local" and s.node_port),
             next(s for s in services if not s.endpoints)]
    for s in picks:
        calls.clear()
        captures, conntrack, error = capture_with(run, "kube-system/kube-proxy-x", "iptables", ref(s))
        assert [c[0] for c in calls] == ["sh"] and not error  # the conntrack counters came in the same exec
        # this machine's own counters, read by the script (the count moves between reads, the max does not)
        assert (conntrack and conntrack[1]) == (HOST_CONNTRACK and HOST_CONNTRACK[1])
        targeted = captures["iptables-save"]
        assert CONNTRACK_MARKER not in targeted and targeted.rstrip().endswith("COMMIT")
        assert len(targeted) < len(text) / 2
        got = parse_capture("iptables-save", targeted, "node-7", service=ref(s))
        full = parse_capture("iptables-save", text, "node-7")
        proto = s.protocol.upper()
        assert got.at(s.cluster_ip, s.port, proto) == full.at(s.cluster_ip, s.port, proto)
        assert got.refusals(s.cluster_ip, s.port, proto) == full.refusals(s.cluster_ip, s.port, proto)
        if s.node_port:
            assert got.node_port(s.node_port, proto) == full.node_port(s.node_port, proto)
            assert got.node_port_refusals(s.node_port, proto) == full.node_port_refusals(s.node_port, proto)
        assert (got.masq_mark_rule, got.masquerade_rule, got.programmed) == \
            (full.masq_mark_rule, full.masquerade_rule, full.programmed)


def test_without_sh_the_whole_dump_is_read(node):
    services, text, run, calls = node
    calls.clear()

    def no_shell(command: list[str]) -> ExecResult:
        if command[0] == "sh":
            return ExecResult(None, "", "", error='exec: "sh": executable file not found in $PATH')
        return run(command)

    captures, _, error = capture_with(no_shell, "kube-system/kube-proxy-x", "iptables", ref(services[3]))
    assert captures == {"iptables-save": text} and not error
    assert [c[0] for c in calls] == ["iptables-save", "cat"]


def test_whole_dumps_where_the_mode_has_no_targeted_form():
    svc = ServiceRef("shop", "web", (("http", "tcp"),), ("10.96.1.5",))
    assert service_rule_command("ipvs", svc) is None
    odd = ServiceRef("shop", "web", (("http", "tcp"),), ('10.96.1.5"; reboot',))
    assert service_rule_command("nftables", odd) is None  # never a name the sh patterns would have to escape
    kind, command = service_rule_command("nftables", svc)
    assert kind == "nft" and command[:2] == ["sh", "-c"]
    assert subprocess.run(["sh", "-n", "-c", command[2]]).returncode == 0
    kind, command = service_rule_command("iptables", svc)
    assert kind == "iptables-save" and command[:2] == ["sh", "-c"]
    assert subprocess.run(["sh", "-n", "-c", command[2]]).returncode == 0  # valid sh syntax


def test_conntrack_line_split_off_the_targeted_dump():
    dump = "*filter\nCOMMIT\n*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"
    assert split_conntrack(dump + f"{CONNTRACK_MARKER} 812 262144\n") == (dump, (812, 262144), True)
    assert split_conntrack(dump + f"{CONNTRACK_MARKER}  \n") == (dump, None, True)  # counters unreadable: no re-read
    assert split_conntrack(dump) == (dump, None, False)  # an older script: the caller reads them itself


# -- nftables -------------------------------------------------------------------------

# `nft list table ip kube-proxy` (text or -j) answered from a saved listing; anything else fails like nft.
FAKE_NFT = r'''#!/usr/bin/env python3
import os, sys
args = sys.argv[1:]
if os.environ.get("NFT_FAIL") or args[-4:] != ["list", "table", "ip", "kube-proxy"]:
    print("Error: No such file or directory", file=sys.stderr); sys.exit(1)
sys.stdout.write(open(os.environ["CAPTURE"] + (".json" if "-j" in args else "")).read())
'''

NFT_FIXTURES = [TESTS / "fixtures" / "captures" / "node-e.nft", TESTS / "fixtures" / "proxy" / "nftables" / "worker-1.nft"]


@pytest.fixture(scope="module")
def nft_node(tmp_path_factory):
    root = tmp_path_factory.mktemp("nft")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "nft").write_text(FAKE_NFT)
    (bin_dir / "nft").chmod(0o755)
    calls: list[list[str]] = []

    def runner(capture: str, **extra: str):
        path = root / f"capture-{abs(hash(capture))}"
        path.write_text(capture)
        env = {**os.environ, "CAPTURE": str(path), "PATH": f"{bin_dir}:{os.environ['PATH']}", **extra}
        return fake_exec(env, calls)

    return runner, calls


def nft_ref(s: gen_iptables.GenService) -> ServiceRef:
    return ref(s)


def targeted(run, ref_: ServiceRef) -> str:
    captures, conntrack, error = capture_with(run, "kube-system/kube-proxy-x", "nftables", ref_)
    assert not error and set(captures) == {"nft"}
    assert (conntrack and conntrack[1]) == (HOST_CONNTRACK and HOST_CONNTRACK[1])
    return captures["nft"]


def test_nft_one_services_part_reads_like_the_whole_table(nft_node):
    runner, calls = nft_node
    services = gen_nft.generate_services(1000, seed=5)
    # one node of the 40 the endpoints are spread over, so Local policy finds local endpoints on some
    text = gen_nft.render(services, "node-7")
    run = runner(text)
    full = parse_capture("nft", text, "node-7")
    picks = [next(s for s in services if len(s.endpoints) == 3), next(s for s in services if s.node_port),
             next(s for s in services if s.external_policy == "Local" and s.node_port
                  and any(e.node == "node-7" for e in s.endpoints)),
             next(s for s in services if s.external_policy == "Local" and s.node_port
                  and s.endpoints and not any(e.node == "node-7" for e in s.endpoints)),
             next(s for s in services if not s.endpoints),
             next(s for s in services if not s.endpoints and s.node_port),
             next(s for s in services if s.protocol == "udp")]
    for s in picks:
        calls.clear()
        got_text = targeted(run, ref(s))
        assert [c[0] for c in calls] == ["sh"]  # one exec: the table, cut down, and the conntrack counters
        assert CONNTRACK_MARKER not in got_text and len(got_text) < len(text) / 10
        got = parse_capture("nft", got_text, "node-7", service=ref(s))
        assert_same_view(got, full, ref(s), {s.port}, ref(s).port_names())
        # the cut-down text holds everything the whole table's narrowing keeps
        assert nftables.kube_proxy_view(nftables.parse_nft(nftables.narrow(got_text, ref(s)))) == \
            nftables.kube_proxy_view(nftables.parse_nft(nftables.narrow(text, ref(s))))


@pytest.mark.parametrize("path", NFT_FIXTURES, ids=lambda p: p.name)
def test_nft_fixtures_read_the_same_for_each_of_their_services(nft_node, path):
    runner, _ = nft_node
    text = path.read_text()
    run = runner(text)
    full = nftables.kube_proxy_view(nftables.parse_nft(text))
    for ref_, port_names in refs_of(full).items():
        got = parse_capture("nft", targeted(run, ref_), "n", service=ref_)
        assert_same_view(got, full, ref_, {p for n in port_names for p in service_ports(full, n)}, ref_.port_names())


def test_nft_a_service_without_rules_still_reads_as_programmed(nft_node):
    runner, _ = nft_node
    text = gen_nft.render(gen_nft.generate_services(50, seed=2), "node-7")
    missing = ServiceRef("nowhere", "gone", (("http", "tcp"),), ("10.250.0.1",), ())
    got = parse_capture("nft", targeted(runner(text), missing), "n", service=missing)
    full = parse_capture("nft", text, "n")
    assert got.cluster_ip("10.250.0.1", 80) is None
    assert got.programmed and got.masq_jumped and got.masq_mark_rule == full.masq_mark_rule


def test_nft_without_sh_or_when_nft_fails_the_whole_table_is_read(nft_node):
    runner, calls = nft_node
    text = gen_nft.render(gen_nft.generate_services(20, seed=3), "node-7")
    svc = ref(gen_nft.generate_services(20, seed=3)[4])

    def no_shell(command: list[str]) -> ExecResult:
        if command[0] == "sh":
            return ExecResult(None, "", "", error='exec: "sh": executable file not found in $PATH')
        return runner(text)(command)

    for run in (no_shell, runner(text, NFT_FAIL="1")):
        calls.clear()
        captures, _, error = capture_with(run, "kube-system/kube-proxy-x", "nftables", svc)
        assert [c[0] for c in calls][-2:] == ["nft", "cat"]
        assert calls[-2] == ["nft", "-j", "list", "table", "ip", "kube-proxy"]
    # nft failing in the script: the whole-table command fails the same way, and says so
    assert not captures and "nft -j list table ip kube-proxy" in error
