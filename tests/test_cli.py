"""The command line end to end (typer's CliRunner): every output format and every exit code.

Cluster-access failures are produced for real: a closed port, a socket that never
answers, a missing kubeconfig. RBAC refusals need a real API server: see e2e/.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubectl_netdoctor.cli import app

FIXTURE = str(Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml")
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "test", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    return str(path)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_healthy_snapshot_exits_0(fmt):
    result = invoke("svc", "web", "-n", "shop", "--snapshot", FIXTURE, "-o", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        report = json.loads(result.stdout)
        assert report["verdict"] == "ok"
        assert report["service"] == {"namespace": "shop", "name": "web"}
    else:
        assert "verdict: OK" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_problem_exits_1(fmt):
    result = invoke("svc", "wbe", "-n", "shop", "--snapshot", FIXTURE, "-o", fmt)
    assert result.exit_code == 1
    if fmt == "json":
        report = json.loads(result.stdout)
        assert report["verdict"] == "problem"
        assert report["broken_step"] == "service"
        assert report["steps"][0]["findings"][0]["code"] == "SVC_NOT_FOUND"
    else:
        assert "SVC_NOT_FOUND" in result.stdout and "broken hop" in result.stdout


def test_namespace_defaults_to_the_one_holding_the_service_in_a_snapshot():
    result = invoke("svc", "web", "--snapshot", FIXTURE, "-o", "json")
    assert json.loads(result.stdout)["service"]["namespace"] == "shop"


@pytest.mark.parametrize("args, message", [
    (("svc", "web", "--snapshot", FIXTURE, "-o", "yaml"), "-o 'yaml': expected one of text, json"),
    (("svc", "web", "--snapshot", FIXTURE, "--external", "--from-namespace", "x"), "exclude each other"),
    (("svc", "web", "--snapshot", FIXTURE, "--from-pod", "shop/nope"), "pod shop/nope not found"),
    (("svc", "web", "--snapshot", FIXTURE, "--from-pod", "a/b/c"), "expected NS/POD or POD"),
    (("svc", "web", "--snapshot", "/nonexistent/snap.yaml"), "no such file"),
])
def test_usage_errors_exit_2_with_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.output


def test_unknown_flag_is_a_usage_error():
    assert invoke("svc", "web", "--bogus").exit_code == 2


def test_malformed_snapshot_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Service\nmetadata:\n  name: [unclosed\n")
    result = invoke("svc", "web", "--snapshot", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: bad snapshot file {bad}:")


def test_from_pod_client_is_reported():
    result = invoke("svc", "web", "-n", "shop", "--snapshot", FIXTURE, "--from-pod", "client", "-o", "json")
    assert json.loads(result.stdout)["client"] == "pod shop/client"


def test_api_server_refusing_connections_exits_3(tmp_path):
    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = invoke("svc", "web", "--kubeconfig", kubeconfig(tmp_path, f"https://127.0.0.1:{port}"))
    assert result.exit_code == 3
    assert result.stderr == f"error: cannot reach the API server https://127.0.0.1:{port}: connection refused\n"


def test_silent_api_server_times_out_within_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts (kernel backlog) but never answers the TLS handshake
    port = listener.getsockname()[1]
    try:
        start = time.monotonic()
        result = invoke("svc", "web", "--timeout", "1", "--kubeconfig", kubeconfig(tmp_path, f"https://127.0.0.1:{port}"))
        elapsed = time.monotonic() - start
    finally:
        listener.close()
    assert result.exit_code == 3
    assert "timed out after 1s" in result.stderr
    assert elapsed < 10, "must give up close to --timeout, not after retries"


def test_missing_kubeconfig_exits_3(tmp_path):
    result = invoke("svc", "web", "--kubeconfig", str(tmp_path / "absent"))
    assert result.exit_code == 3
    assert result.stderr.startswith("error: no cluster access: cannot load kubeconfig")


def test_help_does_not_import_the_kubernetes_client():
    code = ("import sys; from kubectl_netdoctor.cli import app\n"
            "from typer.testing import CliRunner\n"
            "r = CliRunner().invoke(app, ['svc', '--help']); assert r.exit_code == 0, r.output\n"
            "bad = [m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("kubectl-netdoctor ")


def test_malformed_capture_file_exits_2_naming_file_and_line(tmp_path):
    (tmp_path / "cluster.yaml").write_text(Path(FIXTURE).read_text())
    capture = tmp_path / "node-1.iptables-save"
    capture.write_text("*nat\n:PREROUTING ACCEPT [0:0]\n-A KUBE-SERVICES -d 10.96.141.22/32 -p tcp --dport 80 -j\n")
    result = invoke("svc", "web", "-n", "shop", "--snapshot", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: bad snapshot file {capture}:3: ")
