"""Property-based fuzzing (Hypothesis) of everything that reads user input: snapshots and captures.

The property is the README's promise: any input ends in a result or in a one-line
``error: ...`` with exit 2 (a NetdoctorError / SnapshotError), never in another
exception, never in a check's "internal error", never in a hang. Inputs are random
mutations of the real fixtures (a value replaced by a wrong type, a null, a huge
integer, deep nesting; a key deleted; capture lines dropped, duplicated, cut or
garbled), so that most of them get past the syntax into the code that trusts it.

Bounded: a fixed number of examples each, no example database, whole file ~10-20 s.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kubectl_netdoctor.cli import app
from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.context import Client, Context, Options
from kubectl_netdoctor.diagnose import diagnose
from kubectl_netdoctor.errors import NetdoctorError
from kubectl_netdoctor.kubeproxy.capture import parse_capture
from kubectl_netdoctor.parsers import proc_net_tcp
from kubectl_netdoctor.paths import SERVICE

FIXTURES = Path(__file__).parent / "fixtures"
CLUSTER = yaml.safe_load((FIXTURES / "cluster" / "healthy.yaml").read_text())["items"]
PROXY_OBJECTS = [o for name in ("nodes.yaml", "kube-system.yaml", "shop.yaml")
                 for o in yaml.safe_load((FIXTURES / "proxy" / name).read_text())["items"]]
CAPTURES = {
    "iptables-save": [FIXTURES / "proxy" / "iptables" / "worker-1.iptables-save",
                      FIXTURES / "captures" / "node-a.iptables-save"],
    "ipvsadm": [FIXTURES / "proxy" / "ipvs" / "worker-1.ipvsadm", FIXTURES / "captures" / "node-c.ipvsadm"],
    "nft": [FIXTURES / "proxy" / "nftables" / "worker-1.nft", FIXTURES / "captures" / "node-e.nft"],
    "nft-json": [FIXTURES / "proxy" / "nftables" / "worker-2.nft.json", FIXTURES / "captures" / "node-e.nft.json"],
    "proc-net-tcp": [FIXTURES / "captures" / "pod-web.proc-net-tcp", FIXTURES / "captures" / "pod-web.proc-net-tcp6"],
}

FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ_SLOW = settings(FUZZ, max_examples=12)  # a whole diagnosis of the 3-node proxy cluster each
FUZZ_FAST = settings(FUZZ, max_examples=150)  # one parser call each
runner = CliRunner()


def _deep(levels: int) -> Any:
    out: Any = "x"
    for _ in range(levels):
        out = [out]
    return out


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.integers(0, 70000),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(["", "http", "TCP", "-1"]),
    st.just([]), st.just({}), st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=2),
    st.just(_deep(150)), st.just({"a": _deep(40)}),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated_objects(draw: st.DrawFn, objects: list[dict]) -> list[dict]:
    """A deep copy of ``objects`` with 1-3 values replaced by junk or removed."""
    objs = copy.deepcopy(objects)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(objs) - 1))
        path = draw(st.sampled_from(_paths(objs[i])))
        if not path:
            objs[i] = draw(JUNK)
            continue
        parent = objs[i]
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JUNK)
    return objs


def _write(tmp: Path, objs: list[dict], as_json: bool) -> Path:
    if as_json:
        f = tmp / "snap.json"
        f.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    else:
        f = tmp / "snap.yaml"
        f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs}))
    return f


def assert_result_or_usage_error(result) -> None:
    """Exit 0/1/3 with a report, or exit 2 with one ``error:`` line; no traceback, no crashed check."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2, 3), result.exit_code
    assert "internal error" not in result.stderr + result.stdout, result.stderr + result.stdout[:2000]
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    else:
        assert json.loads(result.stdout)["schema"] == "netdoctor/v1"


@FUZZ
@given(objs=mutated_objects(CLUSTER), as_json=st.booleans())
def test_mutated_snapshot_ends_in_a_report_or_exit_2(tmp_path_factory, objs, as_json):
    snap = _write(tmp_path_factory.mktemp("snap"), objs, as_json)
    result = runner.invoke(app, ["svc", "web", "-n", "shop", "--snapshot", str(snap), "-o", "json",
                                 "--from-pod", "shop/client"])
    assert_result_or_usage_error(result)


def _mode_objects(objs: list[dict], mode: str) -> list[dict]:
    objs = copy.deepcopy(objs)
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "kube-proxy")
    cm["data"]["config.conf"] = cm["data"]["config.conf"].replace('mode: ""', f"mode: {mode}")
    return objs


@FUZZ_SLOW
@given(objs=mutated_objects(PROXY_OBJECTS))
def test_mutated_proxy_cluster_with_captures_ends_in_a_report_or_exit_2(tmp_path_factory, objs):
    """The objects the proxy step compares rules with (nodes, slices, kube-proxy's ConfigMap), mutated."""
    tmp = tmp_path_factory.mktemp("snap")
    _write(tmp, objs, as_json=False)
    for f in (FIXTURES / "proxy" / "iptables").iterdir():
        (tmp / f.name).write_text(f.read_text())
    result = runner.invoke(app, ["svc", "web", "-n", "shop", "--snapshot", str(tmp), "-o", "json"])
    assert_result_or_usage_error(result)


# -- captures -----------------------------------------------------------------------

@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """Capture lines dropped, duplicated, cut short, garbled or swapped for another line's words."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "cut", "garble", "token", "junk"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "garble":
            words = lines[i].split(" ")
            j = draw(st.integers(0, len(words) - 1))
            words[j] = draw(st.sampled_from(["", "-j", "{", "}", "0x", "-1", "99999999999999999999", "::", "/",
                                             "tcp", "ip", "@", "vmap", "numgen", "dnat", "to", ":", ","]))
            lines[i] = " ".join(words)
        elif op == "token":
            other = draw(st.sampled_from(lines)).split(" ")
            lines[i] = " ".join(lines[i].split(" ")[:1] + other[1:])
        else:
            lines.insert(i, draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


def _parse(kind: str, text: str) -> None:
    if kind == "proc-net-tcp":
        sockets = proc_net_tcp.parse_proc_net_tcp(text)
        proc_net_tcp.listen_scope(sockets, 8080)
        return
    kind = "nft" if kind == "nft-json" else kind
    parse_capture(kind, text, "node-1", ["192.168.1.10"], source="node-1.capture")


def _parses_or_refuses(kind: str, text: str) -> None:
    try:
        _parse(kind, text)
    except NetdoctorError as err:
        assert err.exit_code == 2 and "node-1.capture" in str(err) or kind == "proc-net-tcp", str(err)


@pytest.mark.parametrize("kind", ["iptables-save", "ipvsadm", "nft", "proc-net-tcp"])
@FUZZ_FAST
@given(data=st.data())
def test_mutated_text_capture_parses_or_is_refused_naming_the_file(kind, data):
    text = data.draw(st.sampled_from(CAPTURES[kind])).read_text()
    _parses_or_refuses(kind, data.draw(mutated_text(text)))


@FUZZ_FAST
@given(data=st.data())
def test_mutated_nft_json_parses_or_is_refused_naming_the_file(data):
    doc = json.loads(data.draw(st.sampled_from(CAPTURES["nft-json"])).read_text())
    entries = doc["nftables"]
    mutated = data.draw(mutated_objects(entries))
    _parses_or_refuses("nft-json", json.dumps({"nftables": mutated}))


@FUZZ_FAST
@given(text=st.text(max_size=200))
def test_random_text_in_every_capture_format(text):
    for kind in ("iptables-save", "ipvsadm", "nft", "proc-net-tcp"):
        _parses_or_refuses(kind, text)


@FUZZ_SLOW
@given(data=st.data(), mode=st.sampled_from(["iptables", "nftables"]))
def test_mutated_capture_through_the_proxy_step(data, mode):
    """What a parser lets through must not break the layout reading or the comparison behind it."""
    objs = _mode_objects(PROXY_OBJECTS, mode)
    captures: dict[str, dict[str, str]] = {}
    for f in sorted((FIXTURES / "proxy" / mode).iterdir()):
        node, _, suffix = f.name.partition(".")
        if suffix == "nft.json":
            doc = json.loads(f.read_text())
            text = json.dumps({"nftables": data.draw(mutated_objects(doc["nftables"]))})
        else:
            text = data.draw(mutated_text(f.read_text()))
        captures.setdefault(node, {})["iptables-save" if suffix == "iptables-save" else "nft"] = text
    reader = SnapshotReader.from_objects(objs, captures, source="fuzz")
    try:
        report = diagnose(Context(reader, "shop", "web", Client("namespace", "shop"), Options()), SERVICE.hops)
    except NetdoctorError as err:
        assert err.exit_code == 2 and str(err).startswith("bad snapshot file "), str(err)
        return
    assert not [s.skip_reason for s in report.steps if "internal error" in s.skip_reason]


# -- issue 18: scan targets, selectors, durations, kubeconfigs ------------------------------------------------

SCAN_NAMES = st.one_of(
    st.text(max_size=70),
    st.text(alphabet="abc-xyz0129", min_size=1, max_size=70),
    st.sampled_from(["web\u200f", "web\u200b", "web-\U0001f642", "a]]>b", "Web", "", "x" * 64, "-web", "web-"]),
)


@FUZZ_SLOW
@given(names=st.lists(SCAN_NAMES, min_size=1, max_size=3, unique=True), as_json=st.booleans())
def test_a_scan_of_services_with_any_names_is_one_row_each(tmp_path_factory, names, as_json):
    """Whatever a snapshot names its Services, a scan is a report with one row per Service, the invalid
    names failing rows of their own (it ended the whole scan with "bad label selector")."""
    from kubectl_netdoctor import args as argcheck

    objs = copy.deepcopy(CLUSTER)
    web = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "web")
    for name in names:
        svc = copy.deepcopy(web)
        svc["metadata"]["name"] = name
        objs.append(svc)
    result = runner.invoke(app, ["scan", "-n", "shop", "--snapshot", str(_write(tmp_path_factory.mktemp("s"), objs,
                                                                              as_json)), "-o", "json"])
    assert result.exit_code in (0, 1), result.output
    rows = {(s["name"], s["verdict"]) for s in json.loads(result.stdout)["services"]}
    for name in {*names, "web"}:
        try:
            argcheck.service_name(name)
        except NetdoctorError:
            assert (name or "?", "problem") in rows
        else:
            assert name in {n for n, _ in rows}


SELECTOR_PIECES = st.sampled_from(["app", "tier", "example.com/app", "=", "==", "!=", "!", ",", "(", ")", " ",
                                   "in", "notin", "web", "", "-", "x/y/z", ">", "<", "1", "a" * 64, "\u200b", "é"])


@FUZZ_FAST
@given(text=st.one_of(st.text(max_size=40), st.lists(SELECTOR_PIECES, max_size=12).map("".join)),
       labels=st.dictionaries(st.sampled_from(["app", "tier", "example.com/app", "x"]),
                              st.sampled_from(["web", "", "1", "db"]), max_size=3))
def test_any_selector_parses_or_is_one_line_refused(text, labels):
    """labels.Parse's rules: a selector either parses (and then matches without error) or is a ValueError of
    one line; `in ()` and `notin ()` never parse (notin () would match everything)."""
    from kubectl_netdoctor import labels as lbl

    try:
        expressions = lbl.parse_selector_string(text)
    except ValueError as err:
        assert "\n" not in str(err) and str(err).startswith("bad label selector ")
        return
    assert all(e.get("values") != [] for e in expressions)
    for e in expressions:
        assert lbl.key_problem(e["key"]) is None
        assert all(lbl.value_problem(v) is None for v in e.get("values", []))
    lbl.matches_selector_string(text, labels)


@FUZZ_FAST
@given(expressions=st.lists(st.tuples(
    st.sampled_from(["app", "tier", "example.com/app", "a.b_c-d"]),
    st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!"]),
    st.lists(st.sampled_from(["web", "db", "v1.2", "x_y"]), min_size=1, max_size=3)), min_size=1, max_size=4))
def test_every_selector_kubectl_takes_parses(expressions):
    """The other way round: what kubectl accepts is never a usage error here."""
    from kubectl_netdoctor import labels as lbl

    parts = []
    for key, op, values in expressions:
        if op in ("in", "notin"):
            parts.append(f"{key} {op} ({', '.join(values)})")
        elif op == "exists":
            parts.append(key)
        elif op == "!":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key}{op}{values[0]}")
    assert len(lbl.parse_selector_string(",".join(parts))) == len(parts)


@FUZZ_FAST
@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"\d{0,450}(\.\d{0,5})?(ms|s|m|h)?", fullmatch=True)))
def test_any_wait_is_a_duration_within_a_day_or_one_line_refused(text):
    from kubectl_netdoctor.durations import MAX_DURATION_S, parse_duration

    try:
        seconds = parse_duration(text)
    except NetdoctorError as err:
        assert err.exit_code == 2 and "\n" not in str(err) and str(err).startswith("--wait ")
        return
    assert 0 < seconds <= MAX_DURATION_S


KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "t", "preferences": {},
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
    "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
}


@st.composite
def mutated_kubeconfig(draw: st.DrawFn) -> dict:
    """KUBECONFIG with 1-3 values replaced by (copies of) junk or removed."""
    doc = copy.deepcopy(KUBECONFIG)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in _paths(doc) if p]))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(JUNK))
    return doc


@FUZZ
@given(doc=mutated_kubeconfig(), as_json=st.booleans())
def test_a_mutated_kubeconfig_loads_or_is_one_line_exit_3(tmp_path_factory, doc, as_json):
    """A kubeconfig of any shape: the reader opens (no request is made yet) or says why not in one line."""
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    path = tmp_path_factory.mktemp("kc") / "config"
    path.write_text(json.dumps(doc) if as_json else yaml.safe_dump(doc))
    try:
        reader = LiveReader(kubeconfig=str(path), timeout=1)
    except NetdoctorError as err:
        assert err.exit_code == 3 and "\n" not in str(err), str(err)
        return
    assert isinstance(reader.host, str) and isinstance(reader.default_namespace, str)
