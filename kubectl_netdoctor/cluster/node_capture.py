"""Getting a node's kube-proxy rules: by exec into its kube-proxy pod, with the opt-in node-access pod,
or locally when we run on it. Which command shows which mode's rules is :mod:`kubectl_netdoctor.kubeproxy.capture`.

Locally, python-iptables (libiptc) is only trusted on the legacy backend: it cannot
see nf_tables rules, so on an nf_tables node (most current distributions) a
"chain missing" from it would be a lie. We detect the backend and read with the
matching ``iptables-save``; python-iptables is the fallback when that binary is absent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable

from kubectl_netdoctor.cluster.api_reader import LiveReader
from kubectl_netdoctor.cluster.probe import ExecResult, Executor, NodeAccessSession, ProbeUnavailable
from kubectl_netdoctor.kubeproxy.capture import (
    CONNTRACK_FILES,
    parse_conntrack,
    rule_command,
    service_rule_command,
    split_conntrack,
    targeted_output_whole,
)
from kubectl_netdoctor.kubeproxy.view import ServiceRef

RuleCapture = tuple[dict[str, str], tuple[int, int] | None, str]
"""(captures by kind, conntrack (count, max) or None, error) of one node."""


def capture_with(run: Callable[[list[str]], ExecResult], where: str, mode: str,
                 service: ServiceRef | None = None) -> RuleCapture:
    """Run the rule dump and read the conntrack counters through ``run`` (an exec in a hostNetwork
    pod: kube-proxy's own, or the opt-in node-access pod). With ``service``, only that Service's
    chains where the mode allows (:func:`~kubectl_netdoctor.kubeproxy.capture.service_rule_command`),
    else (or when that fails) the whole dump."""
    captures, error = {}, ""
    conntrack, counted = None, False
    targeted = service_rule_command(mode, service) if service is not None else None
    if targeted is not None:
        res = run(targeted[1])
        text, conntrack, counted = split_conntrack(res.stdout)
        if res.rc == 0 and targeted_output_whole(targeted[0], text):
            captures[targeted[0]] = text
        else:
            conntrack, counted = None, False
    if not captures:
        key, command = rule_command(mode)
        res = run(command)
        if res.rc == 0 and res.stdout.strip():
            captures[key] = res.stdout
        else:
            error = f"{' '.join(command)} in {where}: {res.error or res.stderr.strip()[:200] or f'exit {res.rc}'}"
    if not counted:
        ct = run(["cat", *CONNTRACK_FILES])
        conntrack = parse_conntrack(ct.stdout) if ct.rc == 0 else None
    return captures, conntrack, error


def capture_from_pod(executor: Executor, pod: dict, mode: str, service: ServiceRef | None = None) -> RuleCapture:
    """Exec the rule dump (of ``service`` only, where the mode allows) and the conntrack counters in a
    (hostNetwork) kube-proxy pod."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    return capture_with(lambda command: executor.exec(ns, name, command, timeout=30), f"{ns}/{name}", mode,
                        service)


def capture_via_node_pod(reader: LiveReader, node: str, image: str, mode: str) -> RuleCapture:
    """Start a node-access pod on ``node``, read its rules, delete it."""
    session = NodeAccessSession(reader, node, image)
    try:
        session.start()
        return capture_with(lambda command: session.exec(command, timeout=30), session.describe(), mode)
    except ProbeUnavailable as err:
        return {}, None, f"--node-access on {node}: {err}"
    finally:
        session.stop()


# -- on the node itself ------------------------------------------------------------

def is_local_address(ip: str) -> bool:
    """True when this machine owns ``ip`` (binding to it only works for local addresses)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((ip, 0))
        return True
    except OSError:
        return False


def iptables_backend() -> str | None:
    """``nf_tables`` or ``legacy``, from ``iptables -V`` (``iptables v1.8.9 (nf_tables)``)."""
    if not shutil.which("iptables"):
        return None
    try:
        out = subprocess.run(["iptables", "-V"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if "nf_tables" in out:
        return "nf_tables"
    return "legacy" if "legacy" in out or "v1." in out else None


def _run(command: list[str]) -> str | None:
    if not shutil.which(command[0]):
        return None
    try:
        res = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 and res.stdout.strip() else None


def _iptc_nat_chains() -> str | None:
    """Legacy backend without iptables-save: python-iptables, rendered as ``iptables-save`` chain headers
    and rules, so the same parser reads it."""
    try:
        import iptc  # type: ignore[import-not-found]
    except ImportError:
        return None
    lines = ["*nat"]
    table = iptc.Table(iptc.Table.NAT)
    table.refresh()
    for chain in table.chains:
        lines.append(f":{chain.name} {chain.get_policy().name if chain.is_builtin() else '-'} [0:0]")
    for chain in table.chains:
        for rule in chain.rules:
            parts = [f"-A {chain.name}"]
            if rule.dst and rule.dst != "0.0.0.0/0.0.0.0":
                parts.append(f"-d {rule.dst.split('/')[0]}/32")
            if rule.protocol and rule.protocol != "ip":
                parts.append(f"-p {rule.protocol}")
            for match in rule.matches:
                if match.name == "comment":
                    parts.append(f'-m comment --comment "{match.comment}"')
                elif match.name in ("tcp", "udp") and match.dport:
                    parts.append(f"-m {match.name} --dport {match.dport}")
                elif match.name == "statistic" and match.probability:
                    parts.append(f"-m statistic --mode random --probability {match.probability}")
            target = rule.target
            parts.append(f"-j {target.name}")
            if target.name == "DNAT" and getattr(target, "to_destination", None):
                parts.append(f"--to-destination {target.to_destination}")
            lines.append(" ".join(parts))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def capture_locally(mode: str) -> RuleCapture:
    """Read the rules of the node we run on (needs root)."""
    if os.geteuid() != 0:
        return {}, None, "not root: cannot read this node's rules locally"
    captures: dict[str, str] = {}
    error = ""
    if mode == "iptables":
        backend = iptables_backend()
        if backend == "nf_tables":
            text = _run(["iptables-nft-save"]) or _run(["iptables-save"])
        else:
            text = _run(["iptables-legacy-save"]) or _run(["iptables-save"]) or _iptc_nat_chains()
        if text:
            captures["iptables-save"] = text
        else:
            error = f"no iptables-save for the {backend or 'unknown'} backend on this node"
    else:
        key, command = rule_command(mode)
        text = _run(command)
        if text:
            captures[key] = text
        else:
            error = f"{' '.join(command)} failed on this node"
    conntrack = None
    try:
        conntrack = parse_conntrack(" ".join(open(f, encoding="ascii").read() for f in CONNTRACK_FILES))
    except OSError:
        pass
    return captures, conntrack, error
