"""The certificate of a TLS Secret: names, dates, key, chain (kubectl_netdoctor.routing.tls).

Certificates are made here with `cryptography`: a small CA, leaves signed by it, self-signed ones.
"""

from __future__ import annotations

import base64
import ipaddress
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubectl_netdoctor.routing.tls import (
    TlsSecretError,
    covers,
    dns_name_covers,
    read_tls_secret,
    validity,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(cn: str, dns: list[str] | None = None, ips: list[str] | None = None, *, signer=None, issuer_cn=None,
              subject_key=None, not_before: datetime = NOW - timedelta(days=30),
              not_after: datetime = NOW + timedelta(days=60), ca: bool = False) -> tuple[x509.Certificate, Any]:
    subject_key = subject_key or key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn or cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer)
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer or subject_key, hashes.SHA256()), subject_key


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(k, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def secret(crt: bytes | None, k: bytes | None, type_: str = "kubernetes.io/tls", raw: dict | None = None):
    data = raw if raw is not None else {}
    if crt is not None:
        data["tls.crt"] = base64.b64encode(crt).decode()
    if k is not None:
        data["tls.key"] = base64.b64encode(k).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": type_, "data": data,
            "metadata": {"name": "shop-tls", "namespace": "shop", "creationTimestamp": "2026-05-01T00:00:00Z"}}


CA, CA_KEY = make_cert("Example Issuing CA", ca=True)
LEAF, LEAF_KEY = make_cert("shop.example.com", ["shop.example.com", "*.shop.example.com"], ["203.0.113.10"],
                           signer=CA_KEY, issuer_cn="Example Issuing CA")


def test_a_good_secret_reads_leaf_chain_and_key():
    s = read_tls_secret(secret(pem(LEAF, CA), key_pem(LEAF_KEY)))
    assert s.key_matches and s.key_type == "EC secp256r1" and s.chain_in_order
    assert s.leaf.dns_names == ("shop.example.com", "*.shop.example.com")
    assert s.leaf.ip_addresses == ("203.0.113.10",)
    assert s.leaf.common_name == "shop.example.com" and s.leaf.subject == "CN=shop.example.com"
    assert s.leaf.issuer == "CN=Example Issuing CA" and not s.leaf.self_signed and not s.leaf.is_ca
    assert [c.subject for c in s.chain] == ["CN=Example Issuing CA"] and s.chain[0].is_ca
    assert s.leaf.not_after == NOW.replace(microsecond=0) + timedelta(days=60)
    assert len(s.leaf.fingerprint_sha256) == 64


def test_a_chain_sent_in_the_wrong_order_is_flagged():
    assert not read_tls_secret(secret(pem(CA, LEAF), key_pem(LEAF_KEY))).chain_in_order


def test_a_key_of_another_certificate_does_not_match():
    s = read_tls_secret(secret(pem(LEAF), key_pem(key())))
    assert not s.key_matches


@pytest.mark.parametrize("make, code, message", [
    (lambda: secret(pem(LEAF), key_pem(LEAF_KEY), type_="Opaque"), "wrong-type", "has type Opaque, not kubernetes.io/tls"),
    (lambda: secret(pem(LEAF), None), "missing-key", "no data['tls.key']"),
    (lambda: secret(None, key_pem(LEAF_KEY)), "missing-key", "no data['tls.crt']"),
    (lambda: secret(None, key_pem(LEAF_KEY), raw={"tls.crt": "not base64!"}), "not-base64", "is not base64"),
    (lambda: secret(b"hello, not a certificate", key_pem(LEAF_KEY)), "not-pem", "is not a PEM certificate"),
    (lambda: secret(LEAF.public_bytes(serialization.Encoding.DER), key_pem(LEAF_KEY)), "not-pem", "it is DER"),
    (lambda: secret(pem(LEAF), b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "bad-key",
     "is not a PEM private key"),
    (lambda: secret(pem(LEAF), key_pem(LEAF_KEY, b"pw")), "bad-key", "is encrypted"),
])
def test_broken_secrets_raise_a_clear_error(make, code, message):
    with pytest.raises(TlsSecretError) as err:
        read_tls_secret(make())
    assert err.value.code == code and message in str(err.value) and "Secret shop/shop-tls" in str(err.value)


# RFC 6125 as clients apply it.
@pytest.mark.parametrize("pattern, host, expected", [
    ("shop.example.com", "shop.example.com", True),
    ("Shop.Example.com", "shop.example.COM", True),
    ("*.example.com", "shop.example.com", True),
    ("*.example.com", "a.shop.example.com", False),  # one label only
    ("*.example.com", "example.com", False),
    ("f*.example.com", "foo.example.com", False),  # partial wildcard: refused
    ("shop.*.com", "shop.example.com", False),  # not left-most
    ("*.com", "example.com", False),  # a bare TLD wildcard
    ("shop.example.com.", "shop.example.com", True),
])
def test_dns_name_covers(pattern, host, expected):
    assert dns_name_covers(pattern, host) is expected


@pytest.mark.parametrize("host, covered, by, detail", [
    ("shop.example.com", True, "shop.example.com", "SAN shop.example.com covers"),
    ("api.shop.example.com", True, "*.shop.example.com", "SAN *.shop.example.com covers"),
    ("a.b.shop.example.com", False, None, "covers exactly one label before shop.example.com"),
    ("203.0.113.10", True, "203.0.113.10", "IP SAN"),
    ("203.0.113.11", False, None, "DNS names never cover an IP"),
    ("blog.example.com", False, None, "no SAN covers blog.example.com"),
])
def test_covers(host, covered, by, detail):
    c = covers(read_tls_secret(secret(pem(LEAF), key_pem(LEAF_KEY))).leaf, host)
    assert (c.covered, c.by) == (covered, by) and detail in c.detail


def test_a_wildcard_does_not_cover_its_apex_and_says_what_to_add():
    cert, k = make_cert("wild", ["*.example.com"])
    c = covers(read_tls_secret(secret(pem(cert), key_pem(k))).leaf, "example.com")
    assert not c.covered and "add example.com as a SAN" in c.detail


def test_a_cn_without_sans_covers_nothing():
    cert, k = make_cert("shop.example.com")
    info = read_tls_secret(secret(pem(cert), key_pem(k))).leaf
    assert info.self_signed and info.names == ()
    c = covers(info, "shop.example.com")
    assert not c.covered and "no subjectAltName (its CN is shop.example.com)" in c.detail


@pytest.mark.parametrize("not_before, not_after, state", [
    (NOW - timedelta(days=30), NOW + timedelta(days=60), "valid"),
    (NOW - timedelta(days=80), NOW + timedelta(days=10), "expiring"),
    (NOW - timedelta(days=90), NOW - timedelta(days=1), "expired"),
    (NOW - timedelta(days=90), NOW, "expiring"),  # RFC 5280: the period includes notAfter itself
    (NOW - timedelta(days=90), NOW - timedelta(seconds=1), "expired"),
    (NOW + timedelta(hours=2), NOW + timedelta(days=90), "not-yet-valid"),
])
def test_validity(not_before, not_after, state):
    cert, k = make_cert("shop.example.com", ["shop.example.com"], not_before=not_before, not_after=not_after)
    v = validity(read_tls_secret(secret(pem(cert), key_pem(k))).leaf, NOW)
    assert v.state == state
    assert round(v.days_left) == round((not_after - NOW) / timedelta(days=1))


def test_validity_window_and_naive_time_read_as_utc():
    cert, k = make_cert("x", ["x.example.com"], not_after=NOW + timedelta(days=20))
    info = read_tls_secret(secret(pem(cert), key_pem(k))).leaf
    assert validity(info, NOW).state == "valid"  # 20 days > the default 14
    assert validity(info, NOW, expiring_days=30).state == "expiring"
    assert validity(info, NOW.replace(tzinfo=None), expiring_days=30).state == "expiring"
    assert "expired on" in validity(info, NOW + timedelta(days=21)).detail
