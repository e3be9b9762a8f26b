"""Print the README's scenario table from the last e2e run (e2e/results/*.json, or $NETDOCTOR_E2E_RESULTS)."""

from __future__ import annotations

import json
import os
from pathlib import Path

RESULTS = Path(os.environ.get("NETDOCTOR_E2E_RESULTS", Path(__file__).resolve().parents[1] / "results"))


def main() -> None:
    # scenario results only: other e2e tests leave their own records here (audit-proof.json, ci_example.json)
    rows = [r for r in (json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))) if "scenario" in r]
    nft = {p.stem: json.loads(p.read_text()) for p in sorted((RESULTS / "nftables").glob("*.json"))}
    print("| scenario | command | what is broken | expected | got (kube-proxy iptables mode): verdict, broken step, "
          "findings (warning and up) | s | nftables mode |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        exp = r["expected"]
        ok = passed(r)
        shown = r.get("alerts", r["codes"])
        cause = f" (cause {r['cause']})" if r.get("cause") else ""
        got = f"{'✅' if ok else '❌'} {r['verdict']}, {r['broken_step'] or '-'}{cause}: {', '.join(shown) or 'none'}"
        expected = f"{exp['verdict']}, {exp['broken_step'] or '-'}" + (f" (cause {exp['cause']})" if exp.get("cause") else "")
        other = nft.get(r["scenario"])
        in_nft = "not run" if other is None else ("✅" if passed(other) else "❌") + f" {other['seconds']} s"
        # records of runs before scenarios could name an Ingress, a route or a URL: svc
        command = r.get("command") or "svc"
        print(f"| `{r['scenario']}` | `{command}` | {r['description']} | {expected} | {got} | {r['seconds']} | {in_nft} |")


def passed(r: dict) -> bool:
    exp = r["expected"]
    return r["verdict"] == exp["verdict"] and r["broken_step"] == exp["broken_step"] \
        and set(exp["codes"]) <= set(r["codes"]) and exp.get("cause", r.get("cause")) == r.get("cause")


if __name__ == "__main__":
    main()
