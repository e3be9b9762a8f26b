"""``kubectl netdoctor``: the command line. Flags are spelled as kubectl spells them.

Only typer is imported at start-up; the Kubernetes client, YAML and the checks
load when a command runs, so ``--help`` stays instant.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import typer
import typer.core

from kubectl_netdoctor import __version__
from kubectl_netdoctor.errors import (
    EXIT_CANNOT_DIAGNOSE,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    ClusterError,
    NetdoctorError,
    UsageError,
)
from kubectl_netdoctor.options import SHARED, fail, run_options

if TYPE_CHECKING:
    from kubectl_netdoctor.context import Options


class _OneLineErrors(typer.core.TyperGroup):
    """Usage errors (missing argument, unknown flag, bad value) as one line on stderr, ``error: ...``,
    exit 2, as the README promises; typer would draw a multi-line panel."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        from typer import _click as click  # the click that typer (0.27-0.28, see pyproject.toml) carries
        no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", ())
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except no_args_help as err:  # bare `kubectl netdoctor`: the parser printed the help already
            code = err.exit_code
        except click.exceptions.UsageError as err:
            command = err.ctx.command_path if err.ctx else "kubectl-netdoctor"
            message = " ".join(err.format_message().split()).rstrip(".")
            typer.echo(f"error: {message} (see '{command} --help')", err=True)
            code = EXIT_USAGE
        except typer.Abort:
            typer.echo("aborted", err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else EXIT_OK)


app = typer.Typer(
    cls=_OneLineErrors,
    name="kubectl-netdoctor",
    help="Why can't I reach this Service? Walks the 8-step flowchart against a live cluster "
    "or a snapshot and names the broken hop, with evidence and the fix.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_HELP = (
    "Exit codes: 0 nothing wrong; 1 a problem was found; 2 usage error or bad snapshot file; "
    "3 could not diagnose (no cluster access, forbidden, timeout, or a step that matters was blocked)."
)

NamespaceOpt = SHARED["namespace"][1]
ContextOpt = SHARED["context"][1]
KubeconfigOpt = SHARED["kubeconfig"][1]
TimeoutOpt = SHARED["timeout"][1]


def _interrupted() -> NoReturn:
    """Ctrl-C or SIGTERM: delete every probe object now, say so, exit 130 (typer would exit silently)."""
    if "kubectl_netdoctor.cluster.probe" in sys.modules:
        sys.modules["kubectl_netdoctor.cluster.probe"].stop_all()
        typer.echo("interrupted: probe objects deleted", err=True)
    else:
        typer.echo("interrupted", err=True)
    raise typer.Exit(130)


def _open_reader(kubeconfig: str | None, context: str | None, timeout: float):
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    return LiveReader(kubeconfig=kubeconfig, context=context, timeout=timeout)


@app.command("svc", epilog=EXIT_HELP)
@run_options
def svc(
    name: str = typer.Argument(..., help="Service name."),
    port: str | None = typer.Option(None, "--port", help="Only this Service port (name or number)."),
    *,
    options: Options,
) -> None:
    """Diagnose why Service NAME is unreachable."""
    from kubectl_netdoctor import args

    try:
        args.service_name(name)
        args.service_port(port)
    except UsageError as err:
        fail(err)
    from dataclasses import replace

    from kubectl_netdoctor import engine
    from kubectl_netdoctor.paths import SERVICE

    options = replace(options, port=port)
    try:
        report, elapsed = engine.diagnose_target(SERVICE, name, options, _progress_line)
    except NetdoctorError as err:
        fail(err)
    except KeyboardInterrupt:
        _interrupted()
    from kubectl_netdoctor.render import get_renderer

    get_renderer(options.output)(report, sys.stdout, verbose=options.verbose, elapsed_s=elapsed)
    raise typer.Exit(_exit_code(report.verdict))


def _exit_code(verdict) -> int:
    from kubectl_netdoctor.model import Verdict

    return {Verdict.OK: EXIT_OK, Verdict.PROBLEM: EXIT_PROBLEM, Verdict.INCONCLUSIVE: EXIT_CANNOT_DIAGNOSE}[verdict]


def _progress_line(message: str) -> None:
    """--wait progress: plain lines on stderr (a CI log keeps them; stdout stays the report)."""
    typer.echo(message, err=True)


@app.command("scan", epilog=EXIT_HELP + " A scan exits with its worst verdict: 1 if any Service has a problem, "
             "else 3 if any could not be diagnosed.")
@run_options
def scan_cmd(
    all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces", help="Every namespace."),
    selector: str | None = typer.Option(None, "-l", "--selector", help="Only Services with these labels (kubectl -l syntax)."),
    *,
    options: Options,
) -> None:
    """Diagnose every Service of a namespace (-n) or of the cluster (-A) in one run: a summary table,
    then the details of the Services that are not ok."""
    from kubectl_netdoctor import args, scan
    from kubectl_netdoctor.paths import SERVICE

    namespace = options.namespace
    try:
        args.not_empty("-l", selector)
        if namespace is not None and all_namespaces:
            raise UsageError("-n and -A exclude each other")
        scan.check_selector(selector)
        result = scan.run(path=SERVICE, namespace=namespace, all_namespaces=all_namespaces, selector=selector,
                          options=options, progress=_progress_line)
    except NetdoctorError as err:
        fail(err)
    except KeyboardInterrupt:
        _interrupted()
    if not result.services:
        typer.echo(f"warning: no Service in scope ({result.scope})", err=True)
    from kubectl_netdoctor.render import get_renderer

    get_renderer(options.output, scan=True)(result, sys.stdout, verbose=options.verbose, elapsed_s=result.elapsed_s)
    raise typer.Exit(_exit_code(result.verdict))


@app.command("snapshot", epilog="Exit codes: 0 saved; 2 usage error; 3 no cluster access or forbidden.")
def snapshot_cmd(
    output: str = typer.Option(..., "-o", "--output", help="File to write: .json (reads back fastest) or .yaml."),
    namespace: str | None = NamespaceOpt,
    all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces", help="Save every namespace."),
    context: str | None = ContextOpt,
    kubeconfig: str | None = KubeconfigOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Save everything the diagnosis reads, for `svc NAME --snapshot PATH` offline."""
    from kubectl_netdoctor import args
    from kubectl_netdoctor.dump import left_out_warning, write_snapshot

    try:
        args.path_value("-o", output)
        args.namespace("-n", namespace)
        args.path_value("--context", context)
        args.path_value("--kubeconfig", kubeconfig)
        args.timeout(timeout)
        if all_namespaces and namespace is not None:
            raise UsageError("-n and -A exclude each other")
        reader = _open_reader(kubeconfig, context, timeout)
        spaces = None if all_namespaces else [namespace or reader.default_namespace]
        count = write_snapshot(reader, spaces, output)
    except NetdoctorError as err:
        fail(err)
    except KeyboardInterrupt:
        _interrupted()
    typer.echo(f"saved {count} objects to {output}", err=True)
    if warning := left_out_warning(getattr(reader, "rejected", [])):
        typer.echo(warning, err=True)


@app.command("cleanup", epilog="Exit codes: 0 done, or nothing to clean up; 2 usage error; "
             "3 no cluster access, forbidden, or a leftover could not be removed.")
def cleanup_cmd(
    namespace: str | None = NamespaceOpt,
    all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces", help="Look in every namespace."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be deleted."),
    context: str | None = ContextOpt,
    kubeconfig: str | None = KubeconfigOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Delete the probe pods a killed run left behind (found by the tool's labels; only its own), and tell
    its ephemeral containers that still run to exit (the API cannot delete those)."""
    from kubectl_netdoctor import args, cleanup

    try:
        args.namespace("-n", namespace)
        args.path_value("--context", context)
        args.path_value("--kubeconfig", kubeconfig)
        args.timeout(timeout)
    except UsageError as err:
        fail(err)
    if namespace is not None and all_namespaces:
        fail(UsageError("-n and -A exclude each other"))
    try:
        reader = _open_reader(kubeconfig, context, timeout)
        where = None if all_namespaces else (namespace or reader.default_namespace)
        outcomes = cleanup.clean(reader, cleanup.find_leftovers(reader, where), cleanup.executor_exec(reader),
                                 dry_run=dry_run)
    except NetdoctorError as err:
        fail(err)
    except KeyboardInterrupt:
        _interrupted()
    for outcome in outcomes:
        typer.echo(outcome.line)
    typer.echo(cleanup.summary(outcomes, where, dry_run))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        fail(ClusterError(f"{len(failed)} leftover{'s' * (len(failed) != 1)} could not be removed (see above)"))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubectl-netdoctor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Why can't I reach this Service?"""


def main() -> None:
    import os

    try:
        app()
    except KeyboardInterrupt:  # outside a command (typer handles those inside as exit 130)
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - a bug must still end in one line and a documented code
        if os.environ.get("NETDOCTOR_DEBUG"):
            raise
        typer.echo(f"error: internal error: {type(err).__name__}: {err} (set NETDOCTOR_DEBUG=1 for the traceback)",
                   err=True)
        sys.exit(EXIT_CANNOT_DIAGNOSE)


if __name__ == "__main__":
    main()
