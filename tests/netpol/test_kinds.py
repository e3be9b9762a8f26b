"""The CNI-specific policy kinds the evaluator does not model (kubectl_netdoctor.netpol.kinds)."""

from __future__ import annotations

import pytest

from kubectl_netdoctor.netpol import kinds


@pytest.mark.parametrize("entry, label", [
    ("Calico NetworkPolicy shop/deny", "Calico NetworkPolicy"),
    ("Calico GlobalNetworkPolicy deny-all", "Calico GlobalNetworkPolicy"),
    ("CiliumNetworkPolicy prod/l7", "CiliumNetworkPolicy"),
    ("AdminNetworkPolicy (forbidden: cannot list), may exist", "AdminNetworkPolicy"),
    ("SomethingNew ns/x", "SomethingNew"),
    ("Bare", "Bare"),
])
def test_label_of_entry(entry, label):
    assert kinds.label_of_entry(entry) == label


def test_calico_kinds_are_named_for_the_product_and_a_core_policy_is_no_cni_kind():
    calico = {"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "deny", "namespace": "shop"}}
    assert kinds.describe(calico) == "Calico NetworkPolicy shop/deny"
    assert kinds.by_label("Calico NetworkPolicy").kubectl_resource == "networkpolicies.crd.projectcalico.org"
    assert kinds.kind_of({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}) is None
