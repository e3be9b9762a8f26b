"""The result types every check produces and every renderer consumes.

Plain frozen dataclasses: checks build them, renderers read them, nothing else
holds behaviour. Cluster objects themselves stay plain dicts in the shape that
``kubectl get -o json`` prints (camelCase keys), so a live API read and a saved
snapshot look identical to the checks.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from kubectl_netdoctor.causes import EXPLAINS_AS_WARNING, explainers


class Severity(str, enum.Enum):
    """How bad a finding is. ``error`` breaks the Service; ``warning`` may; ``info`` is context."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def colour(self) -> str:
        return {"error": "red", "warning": "yellow", "info": "cyan"}[self.value]


class Status(str, enum.Enum):
    """Outcome of one flowchart step."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"

    @property
    def colour(self) -> str:
        return {"pass": "green", "fail": "red", "warn": "yellow", "skip": "dim"}[self.value]


class Verdict(str, enum.Enum):
    """Overall answer. ``inconclusive`` means a step that matters could not run."""

    OK = "ok"
    PROBLEM = "problem"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Finding:
    """One thing the diagnosis noticed."""

    code: str
    """Stable identifier from :mod:`kubectl_netdoctor.codes`; runbooks key off it."""
    severity: Severity
    message: str
    """One line, specific to this Service (names, IPs, ports filled in)."""
    evidence: tuple[str, ...] = ()
    """What was observed, one fact per line (object fields, rule text, probe output)."""
    fix: str = ""
    """The concrete remedy, as lines: prose, and each command whole on a line of its own (a heredoc runs
    from its ``<<'EOF'`` line to its ``EOF`` line), so that it pastes: :func:`fix_parts` tells them apart."""
    count: int = 1
    """How many findings this one stands for: more than 1 only where the runner summed up a step's
    many findings of one code ("... and K more"); the JSON carries it only then."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": list(self.evidence),
            "fix": self.fix,
        }
        if self.count != 1:
            out["count"] = self.count
        return out


COMMAND_WORDS = frozenset({
    "kubectl", "curl", "ss", "conntrack", "iptables", "iptables-save", "iptables-nft-save", "iptables-legacy-save",
    "ip6tables-save", "ipvsadm", "nft", "sysctl", "calicoctl", "hubble", "systemctl",
})
"""The programs a fix tells the reader to run. A fix line whose first word is one of them is a command."""

_HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?\s*$")


def is_command(line: str) -> bool:
    """A line of a fix that is a command to paste (see :data:`COMMAND_WORDS`)."""
    return line.split(" ", 1)[0] in COMMAND_WORDS


def fix_parts(fix: str) -> list[tuple[str, bool]]:
    """A fix as ``(text, is_command)`` parts in order: each command whole (a heredoc with its body and
    closing word, over several lines), and the prose between them one part per line."""
    parts: list[tuple[str, bool]] = []
    lines = fix.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not is_command(line):
            parts.append((line, False))
            continue
        heredoc = _HEREDOC.search(line)
        if heredoc:
            end = next((j for j in range(i, len(lines)) if lines[j] == heredoc.group(1)), len(lines) - 1)
            line, i = "\n".join(lines[i - 1:end + 1]), end + 1
        parts.append((line, True))
    return parts


@dataclass(frozen=True)
class ProbeResult:
    """One live probe (TCP connect, HTTP GET, DNS query), kept verbatim for the JSON."""

    kind: str
    """``tcp``, ``http``, ``dns``, ``listen``, ``rules``..."""
    target: str
    ok: bool
    detail: str = ""
    latency_ms: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "target": self.target, "ok": self.ok, "detail": self.detail}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 1)
        if self.data:
            out["data"] = self.data
        return out


class Basis(str, enum.Enum):
    """What a step's status rests on: traffic the probes sent, the objects and rules read, or nothing."""

    LIVE = "live"
    """A live probe (connect, GET, lookup, listener read) confirmed or refuted the hop."""
    MODEL = "model"
    """Only the API objects and node rules were read: what the cluster should do, not what it did."""
    NONE = "none"
    """Not verified at all (skipped)."""


@dataclass(frozen=True)
class Verified:
    """How a step's status was established, for ``listen PASS (live: 3/3 endpoints)``."""

    basis: Basis
    detail: str = ""
    """What was verified, in a few words (``3/3 endpoints``, ``rules of 1/1 nodes``)."""

    def describe(self) -> str:
        if self.basis is Basis.LIVE:
            return f"live: {self.detail}" if self.detail else "live"
        if self.basis is Basis.MODEL:
            return f"model only: {self.detail}" if self.detail else "model only"
        return "not verified"

    def to_dict(self) -> dict[str, Any]:
        return {"basis": self.basis.value, "detail": self.detail}


@dataclass(frozen=True)
class StepResult:
    """The outcome of one flowchart step."""

    id: str
    """Step identifier, one per check module (``service``, ``endpoints`` ...)."""
    title: str
    status: Status
    summary: str = ""
    """One line for the step table."""
    findings: tuple[Finding, ...] = ()
    skip_reason: str = ""
    """Why the step did not run; set exactly when ``status`` is ``skip``."""
    blocked: bool = False
    """True when the skip was forced by an error (forbidden, timeout, crash), not by design."""
    probes: tuple[ProbeResult, ...] = ()
    verified: Verified | None = None
    """What the status rests on; None means the default: ``none`` for a skip, else ``model``."""

    @property
    def verification(self) -> Verified:
        if self.verified is not None:
            return self.verified
        return Verified(Basis.NONE) if self.status is Status.SKIP else Verified(Basis.MODEL)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "verified": self.verification.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.status is Status.SKIP:
            out["skip_reason"] = self.skip_reason
            out["blocked"] = self.blocked
        if self.probes:
            out["probes"] = [p.to_dict() for p in self.probes]
        return out


@dataclass(frozen=True)
class Report:
    """The whole diagnosis of one target: its path's hops (``steps``) in order."""

    namespace: str
    service: str
    """The target's name (a Service's, for the path kind ``Service``)."""
    steps: tuple[StepResult, ...]
    source: str
    """Where the objects came from: ``cluster <context>`` or ``snapshot <path>``."""
    client: str = ""
    """Who is assumed to be calling: ``pod ns/name``, ``any pod in ns X`` or ``external``."""
    kind: str = "Service"
    """The path kind (:mod:`kubectl_netdoctor.paths`): what ``namespace``/``service`` name."""

    @property
    def verdict(self) -> Verdict:
        if any(f.severity is Severity.ERROR for s in self.steps for f in s.findings):
            return Verdict.PROBLEM
        if any(s.status is Status.SKIP and s.blocked for s in self.steps):
            return Verdict.INCONCLUSIVE
        return Verdict.OK

    @property
    def broken_step(self) -> StepResult | None:
        """The first failing step in flowchart order: the hop to fix first."""
        return next((s for s in self.steps if s.status is Status.FAIL), None)

    def findings(self) -> list[tuple[StepResult, Finding]]:
        """Every finding with its step, in flowchart order."""
        return [(s, f) for s in self.steps for f in s.findings]

    def explained_by(self, finding: Finding) -> tuple[StepResult, Finding] | None:
        """The finding of this report that explains ``finding`` (:mod:`kubectl_netdoctor.causes`), the most
        specific first; None when nothing here does. An explaining finding is an error, or a warning that
        explains a warning, or one of :data:`~kubectl_netdoctor.causes.EXPLAINS_AS_WARNING`."""
        wanted = explainers(finding.code)
        if not wanted:
            return None
        rank = {code: i for i, code in enumerate(wanted)}
        present = [(rank[f.code], n, s, f) for n, (s, f) in enumerate(self.findings())
                   if f.code in rank and f is not finding and _may_explain(f, finding)]
        if not present:
            return None
        _, _, step, hit = min(present, key=lambda t: (t[0], t[1]))
        return step, hit

    def root_of(self, step: StepResult, finding: Finding) -> tuple[StepResult, Finding]:
        """Follow what explains ``finding`` down to a finding nothing in this report explains."""
        seen = {id(finding)}
        while (hit := self.explained_by(finding)) is not None and id(hit[1]) not in seen:
            step, finding = hit
            seen.add(id(finding))
        return step, finding

    def located_cause(self) -> tuple[StepResult, Finding] | None:
        """The cause with its step: the headline error (the first error of the broken hop, else the first
        error in flowchart order) followed down what explains it. None when there is no error."""
        broken = self.broken_step
        errors = [(s, f) for s, f in self.findings() if f.severity is Severity.ERROR]
        if not errors:
            return None
        head = next(((s, f) for s, f in errors if s is broken), errors[0])
        return self.root_of(*head)

    @property
    def cause(self) -> Finding | None:
        """The finding to fix first (the root cause); the broken hop stays the first failing step."""
        hit = self.located_cause()
        return hit[1] if hit else None

    @property
    def label(self) -> str:
        """The target as a list names it within its namespace: ``web`` for a Service (the default path
        kind), ``Ingress/shop`` for another kind."""
        return self.service if self.kind == "Service" else f"{self.kind}/{self.service}"

    def target_dict(self) -> dict[str, Any]:
        """``service`` for the path kind Service (netdoctor/v1 as it always was); ``target`` with its
        ``kind`` for every other path kind."""
        if self.kind == "Service":
            return {"service": {"namespace": self.namespace, "name": self.service}}
        return {"target": {"kind": self.kind, "namespace": self.namespace, "name": self.service}}

    def cause_dict(self) -> dict[str, str] | None:
        """The JSON's ``cause``: the code and step of the root-cause finding (README, "Output")."""
        hit = self.located_cause()
        return {"code": hit[1].code, "step": hit[0].id} if hit else None

    def to_dict(self) -> dict[str, Any]:
        broken = self.broken_step
        return {
            "schema": "netdoctor/v1",
            "verdict": self.verdict.value,
            **self.target_dict(),
            "source": self.source,
            "client": self.client,
            "broken_step": broken.id if broken else None,
            "cause": self.cause_dict(),
            "steps": [s.to_dict() for s in self.steps],
        }


def _may_explain(explaining: Finding, explained: Finding) -> bool:
    if explaining.severity is Severity.ERROR:
        return True
    if explaining.severity is Severity.WARNING:
        return explained.severity is not Severity.ERROR or explaining.code in EXPLAINS_AS_WARNING
    return False


VERDICT_RANK = {Verdict.OK: 0, Verdict.INCONCLUSIVE: 1, Verdict.PROBLEM: 2}
"""Worst first when combining Services: a problem found is a definite answer, so it outranks
another Service that could not be diagnosed (exit 1 before 3, as one Service's report does)."""


def worst_verdict(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The verdict of several Services together; ``ok`` for none."""
    return max(verdicts, key=VERDICT_RANK.__getitem__, default=Verdict.OK)


@dataclass(frozen=True)
class ScannedService:
    """One Service of a scan: its full report and how long its diagnosis took."""

    report: Report
    elapsed_s: float
    """Wall time of this Service's walk (its share of the shared reads and probes is not split out)."""

    @property
    def top_finding(self) -> Finding | None:
        """The headline: the report's cause; without an error, what explains its first warning."""
        cause = self.report.cause
        if cause is not None:
            return cause
        warning = next(((s, f) for s, f in self.report.findings() if f.severity is Severity.WARNING), None)
        return self.report.root_of(*warning)[1] if warning else None

    def summary_dict(self) -> dict[str, Any]:
        broken, top = self.report.broken_step, self.top_finding
        return {
            "kind": self.report.kind,
            "namespace": self.report.namespace,
            "name": self.report.service,
            "verdict": self.report.verdict.value,
            "broken_step": broken.id if broken else None,
            "top_finding": top.code if top else None,
            "elapsed_s": round(self.elapsed_s, 2),
        }


@dataclass(frozen=True)
class ScanReport:
    """Every Service in a scan's scope, in namespace then name order."""

    services: tuple[ScannedService, ...]
    source: str
    scope: str
    """What was scanned: ``namespace shop``, ``all namespaces``, with ``-l`` if given."""
    elapsed_s: float = 0.0
    attempts: int = 1
    """Diagnosis rounds run (more than 1 under ``--wait``); the report is the last."""

    @property
    def noun(self) -> str:
        """What the round diagnosed, for headings: the one kind of all its targets (``Service``), else ``target``."""
        kinds = {s.report.kind for s in self.services} or {"Service"}
        return kinds.pop() if len(kinds) == 1 else "target"

    @property
    def reports(self) -> tuple[Report, ...]:
        return tuple(s.report for s in self.services)

    @property
    def verdict(self) -> Verdict:
        return worst_verdict([r.verdict for r in self.reports])

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for r in self.reports:
            out[r.verdict.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "netdoctor/scan/v1",
            "verdict": self.verdict.value,
            "source": self.source,
            "scope": self.scope,
            "counts": self.counts(),
            "elapsed_s": round(self.elapsed_s, 2),
            "attempts": self.attempts,
            "services": [s.summary_dict() for s in self.services],
            "reports": [s.report.to_dict() for s in self.services],
        }
