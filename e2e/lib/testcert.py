"""A throwaway self-signed TLS Secret, made at run time for a scenario (no key is ever committed).

    python e2e/lib/testcert.py NAME HOST [HOST...] [--days-ago N --days M] | kubectl -n NS apply -f -

prints a ``kubernetes.io/tls`` Secret ``NAME`` (JSON) whose certificate is self-signed, names
each HOST in its subjectAltName (and the first as its CN) and is valid from ``--days-ago``
days before now for ``--days`` days: ``--days-ago 30 --days 10`` ended 20 days ago
(expired). The key is a fresh P-256 key, held in memory and printed into the Secret only.
Scenarios run it from a ``break:`` command as ``${PYTHON} ${E2E_LIB}/testcert.py``.
"""

from __future__ import annotations

import argparse
import base64
import json
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def tls_secret(name: str, hosts: list[str], days_ago: float = 1, days: float = 30) -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    start = datetime.now(timezone.utc) - timedelta(days=days_ago)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt = cert.public_bytes(serialization.Encoding.PEM)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": name},
            "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(pem_key).decode()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("hosts", nargs="+")
    parser.add_argument("--days-ago", type=float, default=1, help="valid from this many days before now (default 1)")
    parser.add_argument("--days", type=float, default=30, help="valid for this many days (default 30)")
    args = parser.parse_args()
    print(json.dumps(tls_secret(args.name, args.hosts, args.days_ago, args.days)))


if __name__ == "__main__":
    main()
