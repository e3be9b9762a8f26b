"""The fast YAML path (fastyaml-rs) reads every text it vouches for exactly as PyYAML does, and leaves
every other text, and every error, to PyYAML: same objects, same refusals, same wording and line.

The reference is ``safeload.load_yaml_all(text, fast=False)``, the PyYAML path as it was. Objects are
compared by ``repr``: types (True is not 1, 1 is not 1.0), values, NaN and key order all count.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_netdoctor.parsers import safeload, yaml_fast
from kubectl_netdoctor.parsers.safeload import InputError

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the generator sits next to this file, any import mode
import gen_snapshot  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("tests/fixtures/**/*.yaml")])
FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(text: str, fast: bool = True) -> tuple:
    """What reading ``text`` ends in: the documents, or the error with its wording and line."""
    try:
        return ("read", repr(safeload.load_yaml_all(text, fast=fast)))
    except InputError as err:
        return ("refused", str(err), err.line)
    except yaml.YAMLError as err:
        return (type(err).__name__, str(err))


def vouched(text: str) -> bool:
    return yaml_fast.load_all(text, safeload._pyyaml_load_all, safeload.MAX_DEPTH) is not None


def same_as_pyyaml(text: str) -> None:
    assert outcome(text) == outcome(text, fast=False)


# -- real files ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_of_the_repository_reads_as_pyyaml_reads_it(path):
    same_as_pyyaml(path.read_text())


def test_the_fast_path_reads_most_of_them():
    """Those it leaves to PyYAML hold an anchor, or a quoted capture folded onto a line that starts
    with ``!`` (the fast path cannot see quotes, so that looks like a tag to it)."""
    taken = [p for p in FILES if vouched(p.read_text())]
    assert len(taken) >= 0.8 * len(FILES), sorted(set(FILES) - set(taken))


def test_kubectl_get_output_of_a_namespace_takes_the_fast_path(tmp_path):
    """What `kubectl get -o yaml` prints (sorted keys, managedFields, quoted numbers-as-strings)."""
    text = gen_snapshot.write(30, tmp_path)["yaml"].read_text()
    assert vouched(text)
    same_as_pyyaml(text)


def test_without_fastyaml_rs_pyyaml_reads_everything(monkeypatch):
    """A platform without fastyaml-rs's wheel reads YAML as before."""
    monkeypatch.setitem(sys.modules, "fast_yaml", None)  # `import fast_yaml` fails
    yaml_fast._parser.cache_clear()
    try:
        assert yaml_fast._parser() is None
        assert not vouched("a: 1\n")
        assert safeload.load_yaml_all("a: 1\n") == [{"a": 1}]
    finally:
        monkeypatch.undo()
        yaml_fast._parser.cache_clear()


# -- YAML 1.1 (PyYAML) against YAML 1.2 (fast_yaml) ---------------------------------------------

SCALARS = [
    "on", "On", "ON", "off", "yes", "Yes", "no", "NO", "y", "n", "true", "True", "FALSE", "null", "Null", "~", "",
    "0755", "0o755", "0O17", "09", "08.5", "00", "0x1F", "0X1F", "+0x1", "-0x1", "0b101", "0B1", "1_000", "_1", "1_",
    "190:20:30", "1:20.5", "12:30", "05:16:26", "1e3", "1E3", "1.0e3", "1.0e+3", "1.5", "-.5", "+.5", ".5", "5.", "0.",
    ".inf", "-.Inf", "+.INF", ".iNf", ".NaN", ".nan", "-.nan", "+1", "-0", "0", "80", "65535",
    "9223372036854775807", "18446744073709551616", "0x" + "f" * 17, "1" + "0" * 30,
    "=", "<<", ".", "...", "10.96.0.1", "1.34.2", "128Mi", "100m", "30s", "7bdcb55b4d", "12e45", "3d1219c7c4",
    "127.0.0.1:10249", ".:53", "2001:db8::1", "2026-11-22", "2026-11-22T05:16:26Z", "de77bfc0-5a85-4a2f-bfa0-ff4aaec80783",
]
CONTEXTS = [
    "a: {}\n", "- {}\n", "{}: a\n", "a: [{}]\n", "a: [b, {}]\n", "a: {{{}: 1}}\n", "a: {{b: {}}}\n", "a: {} # note\n",
    '"k": {}\n', '{{"k":{}}}\n', "a:\n  - {}\n  - b\n", "--- {}\n", "a: b\n---\n{}\n", "a: 'x'\nb:   {}   \n",
    "a: {}\r\n",
]


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("scalar", SCALARS)
def test_a_plain_scalar_anywhere_reads_as_pyyaml_reads_it(scalar, context):
    same_as_pyyaml(context.format(scalar))


@pytest.mark.parametrize("scalar", ["on", "yes", "0755", "1e3", "0o755", "=", "<<", "1:20", "-.5", "_1"])
def test_a_quoted_doubtful_scalar_does_not_stop_the_fast_path(scalar):
    for text in (f"a: '{scalar}'\nb: 1\n", f'a: "{scalar}"\n', f"a: 'it is {scalar}'\n", f"a: x {scalar} y\n"):
        assert vouched(text), text
        same_as_pyyaml(text)


@pytest.mark.parametrize("text", ["a: on\n", "on: 1\n", "- 0755\n", "a: [1e3]\n", "a: {b: yes}\n", "<<: {a: 1}\n",
                                  "a: !!str 1\n", "a: &x 1\nb: *x\n", "? a\n: b\n", "%YAML 1.1\n---\na: 1\n",
                                  "a: 1\n...\n", "a: |\n  x", "a: b\x85c\n", "\ufeffa: 1\n", "a: b\rc: d\n",
                                  ": a\n", "- : a\n", "|\na: 1\n", "\n  |-\n# c\na: 1\n", "\ta: 1\n", "-\ta: 1\n"])
def test_what_the_two_read_differently_is_left_to_pyyaml(text):
    assert not vouched(text)
    same_as_pyyaml(text)


# -- errors -----------------------------------------------------------------------------------

MALFORMED = [
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n   namespace: shop\n",  # bad indentation
    "a: b: c\n", "- a\nb: 1\n", "a: [1, 2\n", "a: {b: 1\n", "a: 'unterminated\n", 'a: "x\n', 'a: "\\q"\n',
    "a:\n\tb: 1\n", "a: b\n\tc: d\n", "a: @x\n", "a: `x\n", "a: -\n", "a:\n  - b\n  -c\n", "a: \x07\n", "a: \x7f\n",
    "a: *undefined\n", "a: &x 1\nb: &x 2\nc: *x\n", "[a]: b\n", "{a: 1}: b\n", "? [a, b]\n: c\n",
    "a: !!python/object:os.system x\n", "a: !foo 1\n", "a: !!int x\n", "%YAML 2.0\n---\na: 1\n", "--- !tag\na: 1\n",
    "x" * 1100 + ": 1\n", "a: 1\n---\n- b\n  c: d\n", "a:\n  b: 1\n c: 2\n", "'a\n---\nb'\n", "a: '\n---\n'\n",
    "a: |\n  x\n b: 1\n", "a: >-\n  x\n\n  y\n  - z\n", "a: 1\nb: 2\na: 3\n", "- - - - - x\n- [a, {b: [c]}]\n",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_or_unusual_yaml_ends_as_with_pyyaml_alone(text):
    same_as_pyyaml(text)


# -- bounds -----------------------------------------------------------------------------------

LAUGHS = "".join(f"l{i}: &l{i} [{', '.join(['*l' + str(i - 1)] * 9) if i else 'lol'}]\n" for i in range(9))


@pytest.mark.parametrize(("text", "message"), [
    ("x: " + "[" * 99 + "]" * 99 + "\n", None),
    ("x: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 100 levels"),
    ("".join(" " * i + "a:\n" for i in range(99)) + " " * 99 + "a: 1\n", None),
    ("".join(" " * i + "a:\n" for i in range(100)) + " " * 100 + "a: 1\n", "nested deeper than 100 levels"),
    ("- " * 99 + "x\n", None),
    ("- " * 100 + "x\n", "nested deeper than 100 levels"),
    ("kind: List\nitems: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper than 100 levels"),
    (LAUGHS, "values: YAML aliases that repeat (or contain) each other"),
    ("kind: Service\nmetadata: &m\n  name: web\n  labels: {self: *m}\n", "(or a YAML alias inside its own anchor)"),
    ("a: 9223372036854775807\n", None),
    ("a: 18446744073709551616\n", "integer wider than 64 bits (65 bits)"),
    ("a: -18446744073709551617\n", "integer wider than 64 bits"),
    ("a: 0x" + "f" * 17 + "\n", "integer wider than 64 bits (68 bits)"),
    ("a: [1, 1" + "0" * 5000 + "]\n", "integer of more than 4300 digits"),
    ("a: 0x" + "f" * 5000 + "\n", "integer wider than 64 bits"),
    ("1" + "0" * 25 + ": a\n", "integer wider than 64 bits"),
])
def test_bounds_hold_on_the_fast_path_too(text, message):
    result = outcome(text)
    assert result == outcome(text, fast=False)
    if message is None:
        assert result[0] == "read"
    else:
        assert result[0] == "refused" and message in result[1]


# -- Hypothesis: random documents, random edits ------------------------------------------------

WORDS = st.sampled_from([s for s in SCALARS if s] + ["web", "a b", "x: y", "- z", "#c", "'q'", '"d"', "&a", "*a", "!t",
                                                     "? k", "|", ">", "%", "@", "`", "\t", "é", "\u2028", "[", "{}"])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), WORDS, st.text(max_size=12))
DATA = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(st.one_of(WORDS, st.integers()), inner, max_size=4)),
                    max_leaves=25)


@FUZZ
@given(DATA, st.sampled_from([None, True, False]), st.integers(12, 80), st.booleans())
def test_anything_pyyaml_writes_reads_back_alike(data, flow, width, unicode):
    text = yaml.safe_dump(data, default_flow_style=flow, width=width, allow_unicode=unicode, sort_keys=False)
    same_as_pyyaml(text)


PIECES = st.sampled_from([
    ": ", "- ", "? ", "\n", "\n  ", "\n- ", " ", "\t", "#", "'", '"', "[", "]", "{", "}", ",", "&a ", "*a", "!!str ",
    "|\n", ">-\n", "---\n", "...\n", "%YAML 1.1\n", "\r", "\\", "on", "no", "0755", "1e3", "0o7", "1:20", "=", "<<",
    "1" + "0" * 20, "x",
])
SMALL = [p for p in FILES if p.stat().st_size < 6000]


@FUZZ
@given(st.sampled_from(SMALL), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), PIECES), min_size=1, max_size=6))
def test_a_fixture_with_random_edits_ends_as_with_pyyaml_alone(path, edits):
    text = path.read_text()
    for where, cut, piece in edits:
        at = int(where * len(text))
        text = text[:at] + piece + text[at + cut:]
    same_as_pyyaml(text)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["a", "- a", "a:", "a: b", "- a: b", "[a, [b]]",
                                                              "{a: {b: c}}", "? a", "- - a"])), max_size=12))
def test_nesting_by_indentation_and_brackets_reads_alike(lines):
    same_as_pyyaml("".join(" " * indent + line + "\n" for indent, line in lines))


BENIGN = st.sampled_from([": ", "- ", "\n", "\n  ", "\n- ", "  ", " ", "\t", "# c", "'", '"', "''", "[", "]", "{", "}",
                          ", ", ":", "-", "|", "|-\n", ">\n", "---\n", "\\", "\\n", "x", "80", "1.5", "é", "a: b\n"])


@FUZZ
@given(st.sampled_from(SMALL), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), BENIGN), min_size=1, max_size=4))
def test_a_fixture_with_edits_the_fast_path_may_take_ends_as_with_pyyaml_alone(path, edits):
    """Edits that leave no anchor, tag or YAML 1.1 word behind: most of these texts take the fast path."""
    text = path.read_text()
    for where, cut, piece in edits:
        at = int(where * len(text))
        text = text[:at] + piece + text[at + cut:]
    same_as_pyyaml(text)


PLAIN = st.sampled_from(["web", "10.96.0.1", "80", "-1", "0.5", "128Mi", "TCP", "a b", "x-y", "k:{\"p\":80}", "f:a", "", "~",
                         "true", "null", "1.34.2", "s/t", "a#b", "7bdcb55b4d", "é", "-x", ".x", "?x", ":x", "x:y"])
QUOTED = st.sampled_from(["'on'", "'it''s'", "'a\n\n  b'", '"a\\nb"', '"\\x41\\u00e9\\/"', '"tab\\there"', "''", '""',
                          "'3156'", '"0755"', "'multi\n  line'", '"a\\\n  b"', "'#not'", '"[x]"'])
BLOCK = st.sampled_from(["|\n{i}  x\n{i}  y\n", "|-\n{i}  x\n", "|+\n{i}  x\n\n", ">\n{i}  a\n{i}  b\n\n{i}  c\n",
                         ">-\n{i}  a\n", "|2\n{i}   x\n", "|\n{i}  *nat\n{i}  :A - [0:0]\n{i}  ! -s x\n", "|\n\n{i}  x\n"])


@st.composite
def block_yaml(draw, depth=0, indent=""):
    """A block-style document of kubectl's shapes: mappings and sequences, plain, quoted and block scalars,
    flow collections, comments, sometimes a line one space off."""
    lines = []
    seq = draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        lead = indent + ("- " if seq else "") + ("" if seq and draw(st.booleans()) else
                                                draw(st.one_of(PLAIN, QUOTED)).replace("\n", " ") + ":")
        kind = draw(st.integers(0, 5 if depth < 3 else 3))
        if lead.endswith(":") or lead.endswith("- "):
            sep = "" if lead.endswith(" ") else " "
            if kind == 0:
                lines.append(lead + sep + draw(PLAIN))
            elif kind == 1:
                lines.append(lead + sep + draw(QUOTED).replace("\n", "\n" + indent + "  "))
            elif kind == 2:
                lines.append(lead + sep + draw(BLOCK).format(i=indent).rstrip("\n"))
            elif kind == 3:
                lines.append(lead + sep + draw(st.sampled_from(["{}", "[]", "[a, 1, 'b']", "{a: 1, b: [c]}", "[{a: b}]"])))
            else:
                inner = indent + ("  " if draw(st.integers(0, 9)) else " ")
                lines.append(lead + "\n" + draw(block_yaml(depth + 1, inner)).rstrip("\n"))
        else:
            lines.append(lead + draw(PLAIN))
        if draw(st.integers(0, 7)) == 0:
            lines.append(indent + "# a comment: - [x]")
    return "\n".join(lines) + "\n"


@FUZZ
@given(block_yaml(), st.sampled_from(["", "---\n", "# head\n"]), st.booleans())
def test_kubectl_shaped_documents_read_alike(body, head, crlf):
    text = head + body
    same_as_pyyaml(text.replace("\n", "\r\n") if crlf else text)


# -- the depth proof ----------------------------------------------------------------------------

def _shallow_as_it_was(text: str) -> bool:
    """The original, one regular expression and a Python loop over every bracket: the specification."""
    import re

    if re.search(rf"^[ \t-]{{{safeload.MAX_DEPTH}}}", text, re.MULTILINE):
        return False
    depth = 0
    for m in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if m.group() in "[{" else max(depth - 1, 0)
        if depth > safeload.MAX_DEPTH:
            return False
    return True


@settings(FUZZ, max_examples=400)
@given(st.lists(st.sampled_from(["[", "]", "{", "}", "{}", "[]", "[" * 40, "]" * 40, "{" * 30, "\n", " " * 33, "\t",
                                 "-", "a", "é"]), max_size=60))
def test_the_fast_depth_proof_answers_as_the_loop_did(pieces):
    text = "".join(pieces)
    assert safeload._shallow(text) == _shallow_as_it_was(text)
