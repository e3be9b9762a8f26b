"""Print the README's scenario table from the last e2e run (e2e/results/*.json, or $NETDOCTOR_E2E_RESULTS)."""

from __future__ import annotations

import json
import os
from pathlib import Path

RESULTS = Path(os.environ.get("NETDOCTOR_E2E_RESULTS", Path(__file__).resolve().parent / "results"))


def main() -> None:
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    print("| scenario | what is broken | expected | got: verdict, broken step, findings (warning and up) | s |")
    print("|---|---|---|---|---|")
    for r in rows:
        exp = r["expected"]
        ok = r["verdict"] == exp["verdict"] and r["broken_step"] == exp["broken_step"] \
            and set(exp["codes"]) <= set(r["codes"])
        shown = r.get("alerts", r["codes"])
        got = f"{'✅' if ok else '❌'} {r['verdict']}, {r['broken_step'] or '-'}: {', '.join(shown) or 'none'}"
        expected = f"{exp['verdict']}, {exp['broken_step'] or '-'}"
        print(f"| `{r['scenario']}` | {r['description']} | {expected} | {got} | {r['seconds']} |")


if __name__ == "__main__":
    main()
