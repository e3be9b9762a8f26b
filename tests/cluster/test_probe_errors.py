"""How websocket refusals from the kubernetes client are recognised (real exception shapes)."""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from kubectl_netdoctor.cluster.probe import refused


def test_handshake_403_is_a_refusal():
    # What kubernetes.stream raises when RBAC refuses the exec upgrade (status 0, reason carries the handshake).
    err = ApiException(status=0, reason="Handshake status 403 Forbidden -+-+- {'audit-id': 'f1'} -+-+- b'{\"kind\":\"Status\"}'")
    assert refused(err)


def test_plain_403_is_a_refusal():
    assert refused(ApiException(status=403, reason="Forbidden"))


def test_other_handshake_failures_are_not_refusals():
    assert not refused(ApiException(status=0, reason="Handshake status 500 Internal Server Error"))
    assert not refused(ApiException(status=404, reason="Not Found"))
    assert not refused(ConnectionResetError("connection reset by peer"))
