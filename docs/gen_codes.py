"""Write docs/codes.md, the finding-code reference, from the catalogue in kubectl_netdoctor/codes.py.

    .venv/bin/python docs/gen_codes.py > docs/codes.md

tests/test_codes_doc.py fails when docs/codes.md and the catalogue differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

REGENERATE = ".venv/bin/python docs/gen_codes.py > docs/codes.md"

HEADER = f"""\
# Finding codes

<!-- Generated from kubectl_netdoctor/codes.py by docs/gen_codes.py: do not edit by hand.
     Regenerate with: {REGENERATE} -->

Every finding in a report carries one of these codes (`findings[].code` in the JSON, the
`type` of a JUnit `<failure>`). Codes are stable: they are never renamed, so runbooks and
alerts can key off them. The severity is the catalogue's default; a step may report a
finding at another severity where its evidence says so (for example, a live connect that
contradicts the node's rules turns the rule findings into info).

Severities: **error** breaks the Service and makes the verdict `problem` (exit 1);
**warning** may break it; **info** is context, a one-line note in the text report (its
evidence shown with `-v`). Step `any` means any step may report the code.
"""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (``<pending>`` is not an HTML tag, ``|`` is not a column)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render() -> str:
    """The whole of docs/codes.md: one table per step, in the catalogue's (flowchart) order."""
    from kubectl_netdoctor.codes import CATALOGUE

    by_step: dict[str, list] = {}
    for entry in CATALOGUE.values():  # a dict keeps the catalogue's order
        by_step.setdefault(entry.step, []).append(entry)
    parts = [HEADER]
    for step, entries in by_step.items():
        parts.append(f"\n## `{step}`\n\n| code | default severity | meaning |\n|---|---|---|\n")
        parts.extend(f"| `{e.code}` | {e.severity.value} | {_cell(e.title)} |\n" for e in entries)
    return "".join(parts)


def main() -> None:
    # Also runnable without the package installed: import it from this checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
