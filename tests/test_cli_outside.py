"""``url``, ``ingress`` and ``route`` end to end (typer's CliRunner): offline on the bundled examples in every
output format, bad input as one line and exit 2, and live against a small API server that serves the Gateway
API, or does not (a cluster without its CRDs answers an unknown /apis/... path with a plain-text 404)."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from test_bad_input import kubeconfig, send, serving
from typer.testing import CliRunner

from kubectl_netdoctor.cli import app
from kubectl_netdoctor.cluster.reader import KINDS
from kubectl_netdoctor.cluster.snapshot import SnapshotReader

sys.path.insert(0, str(Path(__file__).parent / "checks" / "outside"))
import outside_manifests as m  # noqa: E402 - the manifests of tests/checks/outside, shared

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
INGRESS_FAULT = str(EXAMPLES / "ingress-wrong-port.yaml")
ROUTE_FAULT = str(EXAMPLES / "route-not-allowed.yaml")
FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def exit_2(result, line: str) -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", line + "\n"), result.output


# -- offline, every format ------------------------------------------------------------------------------------

COMMANDS = {
    "url": ["url", "http://shop.example.com/", "--snapshot", INGRESS_FAULT],
    "ingress": ["ingress", "web", "-n", "ingress-wrong-port", "--host", "shop.example.com", "--snapshot", INGRESS_FAULT],
    "route": ["route", "web", "-n", "route-not-allowed", "--snapshot", ROUTE_FAULT],
}


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_in_each_format_exits_1_on_its_fault(command, fmt):
    result = invoke(*COMMANDS[command], "-o", fmt)
    assert result.exit_code == 1, result.output
    kind, broken, cause = (("HTTPRoute", "listener", "GW_ROUTE_NOT_ATTACHED") if command == "route" else
                           ("Ingress", "backend", "BACKEND_PORT_NOT_FOUND"))
    if fmt == "json":
        doc = json.loads(result.stdout)
        assert doc["schema"] == "netdoctor/v1" and "service" not in doc
        assert doc["target"]["kind"] == kind and doc["target"]["name"] == "web"
        assert (doc["broken_step"], doc["cause"]["code"]) == (broken, cause)
        assert doc["client"] == "external (outside the cluster)"
    elif fmt == "junit":
        case = ET.fromstring(result.stdout).find(".//testcase")
        assert case.get("name") == f"{kind}/web" and case.find("failure").get("type") == cause
    else:
        assert result.stdout.startswith(f"{kind} ") and f"broken hop: {broken}" in result.stdout


def test_url_finds_the_ingress_among_several_snapshots():
    result = invoke("url", "shop.example.com", "--snapshot", str(EXAMPLES), "-o", "json")
    doc = json.loads(result.stdout)
    assert doc["target"] == {"kind": "Ingress", "namespace": "ingress-wrong-port", "name": "web"}
    assert doc["source"] == f"snapshot {INGRESS_FAULT}"


def test_url_with_n_looks_in_that_namespace_only():
    exit_2(invoke("url", "http://shop.example.com/", "-n", "route-not-allowed", "--snapshot", INGRESS_FAULT),
           "error: no Ingress or HTTPRoute in namespace route-not-allowed serves shop.example.com; "
           "Ingress ingress-wrong-port/web in another namespace serves it (leave out -n)")


def test_a_url_walk_of_a_route_that_is_not_attached_walks_it_as_the_nearest_miss():
    doc = json.loads(invoke("url", "http://shop.example.com/", "--snapshot", ROUTE_FAULT, "-o", "json").stdout)
    assert doc["target"] == {"kind": "HTTPRoute", "namespace": "route-not-allowed", "name": "web"}
    assert doc["cause"]["code"] == "GW_ROUTE_NOT_ATTACHED"


def test_ingress_without_a_request_checks_every_rule():
    doc = json.loads(invoke("ingress", "web", "-n", "ingress-wrong-port", "--snapshot", INGRESS_FAULT,
                            "-o", "json").stdout)
    match = next(s for s in doc["steps"] if s["id"] == "match")
    assert match["summary"] == "no request given: 1 path(s), host(s) shop.example.com"


# -- bad input: one line, exit 2 ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, line", [
    (["url", "ftp://shop.example.com/"],
     "error: bad URL 'ftp://shop.example.com/': scheme 'ftp' is not http or https (Ingress and HTTPRoute rules "
     "route HTTP)"),
    (["url", ""], "error: URL '': must not be empty"),
    (["url", "http://shop.example.com:99999/"],
     "error: bad URL 'http://shop.example.com:99999/': the port must be a number from 1 to 65535"),
    (["url", "http://shop.example.org/"], "error: no Ingress or HTTPRoute in any namespace serves shop.example.org; "
                                          "did you mean shop.example.com?"),
    (["ingress", "Web"], "error: NAME 'Web': not a valid Ingress name (DNS-1123 subdomain: lowercase letters, "
                         "digits, '-' and '.', at most 253)"),
    (["ingress", "web", "--path", "/api"], "error: --path needs --host (the host the request names)"),
    (["ingress", "web", "--host", "shop.example.com/api"],
     "error: --host 'shop.example.com/api': expected a host name or address, with an optional :port"),
    (["ingress", "web", "--host", "shop.example.com", "--path", "api"], "error: --path 'api': must start with '/'"),
    (["ingress", "wbe", "-n", "ingress-wrong-port"],
     "error: Ingress wbe not found in namespace ingress-wrong-port; did you mean web?"),
    (["route", "web", "-n", "ingress-wrong-port"],
     "error: HTTPRoute web not found in namespace ingress-wrong-port; httproutes there: none"),
    (["ingress", "web", "--wait", "1m"],
     "error: --wait with --snapshot: a snapshot never changes, there is nothing to wait for"),
])
def test_bad_input_is_one_line_and_exit_2(args, line):
    exit_2(invoke(*args, "--snapshot", INGRESS_FAULT), line)


# -- live: an API server with and without the Gateway API -------------------------------------------------------

GROUP = "gateway.networking.k8s.io"


def api_server(objects: list[dict], gateway_api: bool):
    """A read-only API server over ``objects``. Discovery lists the Gateway API when ``gateway_api`` (Gateway,
    GatewayClass, HTTPRoute in v1; ReferenceGrant in v1beta1 only, as in v1.0 to v1.4); a path it does not
    serve is a plain-text 404, as kube-apiserver answers an unknown /apis/... path."""
    reader = SnapshotReader.from_objects(objects, source="served")
    kinds = {resource: kind for kind, (resource, _) in KINDS.items()}
    served = {"v1": ["gateways", "gatewayclasses", "httproutes"], "v1beta1": ["referencegrants", "gateways"]}

    def answer(h):
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/apis":
            groups = [{"name": "networking.k8s.io", "versions": [{"groupVersion": "networking.k8s.io/v1",
                                                                   "version": "v1"}]}]
            if gateway_api:
                groups.append({"name": GROUP, "versions": [{"groupVersion": f"{GROUP}/{v}", "version": v}
                                                           for v in served]})
            return send(h, 200, json.dumps({"kind": "APIGroupList", "groups": groups}).encode(), "application/json")
        hit = re.fullmatch(rf"/apis/{re.escape(GROUP)}/(v1|v1beta1)", url.path)
        if hit and gateway_api:
            body = {"kind": "APIResourceList", "resources": [{"name": r} for r in served[hit.group(1)]]}
            return send(h, 200, json.dumps(body).encode(), "application/json")
        match = re.fullmatch(r"/(?:api/v1|apis/(?:networking\.k8s\.io|discovery\.k8s\.io)/v1|"
                             rf"apis/{re.escape(GROUP)}/(v1|v1beta1))(?:/namespaces/([^/]+))?/([a-z]+)(?:/([^/]+))?",
                             url.path)
        if not match or match.group(3) not in kinds or (GROUP in url.path and not gateway_api):
            return send(h, 404, b"404 page not found\n", "text/plain; charset=utf-8")
        version, ns, kind, name = match.group(1), match.group(2), kinds[match.group(3)], match.group(4)
        if version and match.group(3) not in served[version]:
            return send(h, 404, b"404 page not found\n", "text/plain; charset=utf-8")
        if name:
            obj = reader.get(kind, ns, name)
            body = obj or {"kind": "Status", "code": 404, "reason": "NotFound"}
            return send(h, 200 if obj else 404, json.dumps(body).encode(), "application/json")
        items = reader.list(kind, ns, query.get("labelSelector"), query.get("fieldSelector"))
        # as the API server lists them: the items carry neither apiVersion nor kind
        items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in items]
        send(h, 200, json.dumps({"kind": f"{kind}List", "items": items}).encode(), "application/json")

    return answer


def cluster_objects(gateway_api: bool) -> list[dict]:
    objects = yaml.safe_load(FIXTURE.read_text())["items"]
    https = m.ingress(tls=[{"hosts": ["shop.example.com"], "secretName": "shop-tls"}])
    https["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.tls"] = "true"  # Traefik routes its https
    objects += [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "traefik"}}, m.traefik_pod(),
                m.traefik_service(), m.ingress_class(), https,
                m.tls_secret("shop-tls", "shop", ["shop.example.com"])]
    if gateway_api:
        cross = [{"backendRefs": [{"name": "web", "namespace": "default", "port": 80}]}]
        objects += [m.gateway_class(), m.gateway(), m.route("store", hostnames=["store.example.com"], rules=cross),
                    m.service_in("default"),
                    {"apiVersion": f"{GROUP}/v1beta1", "kind": "ReferenceGrant",
                     "metadata": {"name": "from-shop", "namespace": "default"},
                     "spec": {"from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": "shop"}],
                              "to": [{"group": "", "kind": "Service", "name": "web"}]}}]
    return objects


def test_live_without_the_gateway_api_the_ingress_walk_runs_and_a_route_is_a_usage_error(tmp_path):
    with serving(api_server(cluster_objects(False), gateway_api=False)) as server:
        kc = kubeconfig(tmp_path, server.url)
        result = invoke("url", "https://shop.example.com/", "--kubeconfig", kc, "-o", "json")
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["target"]["kind"] == "Ingress" and doc["verdict"] == "ok"
        tls = next(s for s in doc["steps"] if s["id"] == "tls")
        assert tls["status"] == "pass" and tls["findings"] == []  # live, the key was read and matches
        exit_2(invoke("route", "web", "-n", "shop", "--kubeconfig", kc),
               "error: HTTPRoute web: HTTPRoute is not served by this cluster: the API group "
               "gateway.networking.k8s.io is not installed")
        asked = list(server.requests)
    secrets = [p for p in asked if "/secrets" in p]
    assert secrets and all(p.endswith("/namespaces/shop/secrets/shop-tls") for p in secrets), secrets
    assert not any(p.startswith(f"/apis/{GROUP}/") for p in asked), "an API the cluster does not serve was asked"


def test_live_with_the_gateway_api_each_kind_is_read_at_the_version_that_serves_it(tmp_path):
    with serving(api_server(cluster_objects(True), gateway_api=True)) as server:
        kc = kubeconfig(tmp_path, server.url)
        result = invoke("route", "store", "-n", "shop", "--host", "store.example.com", "--kubeconfig", kc, "-o", "json")
        doc = json.loads(result.stdout)
        assert doc["target"] == {"kind": "HTTPRoute", "namespace": "shop", "name": "store"}
        backend = next(s for s in doc["steps"] if s["id"] == "backend")
        assert backend["status"] == "pass", backend  # the grant in default allows the cross-namespace backendRef
        asked = list(server.requests)
    assert any(p.startswith(f"/apis/{GROUP}/v1/namespaces/shop/httproutes/store") for p in asked)
    assert any(p.startswith(f"/apis/{GROUP}/v1beta1/namespaces/default/referencegrants") for p in asked)
    assert not any(p.startswith(f"/apis/{GROUP}/v1/") and "referencegrants" in p for p in asked)
