"""Outside-in hop (``tls``): the certificate served for the host.

An Ingress's ``spec.tls`` entry that covers the host (across the Ingresses of its class, as its
controller merges them), or the ``tls.certificateRefs`` of the Gateway listener that takes the
URL (a Secret in another namespace needs a ReferenceGrant). The Secret must exist in the
namespace the spec names, be of type ``kubernetes.io/tls``, hold a PEM certificate that covers
the host and is valid now; live, its key must be the certificate's (read in memory only: a
snapshot keeps ``tls.crt`` alone, so offline the key is not checked). The certificate itself is
read by :mod:`kubectl_netdoctor.routing.tls`.

Reading a Secret needs ``get secrets`` in its namespace; refused, this hop is not verified.
"""

from __future__ import annotations

from datetime import datetime, timezone

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, Obj, conclude, finding, fix_text, skipped
from kubectl_netdoctor.checks.outside import view
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.model import Finding, StepResult
from kubectl_netdoctor.routing import gateway as gw
from kubectl_netdoctor.routing import refgrants
from kubectl_netdoctor.routing import tls as certs
from kubectl_netdoctor.routing.controllers import TRAEFIK_ROUTER_TLS, traefik_https_routed
from kubectl_netdoctor.routing.ingress import IngressTls

STEP_ID = "tls"
TITLE = "The certificate for the host is valid"


def _create_secret(namespace: str, name: str) -> str:
    return f"kubectl -n {namespace} create secret tls {name} --cert=tls.crt --key=tls.key"


class _Refused(Exception):
    pass


def read_secret(ctx: Context, namespace: str, name: str) -> Obj | None:
    try:
        return ctx.get("Secret", namespace, name)
    except Forbidden as err:
        raise _Refused(f"{err}: the certificate is not verified") from None


def secret_findings(ctx: Context, namespace: str, name: str, where: str, hosts: list[str]) -> tuple[list[Finding], str]:
    """Everything wrong with the TLS Secret ``namespace/name`` that ``where`` names, for ``hosts``."""
    secret = read_secret(ctx, namespace, name)
    if secret is None:
        return [finding(
            "TLS_SECRET_NOT_FOUND",
            f"{where} names Secret {namespace}/{name}, which does not exist: the controller serves its default "
            "certificate instead (or refuses the listener)",
            [f"Secret {namespace}/{name}: not found"],
            fix_text("create it in that namespace (a Secret in another namespace does not count):",
                     _create_secret(namespace, name)))], f"Secret {namespace}/{name} missing"
    data = secret.get("data") or {}
    try:
        read = certs.read_tls_secret(secret, with_key="tls.key" in data or not ctx.options.offline)
    except certs.TlsSecretError as err:
        code = "TLS_SECRET_WRONG_TYPE" if err.code == "wrong-type" else "TLS_SECRET_INVALID"
        return [finding(code, f"{where}: {err}", [f"Secret {namespace}/{name}: type {secret.get('type') or 'Opaque'}, "
                                                  f"data keys {', '.join(sorted(data)) or 'none'}"],
                        fix_text("recreate it from the PEM certificate and key:",
                                 f"kubectl -n {namespace} delete secret {name}", _create_secret(namespace, name)))], \
            f"Secret {namespace}/{name} unreadable"
    found: list[Finding] = []
    leaf = read.leaf
    shown = (f"Secret {namespace}/{name}: {leaf.subject}, issuer {leaf.issuer}, SANs {', '.join(leaf.names) or 'none'}, "
             f"valid {leaf.not_before:%Y-%m-%d} to {leaf.not_after:%Y-%m-%d}")
    for host in hosts:
        cover = certs.covers(leaf, host)
        if not cover.covered:
            found.append(finding("TLS_HOST_NOT_COVERED", f"the certificate of Secret {namespace}/{name} does not cover "
                                 f"{host}: {cover.detail}", [shown],
                                 fix_text(f"issue a certificate whose subjectAltName covers {host}, then replace the "
                                          "Secret with it:", f"kubectl -n {namespace} delete secret {name}",
                                          _create_secret(namespace, name))))
    valid = certs.validity(leaf, datetime.now(timezone.utc))
    if valid.state in ("expired", "not-yet-valid"):
        found.append(finding("TLS_EXPIRED" if valid.state == "expired" else "TLS_NOT_YET_VALID",
                             f"the certificate of Secret {namespace}/{name} is {valid.detail}", [shown],
                             "renew it (cert-manager: kubectl describe certificate), then replace the Secret"))
    elif valid.state == "expiring":
        found.append(finding("TLS_EXPIRING", f"the certificate of Secret {namespace}/{name} {valid.detail}", [shown],
                             "renew it before then (cert-manager renews 30 days before by default)"))
    if read.key_matches is False:
        found.append(finding("TLS_KEY_MISMATCH", f"tls.key of Secret {namespace}/{name} is not the key of its "
                             "certificate: the TLS handshake fails", [shown, f"key: {read.key_type}"],
                             fix_text("recreate it from the matching pair:", f"kubectl -n {namespace} delete secret {name}",
                                      _create_secret(namespace, name))))
    elif read.key_matches is None:
        found.append(finding("TLS_KEY_NOT_READ", f"Secret {namespace}/{name}: the snapshot holds the certificate only, "
                             "so whether tls.key matches it is not checked", [shown]))
    if not read.chain_in_order:
        found.append(finding("TLS_CHAIN_ORDER", f"tls.crt of Secret {namespace}/{name} does not list the leaf first, "
                             "then each issuer: some clients fail to build the chain",
                             [f"{c.subject} issued by {c.issuer}" for c in (leaf, *read.chain)],
                             "put the certificates in order: the leaf, then its issuer, and so on"))
    if leaf.self_signed and not read.chain:
        found.append(finding("TLS_SELF_SIGNED", f"the certificate of Secret {namespace}/{name} is self-signed: "
                             "clients do not trust it unless told to", [shown],
                             "use a certificate from a CA the clients trust (cert-manager, your company CA)"))
    return found, f"Secret {namespace}/{name}: {', '.join(leaf.names[:3]) or leaf.subject}, until {leaf.not_after:%Y-%m-%d}"


def run(ctx: Context) -> StepResult:
    obj = view.target(ctx)
    if obj is None:
        return skipped(STEP_ID, TITLE, f"{view.target_text(ctx)} does not exist")
    try:
        if ctx.kind == "HTTPRoute":
            return _gateway_tls(ctx)
        return _ingress_tls(ctx, obj)
    except _Refused as err:
        return skipped(STEP_ID, TITLE, str(err))


def _ingress_tls(ctx: Context, obj: Obj) -> StepResult:
    url = view.request(ctx)
    if url is not None:
        m = view.ingress_match(ctx)
        entry = m.tls if m else None
        if entry is None:
            if url.scheme != "https":
                return skipped(STEP_ID, TITLE, f"http, and no spec.tls entry of the class covers {url.host}")
            return conclude(STEP_ID, TITLE, [finding(
                "TLS_NO_CERTIFICATE_FOR_HOST",
                f"no spec.tls entry of the Ingresses of class {m.class_name if m else '?'} lists {url.host}: the "
                "controller answers https with its default certificate, which clients refuse",
                [f"spec.tls of {ctx.namespace}/{ctx.name}: "
                 + ("; ".join(f"hosts {', '.join(t.get('hosts') or ['*'])} -> {t.get('secretName') or '-'}"
                              for t in (obj.get("spec") or {}).get("tls") or []) or "none")],
                fix_text(f"add a spec.tls entry with hosts: [{url.host}] and the Secret of its certificate:",
                         f"kubectl -n {ctx.namespace} edit ingress {ctx.name}"))], f"no certificate for {url.host}")
        entries = [(entry, [url.host])]
    else:
        tls = (obj.get("spec") or {}).get("tls") or []
        if not tls:
            return skipped(STEP_ID, TITLE, "the Ingress has no spec.tls: it is served over http")
        entries = [(IngressTls(ctx.namespace, ctx.name, i, t.get("secretName"), tuple(t.get("hosts") or ())),
                    list(t.get("hosts") or ())) for i, t in enumerate(tls)]
    found: list[Finding] = []
    summaries = []
    if url is not None and url.scheme == "https" and (f := traefik_https_not_routed(ctx, obj)):
        found.append(f)
        summaries.append("Traefik routes no https to it")
    for entry, hosts in entries:
        if not entry.secret_name:
            summaries.append(f"{entry.text}: the controller's default certificate")
            continue
        more, summary = secret_findings(ctx, entry.namespace, entry.secret_name, entry.text, hosts)
        found += more
        summaries.append(summary)
    return conclude(STEP_ID, TITLE, found, "; ".join(summaries))


def traefik_https_not_routed(ctx: Context, obj: Obj) -> Finding | None:
    """Traefik serves an Ingress's https only with its router.tls annotation (or an entrypoint with TLS for
    every router): the certificate alone is loaded, and https requests for the host get 404."""
    c = view.controller(ctx)
    if c.known is None or c.known.product != "Traefik" or not c.pods:
        return None
    args = [str(a) for p in c.pods for ct in (p.get("spec") or {}).get("containers") or []
            for a in [*(ct.get("command") or []), *(ct.get("args") or [])]]
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if traefik_https_routed(annotations, args) is not False:
        return None
    return finding(
        "TLS_HTTPS_NOT_ROUTED",
        f"Traefik does not route https to Ingress {ctx.namespace}/{ctx.name}: without the annotation "
        f'{TRAEFIK_ROUTER_TLS}: "true" (and no entrypoint with TLS for every router), spec.tls only loads the '
        "certificate, and https requests for its hosts get 404",
        [f"Ingress {ctx.namespace}/{ctx.name}: no {TRAEFIK_ROUTER_TLS} annotation",
         f"Traefik pod {objects.ref(c.pods[0])}: no --entrypoints.*.http.tls argument"],
        fix_text("let Traefik route https to it:",
                 f'kubectl -n {ctx.namespace} annotate ingress {ctx.name} {TRAEFIK_ROUTER_TLS}="true"'))


def _gateway_tls(ctx: Context) -> StepResult:
    gateway = view.chosen_gateway(ctx)
    if gateway is None:
        return skipped(STEP_ID, TITLE, "no Gateway of the route exists (see listener)")
    url = view.request(ctx)
    wanted: list[tuple[gw.Listener, list[str]]] = []
    if url is not None:
        hit = view.route_match(ctx)
        listener = hit[1].listener if hit else None
        if listener is None:
            return skipped(STEP_ID, TITLE, "no listener takes the URL (see listener)")
        if listener.protocol != "HTTPS":
            return skipped(STEP_ID, TITLE, f"http: {listener.text} has no TLS")
        wanted.append((listener, [url.host]))
    else:
        for p in view.parents(ctx):
            if p.gateway is None or objects.ref(p.gateway) != objects.ref(gateway):
                continue
            for v in p.attachment.listeners:
                if v.attached and v.listener.protocol == "HTTPS" and all(v.listener != w for w, _ in wanted):
                    hosts = list(v.hostnames.hostnames) if v.hostnames and not v.hostnames.any_host else []
                    wanted.append((v.listener, hosts))
        if not wanted:
            return skipped(STEP_ID, TITLE, "the route is attached to no HTTPS listener: it is served over http")
    refs = gw.certificate_refs(gateway, [g for ns in sorted({r[2] for lst, _ in wanted for r in lst.certificate_refs})
                                         for g in view.grants(ctx, ns)])
    found: list[Finding] = []
    summaries = []
    gref = objects.ref(gateway)
    for listener, hosts in wanted:
        if listener.tls_mode == "Passthrough":
            summaries.append(f"{listener.text}: TLS passthrough, the backend's certificate")
            continue
        mine = [r for r in refs if r.listener == listener.name]
        if not mine:
            found.append(finding("TLS_INVALID_CERT_REF", f"{listener.text} of Gateway {gref} terminates TLS but names "
                                 "no certificateRefs", [f"listener {listener.name}: tls.certificateRefs: none"],
                                 fix_text("add the TLS Secret to the listener's tls.certificateRefs:",
                                          f"kubectl -n {gateway['metadata'].get('namespace')} edit gateway "
                                          f"{gateway['metadata']['name']}")))
            continue
        for ref in mine:
            codes = {p.code: p for p in ref.problems}
            if "invalid-kind" in codes:
                found.append(finding("TLS_INVALID_CERT_REF", f"Gateway {gref} {codes['invalid-kind'].detail}",
                                     [ref.text], "point it at a Secret of type kubernetes.io/tls"))
                continue
            if "ref-not-permitted" in codes:
                found.append(finding("TLS_REF_NOT_PERMITTED", f"Gateway {gref} {codes['ref-not-permitted'].detail}",
                                     [ref.text, *(ref.grant.near_misses if ref.grant else ())],
                                     grant_fix(refgrants.Reference(gw.GATEWAY_GROUP, "Gateway",
                                                                   gateway["metadata"].get("namespace", ""), ref.group,
                                                                   ref.kind, ref.namespace, ref.name))))
                continue
            more, summary = secret_findings(ctx, ref.namespace, ref.name, f"Gateway {gref} {ref.text}", hosts)
            found += more
            summaries.append(summary)
    return conclude(STEP_ID, TITLE, found, "; ".join(summaries))


def grant_fix(ref: refgrants.Reference) -> str:
    """The ReferenceGrant that allows ``ref``, as a command that applies it."""
    import yaml

    manifest = yaml.safe_dump(refgrants.grant_for(ref), sort_keys=False, default_flow_style=False).rstrip("\n")
    return fix_text(f"allow it with a ReferenceGrant in namespace {ref.to_namespace} (or move the object there):",
                    "kubectl apply -f - <<'EOF'\n" + manifest + "\nEOF")
