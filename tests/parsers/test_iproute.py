"""iproute2's JSON and sysctl text, on real output (tests/fixtures/podnet/, made by capture.sh in throwaway
network namespaces; host/ is this machine's own node), and bad input: one clear error, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers.iproute import (
    IprouteError,
    parse_addresses,
    parse_fdb,
    parse_links,
    parse_neighbours,
    parse_routes,
)
from kubectl_netdoctor.parsers.sysctl import parse_proc_sys, parse_sysctl, sysctl_name

PODNET = Path(__file__).resolve().parent.parent / "fixtures" / "podnet"
NODES = sorted(p.relative_to(PODNET).as_posix() for p in PODNET.glob("*/*") if (p / "route.json").exists())


def read(node: str, name: str) -> str:
    return (PODNET / node / name).read_text()


def test_every_capture_parses():
    assert len(NODES) == 29  # 14 variants x 2 nodes, and this machine's own node
    for node in NODES:
        assert parse_routes(read(node, "route.json"), node) and parse_links(read(node, "link.json"), node)
        assert parse_addresses(read(node, "addr.json"), node) and parse_fdb(read(node, "fdb.json"), node)
        parse_neighbours(read(node, "neigh.json"), node)
        assert parse_sysctl(read(node, "sysctl.txt"), node).get("net.ipv4.ip_forward") in ("0", "1")


@pytest.mark.parametrize("kind, parse", [("route", parse_routes), ("neigh", parse_neighbours), ("fdb", parse_fdb)])
def test_text_is_what_iproute2_prints(kind, parse):
    """Each entry's .text is the line iproute2 prints for it without -j (captured alongside)."""
    for node in NODES:
        want = [line.strip() for line in read(node, f"{kind}.txt").splitlines()]
        assert [e.text for e in parse(read(node, f"{kind}.json"))] == want, node


def test_routes_of_a_flannel_node():
    routes = parse_routes(read("healthy/vm", "route.json"))
    main = [r.text for r in routes if r.table == "main" and r.family == 4]
    assert main == ["10.244.0.0/24 dev cni0 proto kernel scope link src 10.244.0.1",
                    "10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink",
                    "169.254.123.0/30 dev eth0 proto kernel scope link src 169.254.123.1"]
    overlay = routes[1]
    assert (overlay.dst, overlay.gateway, overlay.dev, overlay.protocol, overlay.scope, overlay.flags, overlay.type) == \
        ("10.244.1.0/24", "10.244.1.0", "flannel.1", None, "global", ("onlink",), "unicast")
    assert overlay.onlink and str(overlay.network) == "10.244.1.0/24" and overlay.index == 1
    kernel = routes[0]
    assert (kernel.protocol, kernel.scope, kernel.prefsrc, kernel.onlink) == ("kernel", "link", "10.244.0.1", False)
    local = next(r for r in routes if r.dst == "10.244.0.0")
    assert (local.type, local.table, local.scope, str(local.network)) == ("local", "local", "host", "10.244.0.0/32")
    v6 = next(r for r in routes if r.dst == "fe80::/64")
    assert (v6.family, v6.metric, v6.pref) == (6, 256, "medium")


@pytest.mark.parametrize("variant, node, dst, text", [
    ("route-missing", "vm", "10.244.1.0/24", None),
    ("route-stale-gateway", "vm", "10.244.1.0/24", "10.244.1.0/24 via 10.244.7.0 dev flannel.1 onlink"),
    ("host-gw", "vm", "10.244.1.0/24", "10.244.1.0/24 via 169.254.123.2 dev eth0"),
    ("rp-filter-asymmetric", "vm2", "10.244.0.0/24", "10.244.0.0/24 via 169.254.123.1 dev eth0"),
    ("vxlan-down", "vm2", "10.244.0.0/24", None),  # the kernel removed it with flannel.1
    ("healthy", "vm2", "10.244.0.0/24", "10.244.0.0/24 via 10.244.0.0 dev flannel.1 onlink"),
])
def test_the_route_to_the_peer_in_each_variant(variant, node, dst, text):
    found = [r.text for r in parse_routes(read(f"{variant}/{node}", "route.json")) if r.dst == dst]
    assert found == ([text] if text else [])


def test_default_routes_say_their_family_by_their_gateway():
    defaults = [r for r in parse_routes(read("host/vm", "route.json")) if r.dst == "default"]
    assert [(r.gateway, r.family, str(r.network)) for r in defaults] == [
        ("192.0.2.1", 4, "0.0.0.0/0"), ("fd00::1", 6, "::/0")]


def test_links_of_a_flannel_node():
    links = {lk.ifname: lk for lk in parse_links(read("healthy/vm", "link.json"))}
    assert list(links) == ["lo", "eth0", "cni0", "veth0a5", "flannel.1"]
    fl = links["flannel.1"]
    assert (fl.kind, fl.mtu, fl.operstate, fl.up, fl.lower_up, fl.address) == \
        ("vxlan", 1450, "UNKNOWN", True, True, "0a:00:00:00:00:01")
    x = fl.vxlan
    assert (x.id, x.port, x.local, x.dev, x.learning, x.df, x.remote, x.external) == \
        (1, 8472, "169.254.123.1", "eth0", False, "unset", None, False)
    assert fl.text == ("flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 state UNKNOWN "
                       "vxlan id 1 local 169.254.123.1 dev eth0 dstport 8472 nolearning")
    veth = links["veth0a5"]
    assert (veth.kind, veth.slave_kind, veth.master, veth.link_netnsid, veth.mtu) == ("veth", "bridge", "cni0", 1, 1450)
    assert (links["cni0"].kind, links["eth0"].kind, links["lo"].kind) == ("bridge", "veth", None)
    assert all(lk.vxlan is None for name, lk in links.items() if name != "flannel.1")


@pytest.mark.parametrize("variant, node, ifname, expected", [
    # (kind, mtu, up, operstate, MAC, VNI)
    ("healthy", "vm2", "flannel.1", ("vxlan", 1450, True, "UNKNOWN", "0a:00:00:01:00:01", 1)),
    ("vxlan-down", "vm2", "flannel.1", ("vxlan", 1450, False, "DOWN", "0a:00:00:01:00:01", 1)),
    ("vni-mismatch", "vm2", "flannel.1", ("vxlan", 1450, True, "UNKNOWN", "0a:00:00:01:00:01", 2)),
    ("stale-vtep-mac", "vm2", "flannel.1", ("vxlan", 1450, True, "UNKNOWN", "0a:00:00:01:00:99", 1)),
    ("mtu-pod", "vm", "cni0", ("bridge", 1500, True, "UP", "0a:58:0a:f4:00:01", None)),
    ("mtu-pod", "vm", "veth0a5", ("veth", 1500, True, "UP", "0a:58:0a:f4:00:f5", None)),
    ("mtu-underlay", "vm", "eth0", ("veth", 1400, True, "UP", "02:00:a9:fe:7b:01", None)),
    ("host", "vm", "eth0", (None, 1400, True, "UP", "02:fc:00:00:00:01", None)),  # a virtio NIC: no linkinfo
    ("host", "vm", "ifb0", ("ifb", 1500, False, "DOWN", None, None)),
])
def test_links_in_each_variant(variant, node, ifname, expected):
    link = next(lk for lk in parse_links(read(f"{variant}/{node}", "link.json")) if lk.ifname == ifname)
    vni = link.vxlan.id if link.vxlan else None
    got = (link.kind, link.mtu, link.up, link.operstate, link.address, vni)
    if expected[4] is None:  # an ifb's MAC is random
        got = got[:4] + (None,) + got[5:]
    assert got == expected


def test_host_gw_nodes_have_no_overlay_device():
    kinds = {lk.ifname: lk.kind for lk in parse_links(read("host-gw/vm", "link.json"))}
    assert kinds == {"lo": None, "eth0": "veth", "cni0": "bridge", "veth0a5": "veth"}


def test_addresses():
    addrs = parse_addresses(read("healthy/vm", "addr.json"))
    v4 = [(a.ifname, a.cidr, a.scope) for a in addrs if a.family == 4]
    assert v4 == [("lo", "127.0.0.1/8", "host"), ("eth0", "169.254.123.1/30", "global"),
                  ("cni0", "10.244.0.1/24", "global"), ("flannel.1", "10.244.0.0/32", "global")]
    assert {a.scope for a in addrs if a.family == 6 and a.ifname != "lo"} == {"link"}
    assert str(next(a for a in addrs if a.ifname == "eth0").interface.network) == "169.254.123.0/30"


def test_neighbours():
    neigh = {n.dst: n for n in parse_neighbours(read("healthy/vm", "neigh.json"))}
    vtep = neigh["10.244.1.0"]
    assert (vtep.dev, vtep.lladdr, vtep.state, vtep.permanent, vtep.usable) == \
        ("flannel.1", "0a:00:00:01:00:01", ("PERMANENT",), True, True)
    failed = next(n for n in parse_neighbours(read("neigh-missing/vm", "neigh.json")) if n.dst == "10.244.1.0")
    assert (failed.lladdr, failed.state, failed.usable, failed.text) == \
        (None, ("FAILED",), False, "10.244.1.0 dev flannel.1 FAILED")
    # The kernel flushes a device's neighbours (permanent ones too) when its MAC changes.
    assert [n.dst for n in parse_neighbours(read("stale-vtep-mac/vm2", "neigh.json")) if n.dev == "flannel.1"] == []


def test_fdb():
    fdb = parse_fdb(read("healthy/vm", "fdb.json"))
    vxlan = [f for f in fdb if f.dev == "flannel.1"]
    assert [(f.mac, f.dst, f.flags, f.state, f.permanent, f.self_entry) for f in vxlan] == [
        ("0a:00:00:01:00:01", "169.254.123.2", ("self",), "permanent", True, True)]
    learned = next(f for f in fdb if f.mac == "0a:58:0a:f4:00:05")
    assert (learned.dev, learned.master, learned.state, learned.permanent, learned.dst) == \
        ("veth0a5", "cni0", "", False, None)
    assert [f for f in parse_fdb(read("fdb-missing/vm", "fdb.json")) if f.dev == "flannel.1"] == []


def test_sysctls():
    s = parse_sysctl(read("healthy/vm", "sysctl.txt"))
    assert s.get("net.ipv4.conf.flannel/1.rp_filter") == "0" == s.conf("flannel.1", "rp_filter")
    assert s.int_value("net.ipv4.ip_forward") == 1 and s.get("net.ipv4.conf.nothere.rp_filter") is None
    assert sorted(k.split(".")[3] for k in s.values if k.endswith("rp_filter")) == \
        ["all", "cni0", "default", "eth0", "flannel/1", "lo", "veth0a5"]
    assert parse_sysctl(read("rp-filter-strict/vm2", "sysctl.txt")).conf("all", "rp_filter") == "1"
    assert parse_sysctl(read("ip-forward-off/vm2", "sysctl.txt")).int_value("net.ipv4.ip_forward") == 0


def test_sysctl_text_details():
    s = parse_sysctl("# a comment\n; another\n\nnet.ipv4.ip_local_port_range = 32768\t60999\n"
                     "kernel.domainname = \nsysctl: permission denied on key 'net.ipv4.conf.all.stable_secret'\n"
                     "net.ipv4.ip_forward=1\n")
    assert s.values == {"net.ipv4.ip_local_port_range": "32768\t60999", "kernel.domainname": "",
                        "net.ipv4.ip_forward": "1"}
    assert s.messages == ("sysctl: permission denied on key 'net.ipv4.conf.all.stable_secret'",)


@pytest.mark.parametrize("path, name", [
    ("/proc/sys/net/ipv4/conf/flannel.1/rp_filter", "net.ipv4.conf.flannel/1.rp_filter"),
    ("/proc/sys/net/ipv4/ip_forward", "net.ipv4.ip_forward"),
    ("proc/sys/net/ipv4/conf/all/rp_filter", "net.ipv4.conf.all.rp_filter"),
    ("/proc/sys/net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
])
def test_sysctl_names_from_proc_paths(path, name):
    assert sysctl_name(path) == name


def test_proc_sys_files_read_as_sysctl_does():
    from_files = parse_proc_sys({"/proc/sys/net/ipv4/conf/flannel.1/rp_filter": "1\n",
                                 "/proc/sys/net/ipv4/ip_forward": "0\n"})
    assert from_files.conf("flannel.1", "rp_filter") == "1" and from_files.int_value("net.ipv4.ip_forward") == 0


def test_filtered_by_device_the_entries_get_it_from_the_caller():
    """``ip neigh show dev eth0`` and friends leave the device out of every entry (seen on this machine)."""
    neigh = parse_neighbours('[{"dst":"192.0.2.1","lladdr":"02:fc:00:00:00:05","state":["REACHABLE"]},'
                             '{"dst":"fd00::1","state":["FAILED"]}]', dev="eth0")
    assert [n.text for n in neigh] == ["192.0.2.1 dev eth0 lladdr 02:fc:00:00:00:05 REACHABLE", "fd00::1 dev eth0 FAILED"]
    routes = parse_routes('[{"dst":"default","gateway":"192.0.2.1","flags":[]}]', dev="eth0")
    assert routes[0].text == "default via 192.0.2.1 dev eth0"
    fdb = parse_fdb('[{"mac":"0a:00:00:01:00:01","dst":"169.254.123.2","flags":["self"],"state":"permanent"}]',
                    dev="flannel.1")
    assert fdb[0].text == "0a:00:00:01:00:01 dev flannel.1 dst 169.254.123.2 self permanent"


def test_shapes_not_in_the_fixtures():
    routes = parse_routes('[{"dst":"10.0.0.0/8","nexthops":[{"gateway":"192.0.2.7","dev":"eth0","weight":1,'
                          '"flags":[]},{"gateway":"192.0.2.8","dev":"eth1","weight":1,"flags":["onlink"]}],'
                          '"flags":[]},'
                          '{"type":"blackhole","dst":"10.244.3.0/26","protocol":"bird","flags":[]},'
                          '{"dst":"10.9.0.0/16","via":{"family":"inet6","host":"fe80::1"},"dev":"eth0",'
                          '"table":100,"protocol":17,"flags":[]},'
                          '{"dst":"default","dev":"wg0","flags":[]}]')
    multi, blackhole, v4_via_v6, bare = routes
    assert [(h.gateway, h.dev, h.flags) for h in multi.nexthops] == [
        ("192.0.2.7", "eth0", ()), ("192.0.2.8", "eth1", ("onlink",))]
    assert multi.text == "10.0.0.0/8 nexthop via 192.0.2.7 dev eth0 weight 1 nexthop via 192.0.2.8 dev eth1 " \
                         "weight 1 onlink"
    assert (blackhole.type, blackhole.dev, blackhole.protocol) == ("blackhole", None, "bird")
    assert (v4_via_v6.gateway, v4_via_v6.table, v4_via_v6.protocol) == ("fe80::1", "100", "17")
    assert (bare.family, bare.network) == (None, None)  # a default route without an address says no family
    links = parse_links('[{"ifname":"cilium_vxlan","mtu":1500,"flags":["UP","LOWER_UP"],"linkinfo":{'
                        '"info_kind":"vxlan","info_data":{"external":true,"port":8472,"learning":false}}},'
                        '{"ifname":"tunl0","mtu":1480,"flags":["NOARP"],"address":"0.0.0.0","link_type":"ipip",'
                        '"linkinfo":{"info_kind":"ipip","info_data":{"remote":"any","local":"any"}}}]')
    assert (links[0].vxlan.external, links[0].vxlan.id, links[0].operstate) == (True, None, "UNKNOWN")
    assert (links[1].kind, links[1].vxlan, links[1].up, links[1].address) == ("ipip", None, False, "0.0.0.0")
    assert parse_addresses('[{}, {"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2",'
                           '"prefixlen":24},{"family":"link","local":"x"}]}]')[0].cidr == "192.0.2.2/24"


@pytest.mark.parametrize("parse, text, words", [
    (parse_routes, "", ["invalid JSON"]),
    (parse_routes, "[{]", ["invalid JSON", ":1"]),
    (parse_routes, '{"dst": "default"}', ["a list of objects expected, got dict"]),
    (parse_routes, '[["default"]]', ["[0]", "route entry is", "not an object"]),
    (parse_routes, '[{"flags": []}]', ["[0]", 'no "dst"']),
    (parse_routes, '[{"dst": "10.244.1.0/24"}, {"dst": "10.244.2.0/33"}]', ["[1] (10.244.2.0/33)", "neither"]),
    (parse_routes, '[{"dst": "default", "gateway": "gw1"}]', ['"gateway" is \'gw1\', not an IP address']),
    (parse_routes, '[{"dst": "default", "flags": "onlink"}]', ['"flags" is "onlink", not a list of words']),
    (parse_routes, '[{"dst": "default", "metric": "256"}]', ['"metric" is "256", not a number']),
    (parse_routes, '[{"dst": "default", "metric": true}]', ['"metric" is true, not a number']),
    (parse_routes, '[{"dst": "default", "nexthops": {"dev": "eth0"}}]', ['"nexthops"', "not a list of objects"]),
    (parse_routes, '[{"dst": "default", "protocol": [1]}]', ['"protocol" is [1], not a name or number']),
    (parse_routes, "[" * 500 + "]" * 500, ["nested deeper than"]),
    (parse_links, '[{"ifname": "eth0"}]', ["[0] (eth0)", 'no "mtu"']),
    (parse_links, '[{"ifname": "eth0", "mtu": "1500"}]', ['"mtu" is "1500", not a number']),
    (parse_links, '[{"mtu": 1500}]', ['no "ifname"']),
    (parse_links, '[{"ifname": "f", "mtu": 1, "linkinfo": []}]', ['"linkinfo" is [], not an object']),
    (parse_links, '[{"ifname": "f", "mtu": 1, "linkinfo": {"info_kind": "vxlan", "info_data": {"id": "1"}}}]',
     ["[0] (f)", '"id" is "1", not a number']),
    (parse_links, '[{"ifname": "f", "mtu": 1, "linkinfo": {"info_kind": "vxlan", "info_data": {"learning": 0}}}]',
     ['"learning" is 0, not true or false']),
    (parse_addresses, '[{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.0.0.1", "prefixlen": 40}]}]',
     ['"prefixlen" 40 is out of range for 10.0.0.1']),
    (parse_addresses, '[{"ifname": "eth0", "addr_info": {"family": "inet"}}]', ['"addr_info"', "not a list"]),
    (parse_neighbours, '[{"dst": "10.244.1.x", "dev": "flannel.1"}]', ['"dst" is \'10.244.1.x\', not an IP address']),
    (parse_neighbours, '[{"dev": "flannel.1"}]', ['no "dst"']),
    (parse_fdb, '[{"mac": "0a:00:00:01:00", "ifname": "flannel.1"}]', ["[0] (0a:00:00:01:00)", "not a MAC address"]),
    (parse_fdb, '[{"mac": "0a:00:00:01:00:01", "dst": "node-2"}]', ['"dst" is \'node-2\', not an IP address']),
    (parse_fdb, '[{"mac": "0a:00:00:01:00:01", "vlan": "1"}]', ['"vlan" is "1", not a number']),
])
def test_bad_input_is_one_clear_error(parse, text, words):
    with pytest.raises(IprouteError) as err:
        parse(text, "vm2/route.json")
    message = str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, SnapshotError)
    assert message.startswith("bad snapshot file vm2/route.json") and "\n" not in message
    for w in words:
        assert w in message


@pytest.mark.parametrize("text, line, words", [
    ("net.ipv4.ip_forward = 1\nip_forward 1\n", 2, ["not a 'key = value' line", "'ip_forward 1'"]),
    ("= 1\n", 1, ["not a 'key = value' line"]),
])
def test_bad_sysctl_lines_are_named(text, line, words):
    with pytest.raises(IprouteError) as err:
        parse_sysctl(text, "vm/sysctl.txt")
    assert err.value.line == line and f"vm/sysctl.txt:{line}" in str(err.value)
    assert all(w in str(err.value) for w in words)


def test_a_value_that_is_not_a_number_is_named_when_read_as_one():
    s = parse_sysctl("net.ipv4.ip_forward = yes\n", "vm/sysctl.txt")
    with pytest.raises(IprouteError, match=r"net.ipv4.ip_forward = 'yes' is not a number"):
        s.int_value("net.ipv4.ip_forward")


@pytest.mark.parametrize("files, words", [
    ({"/etc/sysctl.conf": "1"}, ["'/etc/sysctl.conf' is not under /proc/sys"]),
    ({"/proc/sys/": "1"}, ["names no sysctl"]),
    ({"/proc/sys/net/ipv4/ip_forward": "1\n0\n"}, ["ip_forward", "is not one value"]),
])
def test_bad_proc_sys_files(files, words):
    with pytest.raises(IprouteError) as err:
        parse_proc_sys(files, "vm/proc-sys")
    assert all(w in str(err.value) for w in words)
