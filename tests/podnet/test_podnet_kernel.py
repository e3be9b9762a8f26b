"""ip_forward and reverse-path filtering, on the real sysctls and routes of the captures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubectl_netdoctor.parsers.sysctl import parse_sysctl
from kubectl_netdoctor.podnet.kernel import ip_forward, reverse_path, rp_filter
from kubectl_netdoctor.podnet.node import Health
from tests.podnet.captures import node, with_routes


def with_sysctls(variant: str, name: str, text: str):
    return replace(node(variant, name), sysctls=parse_sysctl(text))


@pytest.mark.parametrize("all_value, dev_value, mode", [
    (0, 0, 0), (1, 0, 1), (0, 1, 1), (1, 2, 2), (2, 1, 2), (2, 0, 2),  # the kernel takes the larger
])
def test_rp_filter_is_the_max_of_all_and_the_device(all_value, dev_value, mode):
    n = with_sysctls("healthy", "vm2", f"net.ipv4.conf.all.rp_filter = {all_value}\n"
                                       f"net.ipv4.conf.flannel/1.rp_filter = {dev_value}\n")
    rp = rp_filter(n, "flannel.1")
    assert (rp.mode, rp.all_value, rp.dev_value) == (mode, all_value, dev_value)


def test_rp_filter_on_the_captures():
    assert rp_filter(node("rp-filter-strict", "vm2"), "flannel.1").text == \
        "rp_filter 1 (strict: max of all=1, flannel.1=0) on flannel.1"
    assert rp_filter(node("healthy", "vm"), "eth0").mode == 0
    unknown = rp_filter(node("healthy", "vm"), "eth7")
    assert (unknown.mode, unknown.text) == (None, "rp_filter on eth7 unknown (all=0, eth7=not captured)")
    assert rp_filter(replace(node("healthy", "vm"), sysctls=None), "eth0").mode is None


@pytest.mark.parametrize("variant, source, in_dev, health, problem", [
    ("healthy", "10.244.0.0/24", "flannel.1", "ok", None),
    ("rp-filter-strict", "10.244.0.0/24", "flannel.1", "ok", None),  # strict, and the way back is flannel.1
    ("rp-filter-strict", "169.254.123.1", "eth0", "ok", None),  # the outer packets: back by eth0
    ("rp-filter-asymmetric", "10.244.0.0/24", "flannel.1", "broken",
     "vm2: rp_filter 1 (strict: max of all=1, flannel.1=0) on flannel.1 drops packets from vm's pods coming in on "
     "flannel.1: the way back to them leaves by eth0"),
    ("rp-filter-strict", "10.244.9.0/24", "flannel.1", "broken",
     "vm2: rp_filter 1 (strict: max of all=1, flannel.1=0) on flannel.1 drops packets from vm's pods coming in on "
     "flannel.1: no route back to 10.244.9.0/24"),
])
def test_reverse_path_on_the_captures(variant, source, in_dev, health, problem):
    r = reverse_path(node(variant, "vm2"), source, in_dev, "vm's pods" if "/" in source else "")
    assert (r.health.value, r.problems) == (health, (problem,) if problem else ())
    assert r.evidence[0].startswith("vm2: rp_filter")


def test_loose_mode_wants_any_way_back():
    loose = with_sysctls("rp-filter-asymmetric", "vm2",
                         "net.ipv4.conf.all.rp_filter = 2\nnet.ipv4.conf.flannel/1.rp_filter = 0\n")
    assert reverse_path(loose, "10.244.0.0/24", "flannel.1").health is Health.OK  # measured: loose passes
    hole = with_routes(loose, '[{"type":"blackhole","dst":"10.244.0.0/24","flags":[]}]', drop=("10.244.0.0/24",))
    r = reverse_path(hole, "10.244.0.0/24", "flannel.1")
    assert r.health is Health.BROKEN and r.back.type == "blackhole"


@pytest.mark.parametrize("change, problem", [
    ({"sysctls": None}, "vm2: rp_filter on flannel.1 unknown (all=not captured, flannel.1=not captured)"),
    ({"routes": None}, "vm2: routes not captured: cannot check the way back to 10.244.0.0/24"),
])
def test_reverse_path_unknown(change, problem):
    n = replace(node("rp-filter-strict", "vm2"), **change)
    r = reverse_path(n, "10.244.0.0/24", "flannel.1")
    assert (r.health, r.problems) == (Health.UNKNOWN, (problem,))
    assert reverse_path(n, "not-a-cidr", "flannel.1").health is Health.UNKNOWN


@pytest.mark.parametrize("variant, text, expected", [
    ("healthy", None, (1, "ok", ())),
    ("ip-forward-off", None,
     (0, "broken", ("vm2: net.ipv4.ip_forward = 0: it forwards no packet, neither its pods' packets to other nodes "
                    "nor other nodes' packets to its pods",))),
    ("healthy", "net.ipv4.conf.all.rp_filter = 0\n", (None, "unknown", ("vm2: net.ipv4.ip_forward not captured",))),
    ("healthy", "net.ipv4.ip_forward = on\n",
     (None, "unknown", ("vm2: net.ipv4.ip_forward 'on' is not a number",))),
])
def test_ip_forward(variant, text, expected):
    n = node(variant, "vm2") if text is None else with_sysctls(variant, "vm2", text)
    f = ip_forward(n)
    assert (f.value, f.health.value, f.problems) == expected
