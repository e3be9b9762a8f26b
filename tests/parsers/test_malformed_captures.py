"""Captures are input too: a structurally wrong one is a SnapshotError (exit 2) naming the file and the
element, never a crash in the proxy step. One test per class the fuzzer found."""

from __future__ import annotations

import json

import pytest

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.kubeproxy.capture import parse_capture
from kubectl_netdoctor.parsers import iptables_save, ipvsadm, nft_json, proc_net_tcp

TABLE = {"family": "ip", "table": "kube-proxy"}


def rule(chain: str, handle: int, *exprs: dict) -> dict:
    return {"rule": {**TABLE, "chain": chain, "handle": handle, "expr": list(exprs)}}


def nft_doc(*entries: dict) -> str:
    return json.dumps({"nftables": [{"table": {"family": "ip", "name": "kube-proxy", "handle": 1}}, *entries]})


@pytest.mark.parametrize("entry, message", [
    (rule("services", 5, {"jump": {}}), "nftables[1] (rule 5 in chain services): jump without a target"),
    (rule("services", 5, {"goto": None}), "nftables[1] (rule 5 in chain services): goto without a target"),
    (rule("services", 5, {"jump": {"target": 7}}), "nftables[1] (rule 5 in chain services): jump without a target"),
    (rule("service-ULMVA6XW-shop/web/tcp/http", 7,
          {"vmap": {"key": {"numgen": {"mode": "random", "mod": "two"}},
                    "data": {"set": [[0, {"goto": {"target": "endpoint-A"}}]]}}}),
     "nftables[1] (rule 7 in chain service-ULMVA6XW-shop/web/tcp/http): numgen without a positive mod"),
    (rule("service-ULMVA6XW-shop/web/tcp/http", 7,
          {"vmap": {"key": {"numgen": {"mode": "random", "mod": 2}}, "data": {"set": [[0, "endpoint-A"]]}}}),
     "nftables[1] (rule 7 in chain service-ULMVA6XW-shop/web/tcp/http): numgen vmap entry is not "
     "[number, {goto: {target: CHAIN}}]"),
    (rule("service-X", 7, {"vmap": ["numgen"]}), "nftables[1] (rule 7 in chain service-X): vmap is not an object"),
    (rule("endpoint-A", 9, {"dnat": {"addr": "10.244.1.5", "port": "http"}}),
     "nftables[1] (rule 9 in chain endpoint-A): dnat without an address, or with a port that is not 1-65535"),
    (rule("endpoint-A", 9, {"dnat": {"port": 8080}}),
     "nftables[1] (rule 9 in chain endpoint-A): dnat without an address, or with a port that is not 1-65535"),
    (rule("endpoint-A", 9, {"dnat": "10.244.1.5:8080"}), "nftables[1] (rule 9 in chain endpoint-A): dnat is not an object"),
    ({"rule": {**TABLE, "chain": ["services"], "expr": []}}, "nftables[1]: rule chain is not a string"),
    ({"map": {**TABLE, "name": "service-ips", "type": ["ipv4_addr"], "elem": [[{"concat": []}, "goto x"]]}},
     "nftables[1] (map service-ips): element concat is not a non-empty list"),
    ({"chain": {"family": "ip", "name": "services"}}, "nftables[1] (chain services): chain without family/table"),
])
def test_nft_json_of_the_wrong_shape_names_file_and_element(entry, message):
    with pytest.raises(SnapshotError) as err:
        nft_json.parse_nft_json(nft_doc(entry), "snap/node-1.nft.json")
    assert str(err.value) == f"bad snapshot file snap/node-1.nft.json: {message}: " \
                             + json.dumps(entry, separators=(",", ":"))[:160]


def test_nft_json_nested_too_deeply_or_with_a_huge_number():
    deep = '{"nftables": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(SnapshotError, match=r"^bad snapshot file n\.nft\.json: nested deeper than 100 levels$"):
        nft_json.parse_nft_json(deep, "n.nft.json")
    huge = '{"nftables": [\n{"rule": {"handle": 1' + "0" * 5000 + "}}]}"
    with pytest.raises(SnapshotError, match=r"^bad snapshot file n\.nft\.json:2: integer of more than 4300 digits$"):
        nft_json.parse_nft_json(huge, "n.nft.json")


def test_a_well_formed_nft_json_rule_still_reads():
    (table,) = nft_json.parse_nft_json(nft_doc(
        rule("service-X", 7, {"vmap": {"key": {"numgen": {"mode": "random", "mod": 2}},
                                       "data": {"set": [[0, {"goto": {"target": "endpoint-A"}}],
                                                        [1, {"goto": {"target": "endpoint-B"}}]]}}}),
        rule("endpoint-A", 9, {"dnat": {"addr": "10.244.1.5", "port": 8080}})), "n.nft.json")
    (vmap,) = table.rules("service-X")
    assert (vmap.numgen_mod, vmap.numgen_map) == (2, ((0, "goto", "endpoint-A"), (1, "goto", "endpoint-B")))
    assert table.rules("endpoint-A")[0].dnat == "10.244.1.5:8080"


BIG = "9" * 5000


@pytest.mark.parametrize("parse, text, message", [
    (lambda t: iptables_save.parse_iptables_save(t, "n.iptables-save"),
     f"*nat\n:KUBE-SERVICES - [{BIG}:0]\nCOMMIT\n", "bad snapshot file n.iptables-save:2: "),
    (lambda t: iptables_save.parse_iptables_save(t, "n.iptables-save"),
     f"*nat\n:KUBE-SERVICES - [0:0]\n[{BIG}:1] -A KUBE-SERVICES -j ACCEPT\nCOMMIT\n", "bad snapshot file n.iptables-save:3: "),
    (lambda t: ipvsadm.parse_ipvsadm(t, "n.ipvsadm"),
     f"TCP  10.96.0.1:443 rr\n  -> 192.168.1.10:6443           Masq    {BIG}      0          0\n",
     "bad snapshot file n.ipvsadm:2: "),
    (lambda t: ipvsadm.parse_ipvsadm(t, "n.ipvsadm"), f"FWM  {BIG} rr\n", "bad snapshot file n.ipvsadm:1: "),
    (lambda t: parse_capture("nft", t, "n", source="n.nft"),
     "table ip kube-proxy {\n\tchain services {\n\t\tnumgen random mod " + BIG + " vmap { 0 : goto a }\n\t}\n}\n",
     None),
])
def test_integers_of_thousands_of_digits_in_text_captures(parse, text, message):
    """int() refuses more than 4300 digits with a ValueError: no count, port or mark is that long."""
    if message is None:  # not a numgen of kube-proxy's: read as an ordinary rule, not a crash
        parse(text)
        return
    with pytest.raises(SnapshotError) as err:
        parse(text)
    assert str(err.value).startswith(message)


def test_proc_net_tcp_with_a_huge_uid_or_inode_reads_as_unknown():
    line = ("   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 " + BIG + " 0 " + BIG
            + " 1 0000000000000000 100 0 0 10 0\n")
    (sock,) = proc_net_tcp.parse_proc_net_tcp(line)
    assert (sock.local_port, sock.state, sock.uid, sock.inode) == (8080, "LISTEN", None, None)


def test_a_port_of_thousands_of_digits_is_no_port_in_the_layouts():
    ipt = parse_capture("iptables-save", f"*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp "
                                         f"--dport {BIG} -j KUBE-SVC-X\nCOMMIT\n", "n")
    assert ipt.services == ()
    nft = parse_capture("nft", "table ip kube-proxy {\n\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . "
                               "inet_service : verdict\n\t\telements = { 10.96.0.1 . tcp . " + BIG
                               + " : goto service-X }\n\t}\n}\n", "n")
    assert nft.services == ()
