"""``kubectl_complete-netdoctor``: shell completion for ``kubectl netdoctor`` through kubectl's own.

kubectl (1.26 and later) completes a plugin's arguments by running the executable
``kubectl_complete-<plugin>`` from ``PATH`` with the words typed after the plugin's name,
the last one being the word to complete (empty after a space)::

    kubectl netdoctor svc web -n sh<TAB>   ->   kubectl_complete-netdoctor svc web -n sh

It reads cobra's ``__complete`` answer: one completion a line (``value<TAB>description``),
then ``:<directive>`` (4: no file completion; 0: the shell's default, file names). This
module prints that answer for the subcommands, their flags, the values of ``-o``, and,
where it is cheap and safe, names: Services (``svc NAME``), Ingresses (``ingress NAME``), HTTPRoutes
(``route NAME``) and namespaces (``-n``) from
the snapshot given with ``--snapshot``, else from the cluster (one list, within
:data:`LOOKUP_TIMEOUT_S`), and contexts from the kubeconfig. Whatever fails, it completes
nothing and says nothing: kubectl shows its stderr on the terminal while the user types.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

NO_FILE_COMPLETION = 4
FILE_COMPLETION = 0
"""cobra's ShellCompDirective values (ShellCompDirectiveNoFileComp, ShellCompDirectiveDefault)."""
LOOKUP_TIMEOUT_S = 2.0
"""The longest a completion waits for names (the cluster, or a snapshot): a shell's TAB must stay quick."""
NAMED = {"svc": "Service", "ingress": "Ingress", "route": "HTTPRoute"}
"""Commands whose NAME is completed, with the kind it names."""
FILE_FLAGS = {"--snapshot", "--kubeconfig"}
"""Flags whose values are paths: the shell completes file names."""


def complete(words: Sequence[str], lookup_timeout_s: float = LOOKUP_TIMEOUT_S) -> tuple[list[str], int]:
    """The completions (``value`` or ``value<TAB>description``) for ``words`` as kubectl passes them, and
    the directive."""
    from typer.main import get_command

    from kubectl_netdoctor.cli import app

    group = get_command(app)
    typed, current = list(words[:-1]), (words[-1] if words else "")
    name = next((w for w in typed if not w.startswith("-")), None)
    command = group.commands.get(name) if name else None  # type: ignore[attr-defined]
    if name and command is None:
        return [], NO_FILE_COMPLETION
    params = (command or group).params
    flags = {opt: p for p in params for opt in [*p.opts, *p.secondary_opts] if opt.startswith("-")}
    takes_value = {opt for opt, p in flags.items()
                   if not getattr(p, "is_flag", False) and not getattr(p, "count", False)}

    if current.startswith("--") and "=" in current:  # --flag=value
        flag, _, value = current.partition("=")
        found, directive = _values(flag, command, typed, value, lookup_timeout_s)
        return [f"{flag}={v}" for v in found], directive
    if typed and typed[-1] in takes_value and (command is not None or typed[-1] in flags):
        return _values(typed[-1], command, typed, current, lookup_timeout_s)
    if current.startswith("-"):
        out = [f"{opt}\t{_summary(p.help)}" for opt, p in flags.items() if opt.startswith(current)]
        out += [f"{opt}\tShow the help and exit." for opt in ("-h", "--help") if opt.startswith(current)]
        return out, NO_FILE_COMPLETION
    if command is None:
        commands = group.commands.items()  # type: ignore[attr-defined]
        return [f"{n}\t{_summary(c.get_short_help_str(80))}" for n, c in commands if n.startswith(current)], \
            NO_FILE_COMPLETION
    positionals = _positionals(typed[typed.index(name) + 1:], takes_value)
    if name in NAMED and not positionals:
        kind = NAMED[name]
        return _matching(_within(lambda: _names(typed, kind), lookup_timeout_s), current), NO_FILE_COMPLETION
    return [], NO_FILE_COMPLETION


def _values(flag: str, command: Any, typed: list[str], current: str, timeout_s: float) -> tuple[list[str], int]:
    """Completions for the value of ``flag``."""
    from kubectl_netdoctor.options import FORMATS

    name = command.name if command is not None else None
    if flag in FILE_FLAGS or (name == "snapshot" and flag in ("-o", "--output")):
        return [], FILE_COMPLETION
    if flag in ("-o", "--output"):
        return _matching(list(FORMATS), current), NO_FILE_COMPLETION
    if flag in ("-n", "--namespace", "--from-namespace"):
        return _matching(_within(lambda: _namespaces(typed), timeout_s), current), NO_FILE_COMPLETION
    if flag == "--context":
        return _matching(_within(lambda: _contexts(typed), timeout_s), current), NO_FILE_COMPLETION
    return [], NO_FILE_COMPLETION


def _positionals(after: list[str], takes_value: set[str]) -> list[str]:
    """The positional words among ``after`` (a flag's value is not one)."""
    out, skip = [], False
    for word in after:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value and "=" not in word
        else:
            out.append(word)
    return out


def _given(typed: list[str], *flags: str) -> str | None:
    """The value of the last of ``flags`` among the typed words (``-n NS`` or ``--namespace=NS``)."""
    value = None
    for i, word in enumerate(typed):
        for flag in flags:
            if word == flag and i + 1 < len(typed):
                value = typed[i + 1]
            elif word.startswith(flag + "=") and flag.startswith("--"):
                value = word.split("=", 1)[1]
    return value


def _matching(names: list[str], prefix: str) -> list[str]:
    return sorted({n for n in names if n.startswith(prefix)})


def _summary(text: str | None) -> str:
    line = " ".join((text or "").split())
    first = line.split(". ")[0].rstrip(".")
    return first if len(first) <= 70 else first[:67] + "..."


def _within(lookup: Callable[[], list[str]], timeout_s: float) -> list[str]:
    """``lookup()``, or nothing when it fails or takes longer than ``timeout_s`` (an exec credential plugin
    that waits for a login, a silent API server): it runs in a thread left behind at exit."""
    box: list[list[str]] = []

    def run() -> None:
        try:
            box.append(lookup())
        except Exception:  # noqa: BLE001 - a completion that cannot look names up offers none
            pass

    worker = threading.Thread(target=run, name="netdoctor completion", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return box[0] if box else []


def _readers(typed: list[str]) -> list[Any]:
    """The snapshot(s) named by ``--snapshot``, else the cluster of ``--kubeconfig``/``--context``."""
    snapshot = _given(typed, "--snapshot")
    if snapshot and os.path.isdir(snapshot):
        from kubectl_netdoctor.engine import snapshot_worlds  # as svc and scan read a directory

        return snapshot_worlds(snapshot)[0]
    if snapshot:
        from kubectl_netdoctor.cluster.snapshot import SnapshotReader  # lighter than the engine, for a file

        return [SnapshotReader(snapshot)]
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    return [LiveReader(kubeconfig=_given(typed, "--kubeconfig"), context=_given(typed, "--context"),
                       timeout=LOOKUP_TIMEOUT_S)]


def _names(typed: list[str], kind: str) -> list[str]:
    readers = _readers(typed)
    namespace = _given(typed, "-n", "--namespace")
    if namespace is None and not _given(typed, "--snapshot"):
        namespace = readers[0].default_namespace
    return [o["metadata"]["name"] for r in readers for o in r.list(kind, namespace)]


def _namespaces(typed: list[str]) -> list[str]:
    names = set()
    for reader in _readers(typed):
        names |= {o["metadata"]["name"] for o in reader.list("Namespace")}
        if _given(typed, "--snapshot"):  # a snapshot may hold objects of namespaces without their Namespace
            names |= {o["metadata"].get("namespace") or "default" for o in reader.list("Service")}
    return sorted(names)


def _contexts(typed: list[str]) -> list[str]:
    from kubectl_netdoctor.cluster import k8s_import

    k8s_import.install()
    from kubernetes import config

    contexts, _ = config.list_kube_config_contexts(config_file=_given(typed, "--kubeconfig"))
    return [c["name"] for c in contexts]


def main(argv: Sequence[str] | None = None) -> None:
    """The console script ``kubectl_complete-netdoctor``: the completions on stdout, nothing on stderr."""
    words = list(sys.argv[1:] if argv is None else argv)
    sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process's lifetime
    try:
        found, directive = complete(words)
    except Exception:  # noqa: BLE001 - a completion never breaks the user's shell
        found, directive = [], NO_FILE_COMPLETION
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        sys.stdout.write("".join(f"{line}\n" for line in found) + f":{directive}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
