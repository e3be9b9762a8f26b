"""Fuzzing (Hypothesis) of the node captures: random mutations of the real iproute2 JSON (a value replaced by a
wrong type, a null, a huge number, deep nesting; a key deleted) end in the parsed entries or in one
IprouteError line; whatever parses, the pair analysis reads without an exception."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from kubectl_netdoctor.parsers.iproute import IprouteError
from kubectl_netdoctor.parsers.sysctl import parse_sysctl
from kubectl_netdoctor.podnet.node import Health, parse_node
from kubectl_netdoctor.podnet.pair import diagnose_pair
from tests.podnet.captures import FILES, PODNET, node
from tests.test_fuzz import FUZZ, FUZZ_FAST, mutated_objects

KINDS = ("route", "link", "addr", "neigh", "fdb")
REAL = {kind: json.loads((PODNET / "healthy" / "vm" / FILES[kind]).read_text()) for kind in KINDS}


def _analyse(vm) -> None:
    report = diagnose_pair(vm, node("healthy", "vm2"), client_pod="10.244.0.5", server_pod="10.244.1.5")
    for part in report.parts:
        assert isinstance(part.health, Health) and all(isinstance(line, str) for line in part.problems + part.evidence)
        assert part.health is Health.OK or part.problems


@given(st.sampled_from(KINDS).flatmap(lambda kind: st.tuples(st.just(kind), mutated_objects(REAL[kind]))))
@FUZZ_FAST
def test_mutated_captures_parse_or_fail_in_one_line(case):
    kind, entries = case
    texts = {k: (PODNET / "healthy" / "vm" / FILES[k]).read_text() for k in (*KINDS, "sysctl")}
    texts[kind] = json.dumps(entries)
    try:
        vm = parse_node("vm", "10.244.0.0/24", "169.254.123.1", texts)
    except IprouteError as err:
        assert str(err).startswith(f"bad snapshot file vm/{kind}") and "\n" not in str(err)
        return
    for entry in getattr(vm, {"route": "routes", "link": "links", "neigh": "neighbours", "fdb": "fdb"}.get(kind, "links")):
        assert isinstance(getattr(entry, "text", ""), str)
    _analyse(vm)


@given(st.lists(st.sampled_from(["net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter",
                                 "net.ipv4.conf.flannel/1.rp_filter", "net.ipv4.conf.cni0.rp_filter",
                                 "net.ipv4.conf.eth0.rp_filter"]), max_size=5),
       st.lists(st.sampled_from(["0", "1", "2", "3", "-1", "", "yes", "1 2", str(2 ** 70)]), min_size=5, max_size=5))
@FUZZ
def test_any_sysctl_values_are_read_without_a_crash(keys, values):
    text = "".join(f"{k} = {v}\n" for k, v in zip(keys, values))
    _analyse(replace(node("healthy", "vm"), sysctls=parse_sysctl(text, "vm/sysctl")))
