"""The result types every check produces and every renderer consumes.

Plain frozen dataclasses: checks build them, renderers read them, nothing else
holds behaviour. Cluster objects themselves stay plain dicts in the shape that
``kubectl get -o json`` prints (camelCase keys), so a live API read and a saved
snapshot look identical to the checks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


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
    """The concrete remedy: a kubectl command or the YAML field to change."""
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

    def to_dict(self) -> dict[str, Any]:
        broken = self.broken_step
        return {
            "schema": "netdoctor/v1",
            "verdict": self.verdict.value,
            **self.target_dict(),
            "source": self.source,
            "client": self.client,
            "broken_step": broken.id if broken else None,
            "steps": [s.to_dict() for s in self.steps],
        }


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
        """The first error of the broken hop (else the first error, else warning, anywhere): the headline."""
        broken = self.report.broken_step
        steps = ([broken] if broken else []) + [s for s in self.report.steps if s is not broken]
        for sev in (Severity.ERROR, Severity.WARNING):
            hit = next((f for s in steps for f in s.findings if f.severity is sev), None)
            if hit:
                return hit
        return None

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
