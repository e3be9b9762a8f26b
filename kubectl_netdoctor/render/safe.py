"""Output that cannot be turned against the reader or break on the way out.

Names, event messages and probe output come from the cluster (or from a snapshot file): free text.
Before any of it reaches a terminal, a CI log or a JUnit attribute, :func:`printable` spells out
what a terminal would act on instead of show (ESC sequences, NUL, carriage returns, bidi overrides,
zero-width characters, lone surrogates). :class:`SafeStream` keeps a report from dying on a stdout
that cannot encode a character (an ASCII or Latin-1 locale): the character is written escaped.
:func:`valid_unicode` makes a string encodable as UTF-8 for the JSON and the JUnit document.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, TextIO

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control and format characters (ESC, NUL, CR, bidi overrides, zero-width), lone surrogates,
private-use and unassigned code points, line and paragraph separators."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as Python's surrogateescape holds it
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on spelled out (``ESC[31m`` -> ``\\x1b[31m``,
    NUL -> ``\\x00``, a newline -> ``\\x0a``, the non-UTF-8 byte 0xe9 of a file name -> ``\\xe9``), so one
    line stays one line and shows what it holds."""
    if text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)


def valid_unicode(text: str) -> str:
    """``text`` with each lone surrogate (a non-UTF-8 byte of a file name, a bad ``\\udcxx`` escape in
    a snapshot) replaced by U+FFFD, so that it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text


class SafeStream:
    """A text stream whose ``write`` never raises UnicodeEncodeError: what the stream's encoding cannot
    carry is written as a backslash escape (``\\xe9``, ``\\u2192``). Everything else is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            return self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
