"""The command line end to end (typer's CliRunner): every output format and every exit code.

Cluster-access failures are produced for real: a closed port, a socket that never
answers, a missing kubeconfig. RBAC refusals need a real API server: see e2e/.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
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


NOT_READY = str(Path(__file__).parent.parent / "examples" / "not-ready.yaml")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_problem_exits_1(fmt):
    result = invoke("svc", "web", "-n", "not-ready", "--snapshot", NOT_READY, "-o", fmt)
    assert result.exit_code == 1
    if fmt == "json":
        report = json.loads(result.stdout)
        assert report["verdict"] == "problem"
        assert report["broken_step"] == "endpoints"
        assert report["steps"][1]["findings"][0]["code"] == "EP_NO_READY_ADDRESSES"
    else:
        assert "EP_NO_READY_ADDRESSES" in result.stdout and "broken hop" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_a_service_that_does_not_exist_is_a_usage_error_in_every_format(fmt):
    """Not a 16-line report that exits 1: one line, exit 2, and the name meant."""
    result = invoke("svc", "wbe", "-n", "shop", "--snapshot", FIXTURE, "-o", fmt)
    assert (result.exit_code, result.stderr) == (2, "error: Service wbe not found in namespace shop; did you mean web?\n")
    # stdout: nothing, but JUnit's reader gets a testcase with that error (tests/test_junit.py)
    assert (result.stdout == "") == (fmt != "junit"), result.stdout


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


# -- argument errors: one line on stderr, exit 2, whatever the mistake -------------------------------------

DNS1035 = "not a valid Service name (DNS-1035 label: lowercase letters, digits and '-', starting with a letter, at most 63)"
DNS1123 = "not a valid namespace (DNS-1123 label: lowercase letters, digits and '-', at most 63)"
POD = "not a valid pod name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253)"
OFFLINE = "a snapshot is read offline, with no cluster and no probe"


@pytest.mark.parametrize("args, stderr", [
    # what typer/click catch while parsing (it would draw a boxed multi-line panel)
    (("svc",), "error: Missing argument 'NAME' (see 'kubectl netdoctor svc --help')"),
    (("svc", "web", "--bogus"), "error: No such option: --bogus (Possible options: --verbose) "
                                "(see 'kubectl netdoctor svc --help')"),
    (("svc", "web", "-n"), "error: Option '-n' requires an argument (see 'kubectl netdoctor --help')"),
    (("svc", "web", "--timeout", "soon"), "error: Invalid value for '--timeout': 'soon' is not a valid float "
                                          "(see 'kubectl netdoctor svc --help')"),
    (("bogus",), "error: No such command 'bogus' (see 'kubectl netdoctor --help')"),
    (("snapshot",), "error: Missing option '-o' / '--output' (see 'kubectl netdoctor snapshot --help')"),
    # --timeout that parses but means nothing
    (("svc", "web", "--timeout", "0"), "error: --timeout 0: expected a number of seconds, at least 0.1"),
    (("svc", "web", "--timeout", "-5"), "error: --timeout -5: expected a number of seconds, at least 0.1"),
    (("svc", "web", "--timeout", "nan"), "error: --timeout nan: expected a number of seconds, at least 0.1"),
    (("svc", "web", "--timeout", "inf"), "error: --timeout inf: expected a number of seconds, at least 0.1"),
    (("snapshot", "-o", "s.yaml", "--timeout", "nan"), "error: --timeout nan: expected a number of seconds, at least 0.1"),
    (("svc", "web", "-o", "yaml"), "error: -o 'yaml': expected one of text, json, junit"),
    (("scan", "-n", "shop", "--timeout", "nan"), "error: --timeout nan: expected a number of seconds, at least 0.1"),
    (("scan", "-n", ""), "error: -n '': must not be empty"),
    (("scan", "-l", ""), "error: -l '': must not be empty"),
    (("scan", "--snapshot", FIXTURE, "--context", "prod"), f"error: --snapshot cannot be combined with --context: {OFFLINE}"),
    (("scan", "-n", "shop", "--http-path", "/a\r\n"), "error: --http-path '/a\\r\\n': control characters "
                                                      "(CR, LF, tab ...) are not allowed"),
    (("cleanup", "-n", "Shop"), f"error: -n 'Shop': {DNS1123}"),
    (("cleanup", "--timeout", "0"), "error: --timeout 0: expected a number of seconds, at least 0.1"),
    # names the API server would refuse are refused, not looked up
    (("svc", "Web"), f"error: NAME 'Web': {DNS1035}"),
    (("svc", "1web"), f"error: NAME '1web': {DNS1035}"),
    (("svc", "w" * 300), f"error: NAME '{'w' * 67}...': {DNS1035}"),
    (("svc", "web;rm -rf ~"), f"error: NAME 'web;rm -rf ~': {DNS1035}"),
    (("svc", "web", "-n", "Shop"), f"error: -n 'Shop': {DNS1123}"),
    (("svc", "web", "--from-namespace", "a_b"), f"error: --from-namespace 'a_b': {DNS1123}"),
    (("svc", "web", "--from-pod", "shop/Client"), f"error: --from-pod 'Client': {POD}"),
    (("svc", "web", "--from-pod", "a/b/c"), "error: --from-pod 'a/b/c': expected NS/POD or POD"),
    (("svc", "web", "--port", "0"), "error: --port '0': a port number is 1-65535"),
    (("svc", "web", "--port", "HTTP"), "error: --port 'HTTP': expected a port number or a Service port name"),
    (("snapshot", "-o", "s.yaml", "-n", "UPPER"), f"error: -n 'UPPER': {DNS1123}"),
    # empty values no longer mean "not given"
    (("svc", "web", "--snapshot", ""), "error: --snapshot '': must not be empty"),
    (("svc", "web", "-n", ""), "error: -n '': must not be empty"),
    (("svc", "web", "--from-pod", ""), "error: --from-pod '': must not be empty"),
    (("svc", "web", "--context", ""), "error: --context '': must not be empty"),
    (("svc", "web", "--kubeconfig", " "), "error: --kubeconfig ' ': must not be empty"),
    (("svc", "web", "--probe-image", ""), "error: --probe-image '': must not be empty"),
    (("snapshot", "-o", ""), "error: -o '': must not be empty"),
    # the HTTP path goes into a hand-written request line
    (("svc", "web", "--http-path", "/a\r\nHost: evil"), "error: --http-path '/a\\r\\nHost: evil': control characters "
                                                       "(CR, LF, tab ...) are not allowed"),
    (("svc", "web", "--http-path", "/a\nb"), "error: --http-path '/a\\nb': control characters (CR, LF, tab ...) "
                                            "are not allowed"),
    (("svc", "web", "--http-path", "healthz"), "error: --http-path 'healthz': must start with '/'"),
    (("svc", "web", "--http-path", "/a b"), "error: --http-path '/a b': spaces are not allowed (encode them as %20)"),
    # flags that contradict each other
    (("svc", "web", "--snapshot", FIXTURE, "--context", "prod"), f"error: --snapshot cannot be combined with --context: {OFFLINE}"),
    (("svc", "web", "--snapshot", FIXTURE, "--kubeconfig", "k"), f"error: --snapshot cannot be combined with --kubeconfig: {OFFLINE}"),
    (("svc", "web", "--snapshot", FIXTURE, "--node-access"), f"error: --snapshot cannot be combined with --node-access: {OFFLINE}"),
    (("svc", "web", "--snapshot", FIXTURE, "--probe-image", "busybox"),
     f"error: --snapshot cannot be combined with --probe-image: {OFFLINE}"),
    (("svc", "web", "--snapshot", FIXTURE, "--node-access", "--node-image", "i"),
     f"error: --snapshot cannot be combined with --node-access, --node-image: {OFFLINE}"),
    (("svc", "web", "--node-image", "i"), "error: --node-image needs --node-access (it is the image of the --node-access pod)"),
    (("snapshot", "-o", "s.yaml", "-n", "shop", "-A"), "error: -n and -A exclude each other"),
])
def test_argument_errors_are_one_line_exit_2(args, stderr):
    result = invoke(*args)
    assert (result.exit_code, result.stderr) == (2, stderr + "\n")
    assert result.stdout == ""


def test_read_only_with_a_snapshot_is_harmless_and_allowed():
    assert invoke("svc", "web", "-n", "shop", "--snapshot", FIXTURE, "--read-only").exit_code == 0


def test_bare_command_still_prints_the_help():
    result = invoke()
    assert result.exit_code == 2 and "Usage" in result.stdout and result.stderr == ""


def test_argument_error_through_the_console_script_entry_is_one_line():
    """main() as installed, in a fresh interpreter: no panel, no traceback."""
    proc = subprocess.run([sys.executable, "-c", "from kubectl_netdoctor.entry import main; main()", "svc", "web",
                           "--timeout", "nan", "--bogus"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "error: No such option: --bogus (Possible options: --verbose) (see 'kubectl netdoctor svc --help')\n"


def test_ctrl_c_while_the_cli_is_imported_is_one_line_exit_130():
    """The console script's first 0.1 s imports typer: a KeyboardInterrupt there (raised here by an import
    hook, as Ctrl-C would) ends in 'interrupted' and 130, like one anywhere later."""
    hook = ("import sys\n"
            "class Interrupt:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'typer':\n"
            "            raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, Interrupt())\n"
            "from kubectl_netdoctor.entry import main; main()\n")
    proc = subprocess.run([sys.executable, "-c", hook, "svc", "web"], capture_output=True, text=True)
    assert (proc.returncode, proc.stderr) == (130, "interrupted\n")


# -- a malformed object in a snapshot: exit 2 if the diagnosis needs it, else a note ------------------------

def _snapshot(tmp_path, mutate):
    items = yaml.safe_load(Path(FIXTURE).read_text())["items"]
    mutate({(i["kind"], i["metadata"]["name"]): i for i in items})
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return f


def test_malformed_service_under_diagnosis_exits_2_naming_file_object_and_field(tmp_path):
    f = _snapshot(tmp_path, lambda o: o["Service", "web"]["spec"]["ports"][0].update(port=None))
    result = invoke("svc", "web", "-n", "shop", "--snapshot", str(f))
    assert (result.exit_code, result.stderr) == (
        2, f"error: bad snapshot file {f}: Service shop/web: spec.ports[0].port: expected an integer 1-65535, got null\n")


def test_malformed_from_pod_exits_2(tmp_path):
    f = _snapshot(tmp_path, lambda o: o["Pod", "client"]["metadata"].update(labels=["app=client"]))
    result = invoke("svc", "web", "-n", "shop", "--snapshot", str(f), "--from-pod", "client")
    assert (result.exit_code, result.stderr) == (
        2, f"error: bad snapshot file {f}: Pod shop/client: metadata.labels: expected a mapping of strings, got a list\n")


def test_malformed_object_elsewhere_is_a_note_on_the_step_that_read_it(tmp_path):
    f = _snapshot(tmp_path, lambda o: o["Pod", "client"]["spec"]["containers"].append(None))
    result = invoke("svc", "web", "-n", "shop", "--snapshot", str(f), "-o", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    notes = {s["id"]: f for s in report["steps"] for f in s["findings"] if f["code"] == "INPUT_OBJECT_IGNORED"}
    assert notes["selectors"] == {
        "code": "INPUT_OBJECT_IGNORED", "severity": "warning",
        "message": "Pod shop/client is malformed and was left out of what this step read, so its result does not "
                   "account for it: spec.containers[1]: null",
        "evidence": [f"Pod shop/client in {f}: spec.containers[1]: null"],
        "fix": f"fix or remove it in {f} (`kubectl get -o yaml` prints well-formed objects)"}
    assert next(s for s in report["steps"] if s["id"] == "selectors")["status"] == "warn"


def test_malformed_object_no_step_reads_is_one_info_note(tmp_path):
    items = yaml.safe_load(Path(FIXTURE).read_text())["items"]
    items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": "elsewhere"},
                  "spec": {"ports": [{"port": "eighty"}]}})
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    result = invoke("svc", "web", "-n", "shop", "--snapshot", str(f), "-o", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    notes = [(s["id"], f["severity"], f["message"]) for s in report["steps"] for f in s["findings"]
             if f["code"] == "INPUT_OBJECT_IGNORED"]
    assert notes == [("service", "info", "1 malformed object(s) elsewhere in the input were left out; "
                                         "no step reads them")]


def test_structurally_wrong_nft_json_capture_exits_2_naming_file_and_element(tmp_path):
    (tmp_path / "cluster.yaml").write_text(Path(FIXTURE).read_text())
    capture = tmp_path / "node-1.nft.json"
    capture.write_text(json.dumps({"nftables": [
        {"table": {"family": "ip", "name": "kube-proxy", "handle": 1}},
        {"rule": {"family": "ip", "table": "kube-proxy", "chain": "services", "handle": 4, "expr": [{"jump": {}}]}},
    ]}))
    result = invoke("svc", "web", "-n", "shop", "--snapshot", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (f"error: bad snapshot file {capture}: nftables[1] (rule 4 in chain services): jump without "
                             'a target: {"rule":{"family":"ip","table":"kube-proxy","chain":"services","handle":4,'
                             '"expr":[{"jump":{}}]}}\n')
