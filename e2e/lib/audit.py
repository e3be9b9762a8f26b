"""The e2e cluster's API audit log, read back by the tests.

``e2e/cluster/up`` starts kube-apiserver with ``e2e/cluster/audit-policy.yaml``: every
request of every user at Metadata level, one JSON event per line, in
``$NETDOCTOR_E2E_DIR/logs/kube-apiserver-audit.log`` (rotated by size; backups next to
it). A test marks the log's end before it runs the tool, then reads what was appended
since, filtered by user: what the tool did to the cluster, as the API server saw it.

Another cluster (``NETDOCTOR_E2E_KUBECONFIG``) can point ``NETDOCTOR_E2E_AUDIT_LOG`` at
its own audit log file (same policy, readable from here).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness import STATE_DIR, Kubectl, wait_for

AUDIT_LOG = Path(os.environ.get("NETDOCTOR_E2E_AUDIT_LOG", STATE_DIR / "logs" / "kube-apiserver-audit.log"))

READ_VERBS = frozenset({"get", "list", "watch"})
#: Connect subresources: exec and port-forward create no object. The Python client opens
#: them as a websocket (an HTTP GET, so verb ``get``); kubectl POSTs (``create``).
CONNECT_SUBRESOURCES = frozenset({"exec", "portforward", "attach"})


@dataclass(frozen=True)
class Request:
    """One API request, from its final audit event."""

    audit_id: str
    stage: str
    verb: str
    user: str
    impersonated: str
    uri: str
    resource: str       # "" for non-resource URLs (/version, /apis)
    subresource: str
    group: str
    namespace: str
    name: str
    code: int | None

    @property
    def what(self) -> str:
        """``pods/exec``, ``endpointslices.discovery.k8s.io``, or the URL path of a non-resource request."""
        if not self.resource:
            return self.uri.split("?", 1)[0]
        res = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{res}/{self.subresource}" if self.subresource else res

    @property
    def is_read(self) -> bool:
        return self.verb in READ_VERBS

    @property
    def is_connect(self) -> bool:
        return self.resource == "pods" and self.subresource in CONNECT_SUBRESOURCES

    @property
    def query(self) -> str:
        return self.uri.split("?", 1)[1] if "?" in self.uri else ""

    def row(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else (self.name or "-")
        return f"{self.verb} {self.what} {where} -> {self.code}"


def parse_event(line: str) -> dict | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None  # a line cut by rotation or being written
    return event if isinstance(event, dict) and event.get("kind") == "Event" else None


def to_request(event: dict) -> Request:
    ref = event.get("objectRef") or {}
    status = event.get("responseStatus") or {}
    return Request(
        audit_id=event.get("auditID", ""),
        stage=event.get("stage", ""),
        verb=event.get("verb", ""),
        user=(event.get("user") or {}).get("username", ""),
        impersonated=(event.get("impersonatedUser") or {}).get("username", ""),
        uri=event.get("requestURI", ""),
        resource=ref.get("resource", ""),
        subresource=ref.get("subresource", ""),
        group=ref.get("apiGroup", ""),
        namespace=ref.get("namespace", ""),
        name=ref.get("name", ""),
        code=status.get("code"),
    )


def requests_of(events: Iterable[dict]) -> list[Request]:
    """One Request per auditID, from its last stage (ResponseComplete, else ResponseStarted/Panic)."""
    rank = {"ResponseStarted": 1, "ResponseComplete": 2, "Panic": 3}
    best: dict[str, dict] = {}
    for event in events:
        aid = event.get("auditID", "")
        if aid not in best or rank.get(event.get("stage", ""), 0) >= rank.get(best[aid].get("stage", ""), 0):
            best[aid] = event
    return [to_request(e) for e in best.values()]


def counts(requests: Iterable[Request]) -> dict[str, int]:
    """``{"verb what [code]": n}``, sorted: the table a test prints and records."""
    c = Counter(f"{r.verb} {r.what}" + (f" [{r.code}]" if r.code and r.code >= 400 else "") for r in requests)
    return dict(sorted(c.items()))


@dataclass(frozen=True)
class Mark:
    inode: int
    offset: int
    at: float


class AuditLog:
    """Append-only reads of the audit log across size rotation (lumberjack renames the full file
    to ``NAME-<timestamp>.log`` and starts a new one)."""

    def __init__(self, path: Path = AUDIT_LOG):
        self.path = path

    def available(self) -> bool:
        return self.path.is_file()

    def mark(self) -> Mark:
        st = self.path.stat()
        return Mark(st.st_ino, st.st_size, time.time())

    def _files(self) -> list[Path]:
        stem, suffix = self.path.stem, self.path.suffix
        backups = sorted(self.path.parent.glob(f"{stem}-*{suffix}"), key=lambda p: p.stat().st_mtime)
        return [*backups, self.path] if self.path.exists() else backups

    def events_since(self, mark: Mark) -> list[dict]:
        events: list[dict] = []
        for f in self._files():
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            if st.st_ino == mark.inode:
                start = mark.offset
            elif st.st_mtime >= mark.at - 1:
                start = 0  # a file begun after the mark
            else:
                continue
            with f.open("rb") as fh:
                fh.seek(start)
                for raw in fh:
                    event = parse_event(raw.decode("utf-8", "replace"))
                    if event is not None:
                        events.append(event)
        return events

    def barrier(self, kubectl: Kubectl, mark: Mark) -> list[dict]:
        """Every event up to now: make one request of our own and wait until the log holds it
        (the log backend writes an event right after its response; this closes that gap)."""
        token = f"netdoctor-e2e-audit-barrier-{uuid.uuid4().hex[:10]}"
        kubectl("get", "namespace", token, "--ignore-not-found")
        found: list[list[dict]] = []

        def seen() -> bool:
            events = self.events_since(mark)
            if any((e.get("objectRef") or {}).get("name") == token and e.get("stage") == "ResponseComplete"
                   for e in events):
                found.append(events)
                return True
            return False
        wait_for(seen, 30, interval=0.2, what=f"the audit log ({self.path}) to record the barrier request")
        return found[-1]

    def requests_by(self, kubectl: Kubectl, mark: Mark, user: str) -> list[Request]:
        """Requests authenticated as ``user`` (not impersonated by someone else) since ``mark``."""
        return [r for r in requests_of(self.barrier(kubectl, mark)) if r.user == user and not r.impersonated]
