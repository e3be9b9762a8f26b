"""Input that broke the tool (issue 18, sections 4 and 5), one class a test: each must end in one line on
stderr and a documented exit code, never a traceback, an "internal error" or a death by a signal.

Servers are real: small HTTP(S) servers on 127.0.0.1 that answer as a wrong URL, a proxy, a silent or a
trickling API server would; the command runs against them through a kubeconfig, as a user's would.
Signals are real signals sent to a real process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubectl_netdoctor import config
from kubectl_netdoctor.cli import app
from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.errors import UsageError

ROOT = Path(__file__).parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"
runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def one_line(result, code: int, line: str) -> None:
    assert (result.exit_code, result.stderr) == (code, line + "\n"), result.output
    assert "Traceback" not in result.output


# -- servers on 127.0.0.1 ---------------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    """Answers every GET with ``answer(handler)``; counts the requests; ``seen`` is set at the first."""

    daemon_threads = True

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.requests: list[str] = []
        self.seen = threading.Event()
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        self.server.seen.set()
        try:
            self.server.answer(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: that is what these servers test

    do_DELETE = do_POST = do_PATCH = do_GET


@contextmanager
def serving(answer: Callable[[BaseHTTPRequestHandler], None], wrap: Callable | None = None) -> Iterator[Server]:
    server = Server(answer)
    if wrap is not None:
        server.socket = wrap(server.socket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()


def send(handler: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def html_404(h):
    send(h, 404, b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>", "text/html")


def html_200(h):
    send(h, 200, b"<html><body>Welcome to nginx!</body></html>", "text/html; charset=utf-8")


def silent(h):
    h.server.stop.wait(60)  # accepts, reads the request, never answers


def trickle(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.end_headers()
    while not h.server.stop.wait(0.5):  # one byte every half second: urllib3's read timeout never fires
        h.wfile.write(b" ")
        h.wfile.flush()


def from_snapshot(objects: list[dict]) -> Callable[[BaseHTTPRequestHandler], None]:
    """A read-only API server over ``objects`` (a real one's 404 is a JSON Status)."""
    import re
    from urllib.parse import parse_qs, urlparse

    from kubectl_netdoctor.cluster.reader import KINDS

    reader = SnapshotReader.from_objects(objects, source="served")
    kinds = {resource: kind for kind, (resource, _) in KINDS.items()}

    def answer(h):
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        m = re.fullmatch(r"/(?:api/v1|apis/[^/]+/v1)(?:/namespaces/([^/]+))?/([a-z]+)(?:/([^/]+))?", url.path)
        if not m or m.group(2) not in kinds:
            return send(h, 404, json.dumps({"kind": "Status", "code": 404}).encode(), "application/json")
        ns, kind, name = m.group(1), kinds[m.group(2)], m.group(3)
        if name:
            obj = reader.get(kind, ns, name)
            body = obj or {"kind": "Status", "code": 404, "reason": "NotFound"}
            return send(h, 200 if obj else 404, json.dumps(body).encode(), "application/json")
        items = reader.list(kind, ns, query.get("labelSelector"), query.get("fieldSelector"))
        send(h, 200, json.dumps({"kind": f"{kind}List", "items": items}).encode(), "application/json")

    return answer


def kubeconfig(tmp_path: Path, server: str, **cluster) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "contexts": [{"name": "test", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    return str(path)


def fixture_items() -> list[dict]:
    return yaml.safe_load(FIXTURE.read_text())["items"]


# -- a server that is not a Kubernetes API server: exit 3, naming it ------------------------------------------

NOT_K8S = "error: the server {url} (context test) is not a Kubernetes API server: GET {path} answered {what}; " \
          "check the server URL in the kubeconfig"


@pytest.mark.parametrize("answer, command, path, what", [
    (html_404, ("svc", "web", "--read-only"), "/api/v1/namespaces/shop/services/web", "404 with text/html"),
    (html_404, ("scan", "--read-only"), "/api/v1/namespaces", "404 with text/html"),
    (html_200, ("svc", "web", "--read-only"), "/api/v1/namespaces/shop/services/web", "text/html, not JSON"),
    (html_200, ("scan", "--read-only"), "/api/v1/namespaces", "text/html, not JSON"),
    (html_200, ("snapshot", "-o", "{tmp}/s.json"), "/api/v1/namespaces/shop/services", "text/html, not JSON"),
    (html_200, ("cleanup",), "/api/v1/namespaces/shop/pods", "text/html, not JSON"),
])
def test_a_server_that_is_not_an_api_server_is_exit_3_naming_it(tmp_path, answer, command, path, what):
    """It answered 404 to everything (a wrong URL, a proxy): scan exited 0, svc said "create it"."""
    with serving(answer) as server:
        result = invoke(*[a.format(tmp=tmp_path) for a in command], "--kubeconfig", kubeconfig(tmp_path, server.url))
    one_line(result, 3, NOT_K8S.format(url=server.url, path=path, what=what))
    assert result.stdout == ""
    assert not (tmp_path / "s.json").exists()


def test_a_real_not_found_from_an_api_server_is_still_not_found(tmp_path):
    with serving(from_snapshot(fixture_items())) as server:
        result = invoke("svc", "wbe", "--read-only", "--kubeconfig", kubeconfig(tmp_path, server.url))
    one_line(result, 2, "error: Service wbe not found in namespace shop; did you mean web?")


def test_a_live_target_in_a_namespace_that_does_not_exist(tmp_path):
    with serving(from_snapshot(fixture_items())) as server:
        result = invoke("svc", "web", "-n", "shpo", "--read-only", "--kubeconfig", kubeconfig(tmp_path, server.url))
    one_line(result, 2, "error: Service web not found in namespace shpo; namespace shpo does not exist "
                        "(did you mean shop?); Service web exists in namespace shop (-n shop)")


# -- --timeout bounds each request, including the read; the first timeout ends the run ----------------------------

@pytest.mark.parametrize("answer", [silent, trickle], ids=["silent", "trickle"])
@pytest.mark.parametrize("command", [("svc", "web"), ("scan",)])
def test_timeout_bounds_the_whole_request_and_ends_the_run(tmp_path, answer, command):
    """scan --timeout 2 against a silent server took 18 s (one timeout per list); a server that trickles
    a byte every 0.5 s was never ended."""
    with serving(answer) as server:
        start = time.monotonic()
        result = invoke(*command, "--read-only", "--timeout", "1", "--kubeconfig", kubeconfig(tmp_path, server.url))
        elapsed = time.monotonic() - start
        requests = list(server.requests)
    assert result.exit_code == 3 and result.stderr.startswith(f"error: API server {server.url} timed out after 1s (")
    assert result.stderr.count("\n") == 1
    assert elapsed < 4, f"one request's timeout ends the run, took {elapsed:.1f}s"
    assert len(requests) == 1, requests


# -- kubeconfigs that broke the client: one line, exit 3 ------------------------------------------------------

@pytest.mark.parametrize("content, problem", [
    (b"clusters: [\n  {name: a\n", ":3: invalid YAML: did not find expected ',' or '}'"),
    (b"apiVersion: v1\nkind: Config\n- a\n", ":3: invalid YAML: did not find expected key"),
    (b"clusters: 5\n", ": clusters: expected a list, got 5"),
    (b"- a\n- b\n", ": expected a mapping (apiVersion, clusters, contexts, users), got a list"),
    (b"contexts: [5]\n", ": contexts[0]: expected a mapping with name and context, got 5"),
    (b"users: [{name: [u]}]\n", ": users[0].name: expected a string, got a list"),
    (b"clusters: [{name: c, cluster: {server: 5}}]\n", ": clusters[0].cluster.server: expected a string, got 5"),
    (b"contexts: [{name: c, context: {namespace: [a]}}]\n",
     ": contexts[0].context.namespace: expected a string, got a list"),
    (b"current-context: {a: b}\n", ": current-context: expected a string, got a mapping"),
    (b"apiVersion: v1\nclusters: []\n# caf\xe9\n", ": not UTF-8 text (byte 0xe9 at offset 33)"),
])
def test_a_broken_kubeconfig_is_one_line_exit_3(tmp_path, content, problem):
    path = tmp_path / "kubeconfig"
    path.write_bytes(content)
    for command in (("svc", "web"), ("scan",), ("cleanup",), ("snapshot", "-o", str(tmp_path / "s.json"))):
        result = invoke(*command, "--kubeconfig", str(path))
        one_line(result, 3, f"error: no cluster access: cannot load kubeconfig {path}{problem}")


def test_a_failing_exec_plugin_is_one_line_naming_it(tmp_path):
    """It printed `ERROR:root:exec: process returned 1` and the plugin's stderr, then ran without credentials."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
            "args": ["-c", "import sys; sys.stderr.write('token expired\\nrun: login --again\\n'); sys.exit(1)"]}}}],
    }))
    proc = subprocess.run([sys.executable, "-m", "kubectl_netdoctor.entry", "svc", "web", "--kubeconfig", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (proc.returncode, proc.stderr) == (3, f"error: no cluster access: the kubeconfig's exec plugin "
                                                 f"{sys.executable!r} failed: process returned 1. token expired "
                                                 "run: login --again\n")


# -- insecure-skip-tls-verify: said once ------------------------------------------------------------------------

def _tls_wrapper(tmp_path: Path):
    import ssl

    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is needed to make the test server's certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return lambda sock: ctx.wrap_socket(sock, server_side=True)


def test_insecure_skip_tls_verify_is_said_once(tmp_path):
    """urllib3 warned on every request: ten warnings before the report."""
    with serving(from_snapshot(fixture_items()), wrap=_tls_wrapper(tmp_path)) as server:
        url = server.url.replace("http://", "https://")
        kc = kubeconfig(tmp_path, url, **{"insecure-skip-tls-verify": True})
        proc = subprocess.run([sys.executable, "-m", "kubectl_netdoctor.entry", "scan", "--read-only", "-o", "json",
                               "--kubeconfig", kc], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert len(server.requests) > 10
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (f"warning: the TLS certificate of {url} is not verified "
                           "(insecure-skip-tls-verify in the kubeconfig)\n")
    assert json.loads(proc.stdout)["verdict"] == "ok"


# -- flags and settings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, line", [
    (("--wait", ""), "error: --wait '': expected a duration such as 120s, 2m or 1m30s"),
    (("--wait", " "), "error: --wait ' ': expected a duration such as 120s, 2m or 1m30s"),
    (("--wait", "9" * 400), f"error: --wait '{'9' * 37}...': at most 24h"),
    (("--wait", "9" * 400 + "ms"), f"error: --wait '{'9' * 37}...': at most 24h"),
    (("--wait", "25h"), "error: --wait '25h': at most 24h"),
    (("--timeout", "1e10"), "error: --timeout 1e+10: at most 3600 seconds (it bounds each API request)"),
    (("--timeout", "9" * 400), "error: --timeout inf: expected a number of seconds, at least 0.1"),
])
def test_durations_that_parse_but_mean_nothing_are_usage_errors(args, line):
    for command in (("svc", "web"), ("scan", "-n", "shop")):
        one_line(invoke(*command, *args), 2, line)


@pytest.mark.parametrize("selector, problem", [
    ("app in ()", "the values of 'in' must not be empty"),
    ("app notin ()", "the values of 'notin' must not be empty"),
    ("x/y/z=1", "invalid label key 'x/y/z': the prefix must be a DNS subdomain (lowercase, at most 253 characters)"),
    ("a" * 64 + "=1", f"invalid label key '{'a' * 64}': the name part must be at most 63 characters: letters, "
                      "digits, '-', '_' and '.', starting and ending with a letter or digit"),
    ("app=" + "v" * 64, f"invalid label value '{'v' * 64}': at most 63 characters: letters, digits, '-', '_' and "
                        "'.', starting and ending with a letter or digit"),
    ("app=-web", "invalid label value '-web': at most 63 characters: letters, digits, '-', '_' and '.', starting "
                 "and ending with a letter or digit"),
    ("ap p=web", "found 'p', expected an operator (=, ==, !=, in, notin, >, <), ',' or the end"),
    ("app=we b", "found 'b', expected ',' or the end"),
    ("app==web,", "a label key expected at the end"),
    ("app,,tier", "found ',', expected a label key"),
    ("!app=web", "found '=', expected ',' or the end after '!app'"),
    ("app in web", "found 'web', expected '(' after 'in'"),
    ("x>a", "'x > a': '>' compares with an integer"),
])
def test_selectors_kubectl_refuses_are_usage_errors(selector, problem):
    one_line(invoke("scan", "-n", "shop", "-l", selector, "--snapshot", str(FIXTURE)), 2,
             f"error: -l: bad label selector {selector!r}: {problem}")


@pytest.mark.parametrize("selector, names", [
    ("app=web", ["web"]), ("app notin (web)", ["api"]), ("app in (web, x)", ["web"]), ("!app", []),
    ("app", ["api", "web"]), ("app!=x", ["api", "web"]), ("app in (x,)", []), ("tier", ["web"]),
    ("app,!tier", ["api"]), ("replicas>2", ["web"]), ("replicas<2", ["api"]), ("app=", []),
])
def test_selectors_kubectl_takes_match_as_it_does(tmp_path, selector, names):
    objs = fixture_items()
    web = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "web")
    web["metadata"]["labels"] = {"app": "web", "tier": "front", "replicas": "3"}
    api = json.loads(json.dumps(web))
    api["metadata"].update(name="api", labels={"app": "api", "replicas": "1"})
    path = tmp_path / "snap.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [*objs, api]}))
    result = invoke("scan", "-n", "shop", "-l", selector, "--snapshot", str(path), "-o", "json")
    assert [s["name"] for s in json.loads(result.stdout)["services"]] == names


@pytest.mark.parametrize("value", ["mirror.local/busybox:1 --privileged", "a\nb", "a\tb"])
def test_a_probe_image_with_spaces_is_refused_wherever_it_is_set(tmp_path, value):
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(UsageError, match=r"^\$NETDOCTOR_PROBE_IMAGE .*: (an image reference has no spaces|control)"):
        config.probe_image(None, {**env, "NETDOCTOR_PROBE_IMAGE": value})
    path = tmp_path / "kubectl-netdoctor" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"probeImage": value}))
    with pytest.raises(UsageError, match=rf"^probeImage in {re.escape(str(path))} .*: (an image reference has no spaces|control)"):
        config.probe_image(None, env)
    result = invoke("svc", "web", "--kubeconfig", str(tmp_path / "absent"), env={**env, "NETDOCTOR_CONFIG": str(path)})
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"probeImage: caf\xe9\n")
    with pytest.raises(UsageError) as err:
        config.probe_image(None, {"NETDOCTOR_CONFIG": str(path)})
    assert str(err.value) == f"config file {path}: not UTF-8 text (byte 0xe9 at offset 15)"


def test_a_config_file_with_broken_yaml_is_one_line_with_its_line(tmp_path):
    """PyYAML's message spans lines: the context, the position marks and a caret."""
    path = tmp_path / "config.yaml"
    path.write_text("# mirror\nprobeImage: [registry.local/busybox\n")
    result = invoke("svc", "web", env={"NETDOCTOR_CONFIG": str(path)})
    one_line(result, 2, f"error: config file {path}:3: invalid YAML: did not find expected ',' or ']'")


# -- a failed snapshot leaves the old file as it was -------------------------------------------------------------

@pytest.mark.parametrize("answer", [html_200, silent], ids=["refused", "hanging"])
def test_a_failed_snapshot_leaves_an_existing_file_as_it_was(tmp_path, answer):
    old = tmp_path / "snap.json"
    old.write_text('{"kind": "List", "items": []}\n')
    with serving(answer) as server:
        result = invoke("snapshot", "-n", "shop", "-o", str(old), "--timeout", "1",
                        "--kubeconfig", kubeconfig(tmp_path, server.url))
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert old.read_text() == '{"kind": "List", "items": []}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeconfig", "snap.json"]  # no temporary file left


def test_a_snapshot_replaces_the_file_once_complete(tmp_path):
    old = tmp_path / "snap.json"
    old.write_text("old\n")
    with serving(from_snapshot(fixture_items())) as server:
        result = invoke("snapshot", "-n", "shop", "-o", str(old), "--kubeconfig", kubeconfig(tmp_path, server.url))
    assert result.exit_code == 0, result.output
    assert json.loads(old.read_text())["kind"] == "List"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeconfig", "snap.json"]


# -- SIGTERM: 130 for every command, offline and live ---------------------------------------------------------

def _handler_installed(pid: int) -> bool:
    """Whether the process catches SIGTERM yet (its SigCgt mask), so the signal cannot meet Python's start-up."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


INTERRUPTED = (130, -signal.SIGINT)
"""What a shell reports as 130: exit 130, or the death by SIGINT with which Python ends a run whose
KeyboardInterrupt reached interpreter shutdown (a signal landing as the run exits); both follow the
one line ``interrupted``."""


def _terminate(args: list[str], ready: Callable[[subprocess.Popen], bool], timeout: float = 60):
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_netdoctor.entry", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + timeout
    while not ready(proc) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before the signal: {proc.communicate()}"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def big_snapshot(tmp_path_factory) -> Path:
    """A namespace of 300 Services, as JSON and as YAML: seconds of work offline, time for a signal to land."""
    from test_scan import many_services

    doc = {"apiVersion": "v1", "kind": "List", "items": many_services(300)}
    folder = tmp_path_factory.mktemp("big")
    (folder / "big.json").write_text(json.dumps(doc))
    (folder / "big.yaml").write_text(yaml.safe_dump(doc))
    return folder


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("command, snapshot, after", [
    (["scan", "-n", "shop"], "big.json", 1.0),       # into the walks of 300 Services
    (["svc", "web-3", "-n", "shop"], "big.yaml", 0.3),  # into the imports or the reading of the YAML
])
def test_sigterm_ends_an_offline_run_as_130(big_snapshot, command, snapshot, after):
    """It died by the signal (no handler): the README promises 130."""
    def ready(proc):
        if not _handler_installed(proc.pid):
            return False
        time.sleep(after)
        return True

    code, out, err = _terminate([*command, "--snapshot", str(big_snapshot / snapshot), "-o", "json"], ready)
    assert (code in INTERRUPTED, err, out) == (True, "interrupted\n", ""), code


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_sigterm_ends_a_live_run_as_130(tmp_path):
    with serving(silent) as server:
        code, out, err = _terminate(["svc", "web", "--timeout", "30", "--kubeconfig", kubeconfig(tmp_path, server.url)],
                                    lambda proc: server.seen.is_set())
    assert (code in INTERRUPTED, out) == (True, ""), code
    assert err == "interrupted\n" or err.startswith("interrupted: probe pod default/netdoctor-probe-"), err


# -- a reader of stdout that goes away: the verdict's exit code stays -------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
@pytest.mark.parametrize("command, code", [(["svc", "web", "-n", "healthy"], 0), (["scan", "-n", "not-ready"], 1)])
def test_a_closed_stdout_keeps_the_verdicts_exit_code(fmt, command, code):
    """`| head -1` turned a healthy run's 0 into 1."""
    snapshot = ROOT / "examples" / f"{command[-1]}.yaml"
    read, write = os.pipe()
    os.close(read)  # as head does once it has its line
    try:
        proc = subprocess.run([sys.executable, "-m", "kubectl_netdoctor.entry", *command, "--snapshot", str(snapshot),
                               "-o", fmt], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (code, "")


def test_help_is_h_too_and_reads_as_kubectl_netdoctor():
    for flag in ("-h", "--help"):
        result = invoke("svc", flag)
        assert result.exit_code == 0
        assert result.stdout.startswith("Usage: kubectl netdoctor svc [OPTIONS] NAME\n")
        assert "<str>" not in result.stdout and "{name}" not in result.stdout
        assert "-o, --output text|json|junit" in result.stdout
    assert invoke("-h").stdout.startswith("Usage: kubectl netdoctor [OPTIONS] COMMAND [ARGS]...\n")


def test_a_port_nobody_listens_on_is_still_unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    one_line(invoke("scan", "--kubeconfig", kubeconfig(tmp_path, f"http://127.0.0.1:{port}")), 3,
             f"error: cannot reach the API server http://127.0.0.1:{port}: connection refused")
