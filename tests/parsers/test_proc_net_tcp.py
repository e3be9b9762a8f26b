"""/proc/net/tcp and tcp6: little-endian addresses, states, and where an app listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers.proc_net_tcp import (
    ALL_ADDRESSES,
    LOOPBACK_ONLY,
    SPECIFIC_IP,
    TCP,
    UDP,
    bind_scope,
    decode_address,
    listen_scope,
    listeners,
    parse_proc_net_tcp,
    split_tables,
    udp_bound,
    udp_scope,
)

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"


@pytest.fixture(scope="module")
def sockets():
    return (parse_proc_net_tcp((CAPTURES / "pod-web.proc-net-tcp").read_text(), "tcp")
            + parse_proc_net_tcp((CAPTURES / "pod-web.proc-net-tcp6").read_text(), "tcp6"))


@pytest.mark.parametrize("hex_addr, ip", [
    ("0100007F", "127.0.0.1"),
    ("0601F40A", "10.244.1.6"),
    ("00000000", "0.0.0.0"),
    ("00000000000000000000000000000000", "::"),
    ("00000000000000000000000001000000", "::1"),
    ("0000000000000000FFFF00000100007F", "::ffff:127.0.0.1"),
    ("100000FD010044020000000006000000", "fd00:10:244:1::6"),
])
def test_decode_address(hex_addr, ip):
    assert decode_address(hex_addr) == ip


def test_decode_big_endian():
    assert decode_address("7F000001", little_endian=False) == "127.0.0.1"


def test_sockets(sockets):
    assert [(s.local, s.state, s.family) for s in sockets] == [
        ("127.0.0.1:8080", "LISTEN", 4), ("0.0.0.0:9200", "LISTEN", 4), ("10.244.1.6:8080", "ESTABLISHED", 4),
        ("10.244.1.6:41410", "TIME_WAIT", 4), ("[::]:8081", "LISTEN", 6), ("[::1]:8082", "LISTEN", 6),
        ("[::ffff:127.0.0.1]:8083", "LISTEN", 6), ("[fd00:10:244:1::6]:8085", "LISTEN", 6),
        ("[::ffff:10.244.1.6]:8084", "ESTABLISHED", 6)]
    est = sockets[2]
    assert (est.remote_ip, est.remote_port, est.uid, est.inode, est.line) == ("10.244.1.5", 54178, 1000, 51234, 4)


def test_listeners_and_scopes(sockets):
    assert [s.local for s in listeners(sockets, 8080)] == ["127.0.0.1:8080"]  # the ESTABLISHED one is not a listener
    assert listen_scope(sockets, 8080) == LOOPBACK_ONLY
    assert listen_scope(sockets, 9200) == ALL_ADDRESSES
    assert listen_scope(sockets, 8081) == ALL_ADDRESSES
    assert listen_scope(sockets, 8082) == LOOPBACK_ONLY
    assert listen_scope(sockets, 8083) == LOOPBACK_ONLY  # v4-mapped 127.0.0.1
    assert listen_scope(sockets, 8085) == SPECIFIC_IP
    assert listen_scope(sockets, 8084) is None
    assert bind_scope("127.0.0.53") == LOOPBACK_ONLY


def test_widest_scope_wins():
    text = ("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 1 1\n"
            "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 2 1\n")
    assert listen_scope(parse_proc_net_tcp(text), 8080) == ALL_ADDRESSES


@pytest.mark.parametrize("text, line, words", [
    ("  sl  local_address\n   0: 0100007G:1F90 00000000:0000 0A\n", 2, "bad address"),
    ("   0: 0100007F:1F90 00000000:0000 0A\n   1 garbage\n", 2, "not a socket line"),
    ("   0: 01007F:1F90 00000000:0000 0A\n", 1, "neither 8 nor 32"),
])
def test_malformed_input_names_the_line(text, line, words):
    with pytest.raises(SnapshotError) as err:
        parse_proc_net_tcp(text, "web-1/proc/net/tcp")
    assert err.value.line == line
    assert f"web-1/proc/net/tcp:{line}" in str(err.value)
    assert words in str(err.value)


# -- UDP -----------------------------------------------------------------------------------

TCP_UDP = (Path(__file__).parent.parent / "fixtures" / "captures" / "pod-dns-echo.proc-net-tcp-udp").read_text()


def test_tcp_and_udp_tables_are_told_apart_by_their_headers():
    tables = split_tables(TCP_UDP)
    tcp = parse_proc_net_tcp(tables[TCP])
    udp = parse_proc_net_tcp(tables[UDP], "/proc/net/udp")
    assert [(s.local, s.state) for s in tcp] == [("0.0.0.0:8080", "LISTEN")]
    assert {s.local for s in udp} == {"0.0.0.0:9000", "127.0.0.1:9001", "192.0.2.2:60340", "[::]:5353"}


def test_udp_bound_sockets_are_the_listeners_connected_ones_are_clients():
    udp = parse_proc_net_tcp(split_tables(TCP_UDP)[UDP])
    assert udp_scope(udp, 9000) == ALL_ADDRESSES
    assert udp_scope(udp, 9001) == LOOPBACK_ONLY
    assert udp_scope(udp, 5353) == ALL_ADDRESSES
    assert udp_scope(udp, 60340) is None  # a client socket connected to 10.96.0.10:53
    assert udp_scope(udp, 53) is None
    assert [s.local for s in udp_bound(udp, 9000)] == ["0.0.0.0:9000"]


def test_text_without_headers_is_tcp():
    line = "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 2 1\n"
    assert split_tables(line) == {TCP: line.strip("\n")}
    assert split_tables("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
                        "timeout inode ref pointer drops\n") == {UDP: ""}
