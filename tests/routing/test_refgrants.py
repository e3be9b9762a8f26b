"""ReferenceGrant checks for cross-namespace references (kubectl_netdoctor.routing.refgrants)."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_netdoctor.routing.refgrants import Reference, check_reference, grant_for

GW = "gateway.networking.k8s.io"


def grant(name: str, ns: str, frm: list[dict[str, Any]], to: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": f"{GW}/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": name, "namespace": ns, "generation": 1, "creationTimestamp": "2024-04-01T00:00:00Z"},
            "spec": {"from": frm, "to": to}}


ROUTE_TO_SVC = Reference(GW, "HTTPRoute", "shop", "", "Service", "backends", "cart")
GATEWAY_TO_SECRET = Reference(GW, "Gateway", "infra", "", "Secret", "certs", "shop-tls")

ALLOW_SHOP_ROUTES = grant("allow-shop", "backends", [{"group": GW, "kind": "HTTPRoute", "namespace": "shop"}],
                          [{"group": "", "kind": "Service"}])
ALLOW_ONE_SECRET = grant("allow-infra-gw", "certs", [{"group": GW, "kind": "Gateway", "namespace": "infra"}],
                         [{"group": "", "kind": "Secret", "name": "shop-tls"}])


@pytest.mark.parametrize("grants, ref, allowed, by", [
    ([ALLOW_SHOP_ROUTES], ROUTE_TO_SVC, True, "backends/allow-shop"),
    ([ALLOW_ONE_SECRET], GATEWAY_TO_SECRET, True, "certs/allow-infra-gw"),
    ([], Reference(GW, "HTTPRoute", "shop", "", "Service", "shop", "cart"), True, None),  # same namespace
    ([], ROUTE_TO_SVC, False, None),
    # The grant must live in the target's namespace: one in the route's namespace does nothing.
    ([{**ALLOW_SHOP_ROUTES, "metadata": {**ALLOW_SHOP_ROUTES["metadata"], "namespace": "shop"}}], ROUTE_TO_SVC,
     False, None),
    # A named 'to' allows that object only.
    ([ALLOW_ONE_SECRET], Reference(GW, "Gateway", "infra", "", "Secret", "certs", "other-tls"), False, None),
    # Entries OR together.
    ([grant("two", "backends", [{"group": GW, "kind": "GRPCRoute", "namespace": "shop"},
                                {"group": GW, "kind": "HTTPRoute", "namespace": "shop"}],
            [{"group": "", "kind": "Secret"}, {"group": "", "kind": "Service"}])], ROUTE_TO_SVC, True, "backends/two"),
])
def test_check_reference(grants, ref, allowed, by):
    verdict = check_reference(grants, ref)
    assert verdict.allowed is allowed and verdict.grant == by


def test_a_denied_reference_says_which_grant_falls_short_and_how():
    wrong_ns = grant("allow-store", "backends", [{"group": GW, "kind": "HTTPRoute", "namespace": "store"}],
                     [{"group": "", "kind": "Service"}])
    wrong_kind = grant("allow-secrets", "backends", [{"group": GW, "kind": "HTTPRoute", "namespace": "shop"}],
                       [{"group": "", "kind": "Secret"}])
    verdict = check_reference([wrong_ns, wrong_kind], ROUTE_TO_SVC)
    assert not verdict.allowed and "RefNotPermitted" in verdict.detail and "2 there do not fit" in verdict.detail
    assert verdict.near_misses == (
        "ReferenceGrant backends/allow-store: from: namespace store is not shop",
        "ReferenceGrant backends/allow-secrets: to: kind Secret is not Service",
    )


def test_grant_for_writes_the_manifest_that_check_reference_accepts():
    manifest = grant_for(ROUTE_TO_SVC)
    assert manifest["metadata"]["namespace"] == "backends" and manifest["kind"] == "ReferenceGrant"
    assert check_reference([manifest], ROUTE_TO_SVC).allowed
