"""docs/codes.md is the finding-code catalogue (kubectl_netdoctor/codes.py) as docs/gen_codes.py writes it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kubectl_netdoctor.codes import CATALOGUE

REPO = Path(__file__).resolve().parent.parent
GENERATOR = REPO / "docs" / "gen_codes.py"
CODES_DOC = REPO / "docs" / "codes.md"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_codes", GENERATOR)
    assert spec and spec.loader, f"cannot load {GENERATOR}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_codes_doc_is_up_to_date() -> None:
    gen = _generator()
    assert CODES_DOC.exists(), f"docs/codes.md is missing; generate it: {gen.REGENERATE}"
    assert CODES_DOC.read_text() == gen.render(), (
        f"docs/codes.md is out of date with kubectl_netdoctor/codes.py; regenerate it: {gen.REGENERATE}")


def test_codes_doc_lists_every_code_once() -> None:
    text = _generator().render()
    for code in CATALOGUE:
        assert text.count(f"| `{code}` |") == 1, code


def test_readme_links_the_codes_doc() -> None:
    assert "(docs/codes.md)" in (REPO / "README.md").read_text()
