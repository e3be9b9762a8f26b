"""The fast YAML path: a YAML 1.2 parser in Rust, used only where it provably reads a text as PyYAML does.

PyYAML through libyaml builds Python objects in Python: about 2 MB/s, 12 s for the 19 MB that
``kubectl get -o yaml`` prints for 5,000 Services. fastyaml-rs (``fast_yaml``) builds them in Rust,
more than ten times faster. The two disagree on purpose in a few places, since PyYAML reads YAML
1.1 and fast_yaml YAML 1.2:

* plain scalars: ``on``/``off``/``yes``/``no`` are booleans in 1.1 and strings in 1.2; ``0755`` is
  octal in 1.1 and decimal in 1.2, ``0o755`` the reverse; ``1e3`` and ``-.5`` are floats in 1.2 and
  strings in 1.1; ``0b101``, ``1_000`` and ``1:20`` (sexagesimal) are integers in 1.1 only; PyYAML
  refuses ``=``; the merge key ``<<`` merges in 1.1 only;
* tags and anchors: other tags, and PyYAML's own bounds on what aliases expand to;
* text: NEL and the Unicode line separators are line breaks in 1.1 only, a lone CR too; a
  byte-order mark is skipped by PyYAML; a block scalar that ends the text without a line break
  keeps none in PyYAML and gets one in fast_yaml;
* layout: an empty key (``: a``), a document that is a block scalar, a tab in the indentation or
  after ``-``: PyYAML refuses them, YAML 1.2 reads them;
* directives (``%YAML 1.1``) and document end markers (``...``), kept away for simplicity.

:func:`load_all` answers only for a text it can vouch for, and ``None`` for any other (the caller
then takes the PyYAML path, which also words every error and names its line):

1. the text has none of the constructs above. Whitespace-separated words are collected once (in C:
   ``bytes.split``), and every distinct word that *might* be a plain scalar read differently (a
   number in any notation but plain decimal, a YAML 1.1 boolean, ``=``, ``<<``) is read alone by
   both parsers; where they disagree, the text is vetoed if the word stands anywhere a plain scalar
   can (after indentation, ``- ``, ``? ``, ``:`` or a flow indicator, and before the end of the line,
   a comment, ``: `` or a flow indicator). A quoted ``'on'`` is no plain scalar and does not count;
2. no number is written in more than :data:`LONGEST_NUMBER` characters, so none is wider than 63
   bits (a wider one, or one of more than 4,300 digits, gets PyYAML's refusal and line);
3. fast_yaml parses it without error and within ``max_depth`` (its depth limit counts nested
   collections as :func:`~kubectl_netdoctor.parsers.safeload.check_bounds` does; an error or a
   deeper text goes to PyYAML for its wording).

No anchor means no alias (fast_yaml refuses an alias to nothing, as PyYAML does), so nothing
expands. ``kubectl get -o yaml`` and ``kubectl netdoctor snapshot`` output pass; a hand-written file
with anchors or YAML 1.1 booleans takes the PyYAML path, as before. Pure: text in, data or None out.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

LONGEST_NUMBER = 18
"""Characters: any integer written in 18 (sign, ``0x`` and underscores included) fits in 63 bits."""

# -- text the fast path does not read ----------------------------------------------------------

_C0 = bytes(set(range(0x20)) - {0x09, 0x0A, 0x0D}) + b"\x7f"
_NOT_C0 = bytes(set(range(256)) - set(_C0))
_NON_ASCII = re.compile(
    rb"\xc2[\x80-\x9f]"  # C1 controls, NEL among them (a line break to PyYAML)
    rb"|\xe2\x80[\xa8\xa9]"  # LINE and PARAGRAPH SEPARATOR (line breaks to PyYAML)
    rb"|\xef(?:\xbb\xbf|\xbf[\xbe\xbf])"  # a byte-order mark, U+FFFE, U+FFFF
)
_SPLIT = bytes.maketrans(b"[]{},\"'", b"       ")
"""Flow indicators and quotes separate words too: ``[0755]`` and ``"a":0755`` hold the word ``0755``."""

_DOUBTFUL = re.compile(
    rb"(?:[Yy]es|YES|[Nn]o|NO|[Oo]n|ON|[Oo]ff|OFF|=|<<)"  # YAML 1.1's other booleans, PyYAML's value and merge keys
    rb"|[-+]?[0-9._](?:[0-9a-fA-FxXoObBiInN_.:]|(?<=[eE])[-+])*"  # whatever either parser may read as a number
)
"""A word that either parser may read as something other than a string. Letters are limited to
those a number can hold in either (hex digits, radix prefixes, ``inf``, ``nan``): ``128Mi``, ``100m``,
``30s`` and UIDs are not doubtful."""
_NUMBER_LIKE = re.compile(rb"[-+]?(?:0[xXoObB][0-9a-fA-F_]+|[0-9_.:]*[0-9][0-9_.:]*(?:[eE][-+]?[0-9_]+)?)")
"""Every word either parser reads as an integer or a float, and more (a machine ID of hex digits is not)."""
_AGREED = re.compile(
    rb"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"  # 80, -1, 0.5: the same number in both
    rb"|[0-9]+(?:\.[0-9]+){2,}|\."  # 10.96.0.1, 1.34.2, ``.``: strings in both
    rb"|(?!0[xXoObB])[0-9][0-9a-zA-Z]*[a-dA-Df-zF-Z][0-9a-zA-Z]*"  # 7bdcb55b4d: a letter no number holds
    rb"|[^:]*\.[^:]*:.*|.*:(?:[^0-9]|[0-9]{3}).*"  # 127.0.0.1:10249, .:53, 2001:db8::1: no sexagesimal
)
"""Doubtful words both parsers read alike, the common ones, as strings or as the same number; asking
both parsers about them would only cost time (and the import of PyYAML)."""
_DOCUMENT_HEAD = re.compile(rb"(?:---)?(?:[ \t]*(?:#[^\n]*)?(?:\r?\n|$))*[ \t]*")
"""From a document's start to its first token: a ``---`` marker, blank and comment lines, indentation."""
_DIFFERENT = frozenset(b"yes Yes YES no No NO on On ON off Off OFF = <<".split())
"""Doubtful words known to be read differently: YAML 1.1's booleans, PyYAML's value and merge keys."""

_AFTER = re.compile(rb"[ \t]*(?:[#,\]}\r\n]|:(?:[ \t\r\n]|$)|$)", re.MULTILINE)
"""What may follow a plain scalar's last character."""


def load_all(text: str, reference: Callable[[str], list[Any]], max_depth: int) -> list[Any] | None:
    """Every document of a YAML stream as ``reference`` (PyYAML's loader) reads it, or ``None``
    where this path cannot vouch for that (see the module docstring). ``reference`` reads the few
    doubtful words, one at a time; ``max_depth`` is the deepest nesting of collections accepted."""
    parse = _parser()
    if parse is None or not text.endswith("\n"):
        return None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if _vetoed(data, reference):
        return None
    try:
        return list(parse(text, max_depth=max_depth, max_scan_ahead=min(max(len(text), 1), 1 << 30)))
    except Exception:  # noqa: BLE001 - any refusal (or fast_yaml's own limits) is PyYAML's to word
        return None


def _vetoed(data: bytes, reference: Callable[[str], list[Any]]) -> bool:
    if data.translate(None, _NOT_C0) or data.count(b"\r") != data.count(b"\r\n"):
        return True
    if not data.isascii() and _NON_ASCII.search(data):
        return True
    if data.startswith((b"%", b"...")) or b"\n%" in data or _marks(data, b"\n...", b" \t\r\n"):
        return True
    if b"\t" in data and _tab_before_a_token(data):
        return True
    raw = set(data.translate(_SPLIT).split())
    words = {w.strip(b":") for w in raw}  # "a": 0755 and {"a":0755} hold the word 0755
    firsts = {w[:1] for w in words}  # an anchor, a tag or an explicit key starts a word
    if any(c in firsts and _node_property(data, c) for c in (b"&", b"!", b"?")):
        return True
    if b":" in raw and _empty_key(data):
        return True
    if (b"|" in firsts or b">" in firsts) and _root_block_scalar(data):
        return True
    for word in words:
        if not _DOUBTFUL.fullmatch(word):
            continue
        if len(word) > LONGEST_NUMBER and _NUMBER_LIKE.fullmatch(word):  # too wide, or PyYAML refuses it
            return True
        differs = word in _DIFFERENT or not (_AGREED.fullmatch(word) or _same_in_both(word.decode("ascii"), reference))
        if differs and _stands_alone(data, word):
            return True
    return False


def _root_block_scalar(data: bytes) -> bool:
    """A document that is a block scalar (its first token ``|`` or ``>``): PyYAML wants the lines that
    follow indented deeper than the indicator, fast_yaml reads the lines in column 0 into it."""
    starts = [0] + [at + 1 for at in _positions(data, b"\n---")]
    return any(data[end:end + 1] in (b"|", b">") for end in (_DOCUMENT_HEAD.match(data, at).end() for at in starts))


def _positions(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def _empty_key(data: bytes) -> bool:
    """A ``:`` with nothing before it where a key may begin (``: a``, ``- : a``, ``{: a}``): an empty key
    to YAML 1.2, an error to PyYAML."""
    if data.startswith(b":") and data[1:2] in (b"", b" ", b"\t", b"\r", b"\n"):
        return True
    for before in (b" ", b"\t", b"\n", b"[", b"{", b",", b":"):
        at = data.find(before + b":")
        while at >= 0:
            if _starts_scalar(data, at + 1) and data[at + 2:at + 3] in (b"", b" ", b"\t", b"\r", b"\n"):
                return True
            at = data.find(before + b":", at + 1)
    return False


def _tab_before_a_token(data: bytes) -> bool:
    """A tab in a line's indentation, or between an indicator (``-``, ``?``, ``:``) and what follows:
    libyaml refuses most of these, YAML 1.2 allows some. A tab inside text is no concern."""
    for at in _positions(data, b"\t"):
        k = at - 1
        while k >= 0 and data[k] in b" \t-?:":
            k -= 1
        if k < 0 or data[k] in b"\r\n":
            return True
    return False


def _marks(data: bytes, mark: bytes, then: bytes) -> bool:
    """``mark`` (which starts with a line break) occurs, followed by one of ``then`` or the end."""
    at = data.find(mark)
    while at >= 0:
        end = at + len(mark)
        if end == len(data) or data[end] in then:
            return True
        at = data.find(mark, at + 1)
    return False


def _node_property(data: bytes, indicator: bytes) -> bool:
    """An anchor (``&``), a tag (``!``) or an explicit key (``? ``) where a node may begin."""
    at = data.find(indicator)
    while at >= 0:
        if _starts_scalar(data, at) and (indicator != b"?" or data[at + 1:at + 2] in (b"", b" ", b"\t", b"\r", b"\n")):
            return True
        at = data.find(indicator, at + 1)
    return False


def _starts_scalar(data: bytes, at: int) -> bool:
    """A node may begin at ``at``: after the indentation, after ``- ``, ``? `` or ``:`` (a space
    between or not), or inside a flow collection. Over-approximate, as it cannot see quotes: a false
    yes only sends the text down the PyYAML path."""
    k = at - 1
    while k >= 0 and data[k] in b" \t":
        k -= 1
    if k < 0 or data[k] in b"\n\r[{,:":
        return True
    return data[k] in b"-?" and k < at - 1


def _stands_alone(data: bytes, word: bytes) -> bool:
    """``word`` occurs somewhere as a whole plain scalar (see :func:`_starts_scalar` and ``_AFTER``).
    The pattern starts with the word itself, so the regular expression engine skips to its
    occurrences at C speed (a look-behind first would make it try every position)."""
    ends = re.compile(re.escape(word) + b"(?=" + _AFTER.pattern + b")", re.MULTILINE)
    return any(_starts_scalar(data, m.start()) for m in ends.finditer(data))


@functools.lru_cache(maxsize=4096)
def _same_in_both(word: str, reference: Callable[[str], list[Any]]) -> bool:
    """Both parsers read this plain scalar alike: same type, same value."""
    parse = _parser()
    doc = f"- {word}\n"
    try:
        ours, theirs = reference(doc), list(parse(doc)) if parse else None
    except Exception:  # noqa: BLE001 - either refusing it is a disagreement
        return False
    if not (ours and theirs and isinstance(ours[0], list) and isinstance(theirs[0], list)):
        return False
    a, b = ours[0][0], theirs[0][0]
    if type(a) is not type(b):
        return False
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    """fast_yaml's ``safe_load_all``, or None where fastyaml-rs is not installed (a platform without
    its wheel: the PyYAML path serves, as before)."""
    try:
        import fast_yaml  # type: ignore[import-not-found]
    except ImportError:
        return None
    return fast_yaml.safe_load_all
