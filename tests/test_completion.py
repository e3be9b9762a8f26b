"""``kubectl_complete-netdoctor``: what kubectl's plugin completion (1.26+) gets for the words typed.

kubectl runs the executable with the words after ``kubectl netdoctor``, the last one the word to
complete, and reads cobra's ``__complete`` answer: one completion a line, then ``:<directive>``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_bad_input import from_snapshot, kubeconfig, serving, silent

from kubectl_netdoctor.complete import FILE_COMPLETION, NO_FILE_COMPLETION, complete

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"
SLOW = 30.0  # a loaded CI machine: the lookups' own bound is tested apart


def names(words: list[str], timeout: float = SLOW) -> tuple[list[str], int]:
    found, directive = complete(words, timeout)
    return [c.split("\t")[0] for c in found], directive


def test_the_console_script_is_declared_for_kubectl_to_find():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kubectl_complete-netdoctor"] == "kubectl_netdoctor.complete:main"


def test_the_executable_answers_in_cobras_format():
    proc = subprocess.run([sys.executable, "-m", "kubectl_netdoctor.complete", "s"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.splitlines()[-1] == ":4"
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()[:-1]] == ["svc", "scan", "snapshot"]
    assert proc.stdout.splitlines()[0] == "svc\tDiagnose why Service NAME is unreachable"


def test_subcommands():
    assert names([""]) == (["svc", "url", "ingress", "route", "scan", "snapshot", "cleanup"], NO_FILE_COMPLETION)
    assert names(["cl"]) == (["cleanup"], NO_FILE_COMPLETION)
    assert names(["bogus", ""]) == ([], NO_FILE_COMPLETION)


def test_flags_of_each_subcommand():
    svc, _ = names(["svc", "--"])
    assert {"--namespace", "--snapshot", "--port", "--wait", "--output", "--help"} <= set(svc)
    assert "--all-namespaces" not in svc
    scan, _ = names(["scan", "web", "--a"])
    assert scan == ["--all-namespaces"]
    assert names(["svc", "web", "-"])[0][:3] == ["--port", "-n", "--namespace"]


def test_flag_values():
    assert names(["svc", "web", "-o", ""]) == (["json", "junit", "text"], NO_FILE_COMPLETION)
    assert names(["scan", "--output=j"]) == (["--output=json", "--output=junit"], NO_FILE_COMPLETION)
    assert names(["svc", "web", "--snapshot", ""]) == ([], FILE_COMPLETION)  # the shell completes paths
    assert names(["snapshot", "-o", ""]) == ([], FILE_COMPLETION)
    assert names(["svc", "web", "--timeout", ""]) == ([], NO_FILE_COMPLETION)


def test_service_names_from_a_snapshot():
    snap = str(EXAMPLES / "selector-typo.yaml")
    assert names(["svc", "--snapshot", snap, ""]) == (["kube-dns", "web"], NO_FILE_COMPLETION)
    assert names(["svc", "--snapshot", snap, "-n", "selector-typo", "w"]) == (["web"], NO_FILE_COMPLETION)
    assert names(["svc", "web", "--snapshot", snap, ""]) == ([], NO_FILE_COMPLETION)  # NAME is given
    spaces, _ = names(["scan", "--snapshot", str(EXAMPLES), "-n", "n"])
    assert spaces == ["not-ready"]


def test_ingress_and_route_names_from_a_snapshot():
    assert names(["ingress", "--snapshot", str(EXAMPLES / "ingress-wrong-port.yaml"), ""]) == (["web"],
                                                                                                NO_FILE_COMPLETION)
    assert names(["route", "-n", "route-not-allowed", "--snapshot", str(EXAMPLES / "route-not-allowed.yaml"),
                  "w"]) == (["web"], NO_FILE_COMPLETION)
    assert names(["url", "--snapshot", str(EXAMPLES / "route-not-allowed.yaml"), ""]) == ([], NO_FILE_COMPLETION)


def test_service_names_and_namespaces_from_the_cluster(tmp_path):
    with serving(from_snapshot(yaml.safe_load(FIXTURE.read_text())["items"])) as server:
        kc = kubeconfig(tmp_path, server.url)
        assert names(["svc", "--kubeconfig", kc, ""]) == (["web"], NO_FILE_COMPLETION)  # the context's namespace
        assert names(["svc", "--kubeconfig", kc, "-n", "kube-system", "k"]) == (["kube-dns"], NO_FILE_COMPLETION)
        assert names(["scan", "--kubeconfig", kc, "-n", ""])[0] == ["default", "kube-system", "shop"]
    assert names(["svc", "--kubeconfig", kc, "--context", ""]) == (["test"], NO_FILE_COMPLETION)


def test_a_silent_cluster_costs_at_most_the_lookup_bound_and_completes_nothing(tmp_path):
    import time

    with serving(silent) as server:
        start = time.monotonic()
        found = complete(["svc", "--kubeconfig", kubeconfig(tmp_path, server.url), ""], 1.0)
        assert found == ([], NO_FILE_COMPLETION)
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("words", [["svc", "--kubeconfig", "/nonexistent", ""], ["svc", "--snapshot", "/nope", ""]])
def test_no_cluster_or_no_snapshot_completes_nothing_and_says_nothing(words):
    proc = subprocess.run([sys.executable, "-m", "kubectl_netdoctor.complete", *words], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, ":4\n", "")
