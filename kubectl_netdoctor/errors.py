"""Errors that end in a one-line message and a documented exit code, never a traceback."""

from __future__ import annotations

import signal

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_CANNOT_DIAGNOSE = 3
EXIT_INTERRUPTED = 130


class NetdoctorError(Exception):
    """Base: ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_CANNOT_DIAGNOSE


class UsageError(NetdoctorError):
    exit_code = EXIT_USAGE


class SnapshotError(UsageError):
    """A snapshot or capture file that cannot be read. Names the file and line."""

    def __init__(self, path: str, message: str, line: int | None = None):
        where = f"{path}:{line}" if line else path
        super().__init__(f"bad snapshot file {where}: {message}")
        self.path, self.line = path, line


class ClusterError(NetdoctorError):
    """The cluster could not be asked: unreachable, timed out, unauthorised."""


class ApiUnreachable(ClusterError):
    pass


class ApiTimeout(ClusterError):
    pass


class NotAnApiServer(ApiUnreachable):
    """The server named by the kubeconfig answers, but not as a Kubernetes API server does (an HTML page,
    a 404 for the core API): a wrong URL or a proxy. Trusting its answers would read as "nothing there"."""


class NotInstalled(ClusterError):
    """The API server does not serve this kind: its API group (a CRD such as the Gateway API's) is not
    installed. Not a failure of the read: the steps say "not installed" and go on."""

    def __init__(self, kind: str, group: str):
        super().__init__(f"{kind} is not served by this cluster: the API group {group} is not installed")
        self.kind, self.group = kind, group


class Forbidden(ClusterError):
    """RBAC said no. Carries what was refused so a step can say exactly that."""

    def __init__(self, verb: str, resource: str, namespace: str | None = None):
        where = f" in ns {namespace}" if namespace else " (cluster-wide)"
        super().__init__(f"forbidden: {verb} {resource}{where}")
        self.verb, self.resource, self.namespace = verb, resource, namespace


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one line (whitespace runs, newlines included, become one space), cut at ``limit``."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def yaml_problem(err: BaseException) -> tuple[str, int | None]:
    """A PyYAML error as one line and its 1-based line number. Its ``str()`` spans several lines (the
    context, the position marks with a caret drawing); the README promises one line."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err).splitlines()[0]
    return one_line(problem), (mark.line + 1 if mark is not None else None)


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def sigterm_as_interrupt() -> None:
    """SIGTERM ends a run as Ctrl-C does (probe objects deleted, ``interrupted``, exit 130), for every
    command. Idempotent; the prober sets its own while it runs, and gives this one back."""
    if hasattr(signal, "SIGTERM") and signal.getsignal(signal.SIGTERM) is not _terminated:
        signal.signal(signal.SIGTERM, _terminated)
