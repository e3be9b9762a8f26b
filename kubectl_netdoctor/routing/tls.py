"""The certificate in a TLS Secret: what it covers, whether it is valid now, whether the key fits.

A TLS Secret (the one an Ingress's ``spec.tls[].secretName`` or a Gateway listener's
``tls.certificateRefs`` names) has ``type: kubernetes.io/tls`` and two base64 entries in
``data``: ``tls.crt`` (PEM: the leaf certificate first, then its intermediates) and
``tls.key`` (the PEM private key of the leaf, unencrypted). X.509 is parsed by ``cryptography``.

Host coverage follows RFC 6125 as browsers and Go apply it: only the subjectAltName counts
(the subject CN is ignored when a certificate has no SAN); a DNS name matches case-insensitively;
``*`` is accepted only as the whole left-most label and matches exactly one label
(``*.example.com`` covers ``a.example.com``, not ``example.com`` or ``a.b.example.com``); an IP
address matches only an IP SAN.

Time is always passed in (``now``), never read here.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

TLS_SECRET_TYPE = "kubernetes.io/tls"
EXPIRING_DAYS = 14
"""Default warning window: a certificate that ends within this many days is ``expiring``."""


class TlsSecretError(ValueError):
    """A Secret that cannot serve TLS; ``code`` says which way."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        """``wrong-type``, ``missing-key``, ``not-base64``, ``not-pem``, ``bad-key``."""


@dataclass(frozen=True)
class CertInfo:
    """One X.509 certificate, as findings quote it."""

    subject: str
    """RFC 4514 string (``CN=shop.example.com,O=Example``)."""
    issuer: str
    common_name: str | None
    """The subject CN (not used for host matching)."""
    dns_names: tuple[str, ...]
    """subjectAltName DNS entries, lowercased."""
    ip_addresses: tuple[str, ...]
    """subjectAltName IP entries."""
    not_before: datetime
    """UTC."""
    not_after: datetime
    """UTC."""
    serial: str
    """Hex."""
    fingerprint_sha256: str
    """Hex, as ``openssl x509 -fingerprint -sha256`` prints it without the colons."""
    is_ca: bool
    """basicConstraints CA:TRUE (a leaf should not be)."""

    @property
    def self_signed(self) -> bool:
        """Issuer and subject are the same name (clients will not trust it without pinning)."""
        return self.issuer == self.subject

    @property
    def names(self) -> tuple[str, ...]:
        """All SANs, DNS then IP."""
        return self.dns_names + self.ip_addresses


def cert_info(cert: x509.Certificate) -> CertInfo:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(dict.fromkeys(n.lower() for n in san.get_values_for_type(x509.DNSName)))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = cns[0].value if cns else None
    return CertInfo(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
                    cn if isinstance(cn, str) else None, dns, ips, cert.not_valid_before_utc,
                    cert.not_valid_after_utc, format(cert.serial_number, "x"),
                    cert.fingerprint(hashes.SHA256()).hex(), is_ca)


# -- the Secret -------------------------------------------------------------------

@dataclass(frozen=True)
class TlsSecret:
    """A TLS Secret read and checked."""

    namespace: str
    name: str
    leaf: CertInfo
    """The first certificate of ``tls.crt``: the one the server presents."""
    chain: tuple[CertInfo, ...]
    """The certificates after it (intermediates)."""
    chain_in_order: bool
    """Each certificate is issued by the next one (by name), as clients expect them sent."""
    key_matches: bool | None
    """``tls.key`` is the private key of the leaf; None when the key was not read (a snapshot keeps
    ``tls.crt`` only: :func:`read_tls_secret` with ``with_key=False``)."""
    key_type: str
    """``RSA 2048``, ``EC secp256r1``, ``Ed25519`` ('' when the key was not read)."""

    @property
    def text(self) -> str:
        return f"Secret {self.namespace}/{self.name}"


def _decoded(data: Mapping[str, Any], key: str, where: str) -> bytes:
    value = data.get(key)
    if not value:
        raise TlsSecretError("missing-key", f"{where} has no data[{key!r}]: a TLS Secret needs tls.crt and tls.key")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TlsSecretError("not-base64", f"{where} data[{key!r}] is not base64 (kubectl create secret tls "
                                           "encodes it; a manifest's data must be base64, stringData plain)") from None


def _key_type(key: Any) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey):
        return "Ed448"
    return type(key).__name__


def read_tls_secret(secret: Mapping[str, Any], with_key: bool = True) -> TlsSecret:
    """Read a ``kubectl get secret -o json`` dict; :class:`TlsSecretError` names what is wrong.

    ``with_key`` False: the Secret holds the certificate only (what a snapshot saves: never the
    key); ``tls.key`` is then neither needed nor read, and ``key_matches`` is None."""
    meta = secret.get("metadata") or {}
    where = f"Secret {meta.get('namespace', '')}/{meta.get('name', '?')}"
    typ = secret.get("type") or "Opaque"
    if typ != TLS_SECRET_TYPE:
        raise TlsSecretError("wrong-type", f"{where} has type {typ}, not {TLS_SECRET_TYPE} (Gateway API "
                                           "implementations need that type; create it with kubectl create secret tls)")
    data = secret.get("data") or {}
    crt_bytes = _decoded(data, "tls.crt", where)
    key_bytes = _decoded(data, "tls.key", where) if with_key else b""
    try:
        certs = x509.load_pem_x509_certificates(crt_bytes)
    except ValueError:
        hint = ""
        try:
            x509.load_der_x509_certificate(crt_bytes)
            hint = " (it is DER: convert with openssl x509 -inform der -outform pem)"
        except ValueError:
            pass
        raise TlsSecretError("not-pem", f"{where} data['tls.crt'] is not a PEM certificate{hint}") from None
    infos = tuple(cert_info(c) for c in certs)
    in_order = all(infos[i].issuer == infos[i + 1].subject for i in range(len(infos) - 1))
    if not with_key:
        return TlsSecret(meta.get("namespace", ""), meta.get("name", "?"), infos[0], infos[1:], in_order, None, "")
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except TypeError:
        raise TlsSecretError("bad-key", f"{where} data['tls.key'] is encrypted: servers need it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsSecretError("bad-key", f"{where} data['tls.key'] is not a PEM private key") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    key_matches = certs[0].public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)
    return TlsSecret(meta.get("namespace", ""), meta.get("name", "?"), infos[0], infos[1:], in_order, key_matches,
                     _key_type(key))


# -- host coverage ----------------------------------------------------------------

def dns_name_covers(pattern: str, host: str) -> bool:
    """One SAN DNS name against a host (RFC 6125: ``*`` only as the whole left-most label, one label)."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if "*" not in pattern:
        return pattern == host
    first, dot, rest = pattern.partition(".")
    if first != "*" or not dot or "*" in rest or "." not in rest:
        return False  # partial (f*.x), not left-most, or *.tld: browsers refuse these
    label, hdot, host_rest = host.partition(".")
    return bool(label) and bool(hdot) and host_rest == rest


@dataclass(frozen=True)
class Coverage:
    """Does a certificate cover a host?"""

    covered: bool
    by: str | None
    """The SAN that covers it."""
    detail: str
    """One sentence (why not, when not)."""


def covers(cert: CertInfo, host: str) -> Coverage:
    """Whether ``cert`` covers ``host`` (rules in the module docstring)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        hit = next((s for s in cert.ip_addresses if ipaddress.ip_address(s) == ip), None)
        if hit:
            return Coverage(True, hit, f"IP SAN {hit} covers {host}")
        return Coverage(False, None, f"no IP SAN is {host} (IP SANs: {', '.join(cert.ip_addresses) or 'none'}); "
                                     "DNS names never cover an IP")
    hit = next((n for n in cert.dns_names if dns_name_covers(n, host)), None)
    if hit:
        return Coverage(True, hit, f"SAN {hit} covers {host}")
    if not cert.names:
        cn = f" (its CN is {cert.common_name})" if cert.common_name else ""
        return Coverage(False, None, f"the certificate has no subjectAltName{cn}: clients ignore the CN, so it "
                                     "covers no host")
    near = [n for n in cert.dns_names if n.startswith("*.") and host.lower().endswith(n[1:])]
    if near:
        return Coverage(False, None, f"{near[0]} covers exactly one label before {near[0][2:]}, not {host}")
    apex = [n for n in cert.dns_names if n.startswith("*.") and host.lower() == n[2:]]
    if apex:
        return Coverage(False, None, f"{apex[0]} does not cover {host} itself: add {host} as a SAN")
    return Coverage(False, None, f"no SAN covers {host} (SANs: {', '.join(cert.names)})")


# -- validity ---------------------------------------------------------------------

@dataclass(frozen=True)
class Validity:
    """A certificate's validity period against a given time."""

    state: str
    """``valid``, ``expiring`` (ends within the window), ``expired`` or ``not-yet-valid``."""
    days_left: float
    """Days until notAfter (negative once expired)."""
    detail: str


def validity(cert: CertInfo, now: datetime, expiring_days: int = EXPIRING_DAYS) -> Validity:
    """``cert`` at ``now`` (a naive ``now`` is read as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    left = (cert.not_after - now) / timedelta(days=1)
    end = cert.not_after.strftime("%Y-%m-%d %H:%M UTC")
    if now < cert.not_before:
        start = cert.not_before.strftime("%Y-%m-%d %H:%M UTC")
        return Validity("not-yet-valid", left, f"not valid before {start} (check the issuer's and the nodes' clocks)")
    if now > cert.not_after:  # RFC 5280: notAfter itself is still inside the validity period
        return Validity("expired", left, f"expired on {end} ({-left:.0f} days ago)")
    if left <= expiring_days:
        return Validity("expiring", left, f"expires on {end}, in {left:.1f} days")
    return Validity("valid", left, f"valid until {end} ({left:.0f} days)")
