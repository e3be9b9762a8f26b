"""The fault catalogue's format (e2e/lib/scenarios.py), checked without a cluster: what a scenario may name
(a Service, an Ingress, an HTTPRoute or a URL), its second namespace, and what makes it ``shared``.
The catalogue itself must load: a wrong scenario.yaml fails here, not in the middle of an e2e run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e" / "lib"))

import scenarios  # noqa: E402
from harness import IMAGES  # noqa: E402
from scenarios import ScenarioError, command, objects_outside, reaches_outside, validate  # noqa: E402

EXPECT = {"verdict": "problem", "broken_step": "match", "codes": ["MATCH_NO_RULE"]}


def spec(**extra):
    return {"description": "d", "expect": dict(EXPECT), **extra}


def test_every_scenario_of_the_catalogue_loads():
    names = scenarios.names()
    assert names
    for name in names:
        scenarios.load(name)
    kinds = {command(scenarios.load(n))[0] for n in names}
    assert kinds == {"svc", "url", "ingress", "route"}


@pytest.mark.parametrize(("key", "value", "verb"), [
    ("service", "web", "svc"), ("ingress", "web", "ingress"), ("route", "web", "route"),
    ("url", "http://shop.${NS}.test/api", "url")])
def test_a_scenario_names_one_target_and_its_command(key, value, verb):
    s = validate("healthy", spec(**{key: value}))
    assert command(s) == (verb, value)


@pytest.mark.parametrize("targets", [{}, {"service": "web", "route": "web"}, {"url": "http://a.test/", "ingress": "x"}])
def test_none_or_two_targets_are_refused(targets):
    with pytest.raises(ScenarioError, match="name exactly one target"):
        validate("healthy", spec(**targets))


def test_the_expected_cause_is_a_string():
    validate("healthy", spec(service="web", expect={**EXPECT, "cause": "MATCH_NO_RULE"}))
    with pytest.raises(ScenarioError, match="'cause' must be string"):
        validate("healthy", spec(service="web", expect={**EXPECT, "cause": ["MATCH_NO_RULE"]}))


def test_the_other_namespace_is_the_scenarios_own():
    assert not reaches_outside("kubectl -n ${OTHER_NS} wait --for=condition=Programmed gateway/shared")
    assert not reaches_outside("${PYTHON} ${E2E_LIB}/testcert.py web-tls a.test | kubectl -n ${NS} apply -f -")
    assert reaches_outside("kubectl -n traefik scale deployment traefik --replicas=0")
    assert reaches_outside("kubectl delete gatewayclass ${NS}")
    with pytest.raises(ScenarioError, match="shared: true"):
        validate("healthy", spec(route="web", **{"break": ["kubectl -n traefik scale deployment traefik --replicas=0"]}))


def test_ingress_and_gateway_classes_are_cluster_scoped():
    text = ("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: x}\n---\n"
            "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: y}\n---\n"
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: z}\n")
    assert objects_outside(text) == ["GatewayClass/x", "IngressClass/y"]


def test_manifests_of_the_other_namespace_need_one():
    """gw-refgrant-healthy has manifests-other.yaml: without other_namespace it is refused."""
    s = scenarios.load("gw-refgrant-healthy")
    del s["other_namespace"]
    with pytest.raises(ScenarioError, match="manifests-other.yaml needs `other_namespace: true`"):
        validate("gw-refgrant-healthy", s)


def test_manifests_fill_in_the_namespaces():
    text = scenarios.manifests("gw-refgrant-missing", {**IMAGES, "NS": "e2e-a", "OTHER_NS": "e2e-b"})
    assert "hostnames: [\"shop.e2e-a.test\"]" in text and "namespace: \"e2e-b\"" in text
    with pytest.raises(KeyError):
        scenarios.manifests("gw-refgrant-missing", dict(IMAGES))
