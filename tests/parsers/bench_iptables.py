"""Time iptables-save parsing on a 10,000-Service kube-proxy dump. Run by hand, not by pytest:

    python tests/parsers/bench_iptables.py [N] [ROUNDS]

Prints the dump size and the best and median wall/CPU time of the parse and of the
kube-proxy resolution. CPU time is reported because shared CI machines make wall
time noisy; the tests assert correctness only.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_iptables  # noqa: E402

from kubectl_netdoctor.kubeproxy.iptables import kube_proxy_view  # noqa: E402
from kubectl_netdoctor.parsers.iptables_save import parse_iptables_save  # noqa: E402


def main(n: int = 10_000, rounds: int = 5) -> None:
    text = gen_iptables.render(gen_iptables.generate_services(n), "node-7")
    print(f"{n} Services: {len(text.splitlines())} lines, {len(text) / 1e6:.1f} MB")
    parse_wall, parse_cpu, view_wall, view_cpu = [], [], [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        dump = parse_iptables_save(text, "node-7.iptables-save")
        parse_wall.append(time.perf_counter() - w)
        parse_cpu.append(time.process_time() - c)
        w, c = time.perf_counter(), time.process_time()
        view = kube_proxy_view(dump)
        view_wall.append(time.perf_counter() - w)
        view_cpu.append(time.process_time() - c)
    rules = sum(len(ch.rules) for t in dump.tables.values() for ch in t.chains.values())
    print(f"{rules} rules, {len(view.services)} service entries, {len(view.no_endpoints)} no-endpoint rules")
    for name, wall, cpu in (("parse", parse_wall, parse_cpu), ("resolve", view_wall, view_cpu)):
        print(f"{name:8} wall best {min(wall):.3f}s median {statistics.median(wall):.3f}s | "
              f"cpu best {min(cpu):.3f}s median {statistics.median(cpu):.3f}s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
