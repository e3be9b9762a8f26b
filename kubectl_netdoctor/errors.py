"""Errors that end in a one-line message and a documented exit code, never a traceback."""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_CANNOT_DIAGNOSE = 3


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


class Forbidden(ClusterError):
    """RBAC said no. Carries what was refused so a step can say exactly that."""

    def __init__(self, verb: str, resource: str, namespace: str | None = None):
        where = f" in ns {namespace}" if namespace else " (cluster-wide)"
        super().__init__(f"forbidden: {verb} {resource}{where}")
        self.verb, self.resource, self.namespace = verb, resource, namespace
