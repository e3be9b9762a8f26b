"""A scan's API requests, counted where the API server would count them: at the HTTP level.

A small HTTP server on 127.0.0.1 answers the read API from a generated cluster (the
:func:`test_scan.many_services` objects) and counts every request; the real command runs
against it through the official client (``--read-only``: this server cannot run probes, and
the exec / port-forward calls it refuses are counted apart). The request count must not grow
with the number of Services. e2e/suite/test_scan_live.py measures the same on the real cluster, probes
included.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from test_scan import many_services
from typer.testing import CliRunner

from kubectl_netdoctor.cli import app
from kubectl_netdoctor.cluster.reader import KINDS
from kubectl_netdoctor.cluster.snapshot import SnapshotReader

RESOURCE_KIND = {resource: kind for kind, (resource, _) in KINDS.items()}


class FakeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, objects: list[dict]):
        super().__init__(("127.0.0.1", 0), Handler)
        self.reader = SnapshotReader.from_objects(objects, source="fake")
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        m = re.fullmatch(r"/(?:api/v1|apis/[^/]+/v1)(?:/namespaces/([^/]+))?/([a-z]+)(?:/([^/]+))?(/.*)?", url.path)
        if not m or m.group(2) not in RESOURCE_KIND or m.group(4):
            label = "websocket (exec, port-forward)" if m and m.group(4) else f"get {url.path}"
            self.count(label)
            return self.answer(404, {"kind": "Status", "code": 404, "message": "not served here"})
        ns, resource, name = m.group(1), m.group(2), m.group(3)
        kind = RESOURCE_KIND[resource]
        if resource == "namespaces" and name is None and ns is None:
            pass
        elif resource == "namespaces" and ns and name is None:  # /api/v1/namespaces/NAME
            kind, name, ns = "Namespace", ns, None
        selected = bool(query.get("labelSelector") or query.get("fieldSelector"))
        self.count(f"{'get' if name else 'list'} {resource}{' ' + ns if ns else ''}{' (selector)' if selected else ''}")
        if name:
            obj = self.server.reader.get(kind, ns, name)
            return self.answer(200, obj) if obj else self.answer(404, {"kind": "Status", "code": 404})
        items = self.server.reader.list(kind, ns, query.get("labelSelector"), query.get("fieldSelector"))
        self.answer(200, {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {}, "items": items})

    def count(self, label: str) -> None:
        with self.server.lock:
            self.server.requests[label] += 1

    def answer(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def kubeconfig(tmp_path: Path, port: int) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    return str(path)


def scan_counting(tmp_path: Path, n: int, *args: str) -> tuple[dict, Counter[str]]:
    server = FakeApiServer(many_services(n))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = CliRunner().invoke(app, ["scan", "--read-only", "-o", "json", *args,
                                          "--kubeconfig", kubeconfig(tmp_path, server.server_address[1])])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout), server.requests


@pytest.mark.parametrize("args", [(), ("-A",)])
def test_requests_do_not_grow_with_the_number_of_services(tmp_path, args):
    doc10, at10 = scan_counting(tmp_path, 10, *args)
    doc200, at200 = scan_counting(tmp_path, 200, *args)
    assert len([r for r in doc10["reports"] if r["service"]["namespace"] == "shop"]) == 10
    assert len([r for r in doc200["reports"] if r["service"]["namespace"] == "shop"]) == 200
    reads10 = {k: v for k, v in at10.items() if not k.startswith("websocket")}
    reads200 = {k: v for k, v in at200.items() if not k.startswith("websocket")}
    # Every read but the cross-namespace pod queries of broken selectors (2 at 10 Services; at 200,
    # three, then one cluster-wide list) is the same at 10 and at 200 Services.
    if not args:
        wide = ("list pods (selector)", "list pods")  # across all namespaces
        assert {k: v for k, v in reads10.items() if k not in wide} == \
            {k: v for k, v in reads200.items() if k not in wide}
        assert reads10.get(wide[0]) == 2 and "list pods" not in reads10
        assert reads200[wide[0]] == 3 and reads200["list pods"] == 1  # three queries, then one list
    else:  # -A: every kind listed once, cluster-wide, whatever the number of Services
        assert reads10 == reads200
    print(f"\nAPI reads at 10 Services: {sum(reads10.values())}, at 200: {sum(reads200.values())} "
          f"({' '.join(args) or '-n shop'}): {dict(sorted(reads200.items()))}")
