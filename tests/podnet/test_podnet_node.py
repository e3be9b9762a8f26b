"""One node's captures and the kernel's route choice."""

from __future__ import annotations

import pytest

from kubectl_netdoctor.parsers.iproute import IprouteError, parse_routes
from kubectl_netdoctor.podnet.node import CAPTURE_COMMANDS, Health, lookup, parse_node, route_devices, worst
from tests.podnet.captures import PODNET, node


def test_parse_node_reads_the_kinds_it_is_given():
    text = (PODNET / "healthy" / "vm" / "route.json").read_text()
    n = parse_node("vm", "10.244.0.0/24", "169.254.123.1", {"route": text})
    assert len(n.routes) == len(node("healthy", "vm").routes)
    assert (n.links, n.addresses, n.neighbours, n.fdb, n.sysctls) == (None, None, None, None, None)
    assert str(n.pod_network) == "10.244.0.0/24" and n.link("flannel.1") is None


def test_parse_node_names_the_node_and_the_capture_in_errors():
    with pytest.raises(IprouteError, match=r"^bad snapshot file vm2/fdb: \[0\]"):
        parse_node("vm2", None, None, {"fdb": '[{"mac": "nope"}]'})
    with pytest.raises(ValueError, match="unknown capture kind.*routes"):
        parse_node("vm2", None, None, {"routes": "[]"})


def test_capture_commands():
    assert CAPTURE_COMMANDS["link"] == ["ip", "-j", "-d", "link", "show"]
    assert set(CAPTURE_COMMANDS) == {"route", "link", "addr", "neigh", "fdb", "sysctl"}


def test_node_helpers():
    vm = node("healthy", "vm")
    assert vm.link("flannel.1").kind == "vxlan" and vm.link(None) is None
    assert [a.cidr for a in vm.addresses_of("cni0") if a.family == 4] == ["10.244.0.1/24"]
    assert vm.has_address("169.254.123.1") and not vm.has_address("169.254.123.2")


ROUTES = parse_routes('[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},'
                      '{"dst":"10.0.0.0/8","gateway":"192.0.2.7","dev":"eth0","metric":200,"flags":[]},'
                      '{"dst":"10.0.0.0/8","gateway":"192.0.2.8","dev":"eth1","metric":100,"flags":[]},'
                      '{"dst":"10.244.1.0/24","gateway":"10.244.1.0","dev":"flannel.1","flags":["onlink"]},'
                      '{"type":"local","dst":"10.244.1.5","dev":"lo","table":"local","flags":[]},'
                      '{"dst":"10.244.1.0/24","dev":"eth2","table":"100","flags":[]},'
                      '{"type":"multicast","dst":"ff00::/8","dev":"eth0","table":"local","flags":[]},'
                      '{"dst":"fd00::/64","dev":"eth0","flags":[]}]')


@pytest.mark.parametrize("address, table, expected", [
    ("10.244.1.5", "main", "10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink"),  # longest prefix
    ("10.9.9.9", "main", "10.0.0.0/8 via 192.0.2.8 dev eth1 metric 100"),  # the lower metric
    ("8.8.8.8", "main", "default via 192.0.2.1 dev eth0"),
    ("fd00::5", "main", "fd00::/64 dev eth0"),  # the IPv4 default does not cover IPv6
    ("fd01::5", "main", None),
    ("10.244.1.5", "100", "10.244.1.0/24 dev eth2 table 100"),
    ("10.244.1.5", "local", "local 10.244.1.5 dev lo table local"),
    ("not-an-ip", "main", None),
])
def test_lookup(address, table, expected):
    found = lookup(ROUTES, address, table)
    assert (found.text if found else None) == expected


def test_route_devices_and_worst():
    multi = parse_routes('[{"dst":"10.0.0.0/8","nexthops":[{"gateway":"192.0.2.7","dev":"eth0"},'
                         '{"gateway":"192.0.2.8","dev":"eth1"}]}]')[0]
    assert route_devices(multi) == ("eth0", "eth1") and route_devices(ROUTES[0]) == ("eth0",)
    assert worst([Health.OK, Health.DEGRADED, Health.UNKNOWN]) is Health.UNKNOWN
    assert worst([Health.UNKNOWN, Health.BROKEN]) is Health.BROKEN and worst([]) is Health.OK
