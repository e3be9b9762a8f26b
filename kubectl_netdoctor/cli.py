"""``kubectl netdoctor``: the command line. Flags are spelled as kubectl spells them.

Only typer is imported at start-up; the Kubernetes client, YAML and the checks
load when a command runs, so ``--help`` stays instant.

Every way a run can end is one of the README's exit codes with at most one line on stderr:
a usage error (2), no cluster access (3), Ctrl-C or SIGTERM (130, probe pod deleted or ephemeral container released;
:func:`main` installs the SIGTERM handler once, for every command), a reader of stdout that
went away (``| head -1``: the verdict's code stays), or a bug (3, ``internal error``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import typer
import typer.core

from kubectl_netdoctor import __version__
from kubectl_netdoctor.errors import (
    EXIT_CANNOT_DIAGNOSE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    ClusterError,
    NetdoctorError,
    UsageError,
    sigterm_as_interrupt,
)
from kubectl_netdoctor.options import SHARED, fail, run_options

if TYPE_CHECKING:
    from kubectl_netdoctor.context import Options

PROG = "kubectl netdoctor"
"""How kubectl users type it, in help and errors (the console script is ``kubectl-netdoctor``)."""


class _OneLineErrors(typer.core.TyperGroup):
    """Usage errors (missing argument, unknown flag, bad value) as one line on stderr, ``error: ...``,
    exit 2, as the README promises; typer would draw a multi-line panel."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:  # while the command line is parsed: typer would end silently
            _interrupted()

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        from typer import _click as click  # the click that typer (0.27-0.28, see pyproject.toml) carries
        no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", ())
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except no_args_help as err:  # bare `kubectl netdoctor`: the help, as kubectl prints its own
            typer.echo(err.ctx.get_help() if err.ctx else err.format_message())
            code = err.exit_code
        except click.exceptions.UsageError as err:
            command = err.ctx.command_path if err.ctx else PROG
            message = " ".join(err.format_message().split()).rstrip(".")
            typer.echo(f"error: {message} (see '{command} --help')", err=True)
            code = EXIT_USAGE
        except typer.Abort:
            typer.echo("aborted", err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else EXIT_OK)


class _Command(typer.core.TyperCommand):
    """Usage as kubectl prints it: ``kubectl netdoctor svc [OPTIONS] NAME`` (typer writes ``{NAME}``); Ctrl-C
    or SIGTERM anywhere in a command (its imports included) ends as :func:`_interrupted` says."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _interrupted()


app = typer.Typer(
    cls=_OneLineErrors,
    name=PROG,
    help="Why can't I reach this Service (or URL)? Walks the path hop by hop against a live cluster "
    "or a snapshot and names the broken hop, with evidence and the fix.",
    no_args_is_help=True,
    add_completion=False,  # kubectl's plugin completion calls kubectl_complete-netdoctor (complete.py)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, as kubectl prints it: no boxes, no <str> placeholders
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_HELP = (
    "Exit codes: 0 nothing wrong; 1 a problem was found; 2 usage error or bad snapshot file; "
    "3 could not diagnose (no cluster access, forbidden, timeout, or a step that matters was blocked); "
    "130 interrupted (Ctrl-C, SIGTERM)."
)

NamespaceOpt = SHARED["namespace"][1]
ContextOpt = SHARED["context"][1]
KubeconfigOpt = SHARED["kubeconfig"][1]
TimeoutOpt = SHARED["timeout"][1]


class _Run:
    probing = False
    """Whether this run may have created probe objects (live, not --read-only): what "interrupted" says."""


def _interrupted() -> NoReturn:
    """Ctrl-C or SIGTERM: delete every probe object now, say so, exit 130 (typer would exit silently)."""
    probe = sys.modules.get("kubectl_netdoctor.cluster.probe")
    if probe is not None:
        probe.stop_all()  # the prober deleted its own on the way out; a worker thread's may be left
    ended = list(dict.fromkeys(probe.ENDED)) if _Run.probing and probe is not None else []
    typer.echo(f"interrupted: {'; '.join(ended)}" if ended else "interrupted", err=True)
    raise typer.Exit(EXIT_INTERRUPTED)


def _running(fn: Callable[[], Any]) -> Any:
    """Run a command's work: its errors as one line and their exit code, Ctrl-C and SIGTERM as 130."""
    try:
        return fn()
    except NetdoctorError as err:
        fail(err)
    except KeyboardInterrupt:
        _interrupted()


def _output(write: Callable[[], None]) -> None:
    """Write the output. A reader of stdout that went away (``| head -1``) ends the writing, not the run:
    the rest has nowhere to go, and the exit code stays the verdict's (exit 1 from a broken pipe would
    read as "a problem was found")."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
    except SystemExit:  # rich's Console on EPIPE: stdout to /dev/null, then SystemExit(1)
        _stdout_to_devnull()
    except KeyboardInterrupt:
        _interrupted()


def _stdout_to_devnull() -> None:
    """After EPIPE: what is still buffered, and the interpreter's flush at exit, go nowhere, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # a stdout with no file descriptor (tests): nothing is left to flush
        pass


def _open_reader(kubeconfig: str | None, context: str | None, timeout: float):
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    return LiveReader(kubeconfig=kubeconfig, context=context, timeout=timeout)


@app.command("svc", cls=_Command, epilog=EXIT_HELP)
@run_options
def svc(
    name: str = typer.Argument(..., metavar="NAME", help="Service name."),
    port: str | None = typer.Option(None, "--port", metavar="NAME|NUMBER",
                                    help="Only this Service port (it must be one of the Service's)."),
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
    _Run.probing = not options.offline and not options.read_only
    report, elapsed = _running(lambda: engine.diagnose_target(SERVICE, name, options, _progress_line))
    from kubectl_netdoctor.render import get_renderer

    render = get_renderer(options.output)
    _output(lambda: render(report, sys.stdout, verbose=options.verbose, elapsed_s=elapsed))
    raise typer.Exit(_exit_code(report.verdict))


HOST_OPT = typer.Option(None, "--host", metavar="HOST[:PORT]", help="The request's host (and port): only the rule "
                        "that takes it is followed. Without it, every rule of the target is checked.")
PATH_OPT = typer.Option(None, "--path", metavar="PATH", help="The request's path (default /; needs --host).")


def _request(url: str | None, host: str | None, path: str | None) -> str | None:
    """The request an Ingress or HTTPRoute walk follows, as a URL: the URL as given, or ``http://HOST/PATH``;
    None: no request, every rule is checked. Junk is a usage error (exit 2)."""
    from kubectl_netdoctor import args
    from kubectl_netdoctor.routing.urls import parse_url

    if url is not None:
        args.not_empty("URL", url)
        try:
            parse_url(url)
        except ValueError as err:
            raise UsageError(str(err)) from None
        return url
    if path is not None and host is None:
        raise UsageError("--path needs --host (the host the request names)")
    if host is None:
        return None
    args.not_empty("--host", host)
    args.no_control_characters("--host", host)
    if any(c in host for c in "/?#@") or any(c.isspace() for c in host):
        raise UsageError(f"--host {host!r}: expected a host name or address, with an optional :port")
    if path is not None:
        args.http_path(path, "--path")
    text = f"http://{host}{path or '/'}"
    try:
        parse_url(text)
    except ValueError as err:
        raise UsageError(f"--host {host!r}: {err}") from None
    return text


def _walk_outside(kind: str | None, name: str | None, request: str | None, options: Options) -> None:
    """Walk an Ingress or HTTPRoute (``kind`` and ``name``), or the one a URL reaches (``kind`` None)."""
    from dataclasses import replace

    from kubectl_netdoctor.context import ClientSpec

    if options.client.kind == "namespace" and options.client.namespace is None:
        options = replace(options, client=ClientSpec("external"))  # who types a URL: outside, unless told
    options = replace(options, url=request)
    _Run.probing = False  # these paths read objects only: nothing is created in the cluster
    if kind is None:
        from kubectl_netdoctor import url_target

        report, elapsed = _running(lambda: url_target.diagnose_url(options, _progress_line))
    else:
        from kubectl_netdoctor import engine
        from kubectl_netdoctor.paths import PATHS

        report, elapsed = _running(lambda: engine.diagnose_target(PATHS[kind], name or "", options, _progress_line))
    from kubectl_netdoctor.render import get_renderer

    render = get_renderer(options.output)
    _output(lambda: render(report, sys.stdout, verbose=options.verbose, elapsed_s=elapsed))
    raise typer.Exit(_exit_code(report.verdict))


OUTSIDE_HELP = (" Hops: entry (where clients connect), class (its controller runs), {listener}tls, match (the rule that "
                "takes the request, and the near misses), backend (Service and port), then the backend Service's own "
                "walk (svc/...) seen from the controller's pod. Objects are read; no request is sent yet.")


@app.command("url", cls=_Command, epilog=EXIT_HELP)
@run_options
def url_cmd(
    url: str = typer.Argument(..., metavar="URL", help="The URL that does not answer (https://shop.example.com/api; "
                              "no scheme: http)."),
    *,
    options: Options,
) -> None:
    """Why can't I reach URL? Finds the Ingress or HTTPRoute that serves it (every namespace, or -n NS: a rule
    elsewhere that takes it first is named) and walks it."""
    try:
        request = _request(url, None, None)
    except UsageError as err:
        fail(err)
    _walk_outside(None, None, request, options)


@app.command("ingress", cls=_Command, epilog=EXIT_HELP)
@run_options
def ingress_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="Ingress name."),
    host: str | None = HOST_OPT,
    path: str | None = PATH_OPT,
    *,
    options: Options,
) -> None:
    """Diagnose Ingress NAME: the path from a client, through its controller, to its backend Services."""
    from kubectl_netdoctor import args

    try:
        args.object_name(name, "Ingress")
        request = _request(None, host, path)
    except UsageError as err:
        fail(err)
    _walk_outside("Ingress", name, request, options)


@app.command("route", cls=_Command, epilog=EXIT_HELP)
@run_options
def route_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="HTTPRoute name."),
    host: str | None = HOST_OPT,
    path: str | None = PATH_OPT,
    *,
    options: Options,
) -> None:
    """Diagnose HTTPRoute NAME: the path from a client, through its Gateway, to its backend Services."""
    from kubectl_netdoctor import args

    try:
        args.object_name(name, "HTTPRoute")
        request = _request(None, host, path)
    except UsageError as err:
        fail(err)
    _walk_outside("HTTPRoute", name, request, options)


url_cmd.__doc__ = (url_cmd.__doc__ or "") + OUTSIDE_HELP.format(listener="listener (the Gateway takes the route), ")
ingress_cmd.__doc__ = (ingress_cmd.__doc__ or "") + OUTSIDE_HELP.format(listener="")
route_cmd.__doc__ = (route_cmd.__doc__ or "") + OUTSIDE_HELP.format(listener="listener (the Gateway takes the route), ")


def _exit_code(verdict) -> int:
    from kubectl_netdoctor.model import Verdict

    return {Verdict.OK: EXIT_OK, Verdict.PROBLEM: EXIT_PROBLEM, Verdict.INCONCLUSIVE: EXIT_CANNOT_DIAGNOSE}[verdict]


def _progress_line(message: str) -> None:
    """--wait progress: plain lines on stderr (a CI log keeps them; stdout stays the report)."""
    typer.echo(message, err=True)


@app.command("scan", cls=_Command, epilog=EXIT_HELP + " A scan exits with its worst verdict: 1 if any Service "
             "has a problem, else 3 if any could not be diagnosed.")
@run_options
def scan_cmd(
    all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces", help="Every namespace."),
    selector: str | None = typer.Option(None, "-l", "--selector", metavar="SELECTOR",
                                        help="Only Services with these labels (kubectl -l syntax)."),
    *,
    options: Options,
) -> None:
    """Diagnose every Service of a namespace (-n) or of the cluster (-A) in one run: a summary table,
    then the details of the Services that are not ok."""
    from kubectl_netdoctor import args, scan
    from kubectl_netdoctor.paths import SERVICE

    namespace = options.namespace
    _Run.probing = not options.offline and not options.read_only

    def run() -> Any:
        args.not_empty("-l", selector)
        if namespace is not None and all_namespaces:
            raise UsageError("-n and -A exclude each other")
        scan.check_selector(selector)
        return scan.run(path=SERVICE, namespace=namespace, all_namespaces=all_namespaces, selector=selector,
                        options=options, progress=_progress_line)

    result = _running(run)
    if not result.services:
        typer.echo(f"warning: no Service in scope ({result.scope})", err=True)
    from kubectl_netdoctor.render import get_renderer

    render = get_renderer(options.output, scan=True)
    _output(lambda: render(result, sys.stdout, verbose=options.verbose, elapsed_s=result.elapsed_s))
    raise typer.Exit(_exit_code(result.verdict))


@app.command("snapshot", cls=_Command, epilog="Exit codes: 0 saved; 2 usage error; 3 no cluster access or "
             "forbidden. A snapshot that fails leaves an existing FILE as it was.")
def snapshot_cmd(
    output: str = typer.Option(..., "-o", "--output", metavar="FILE",
                               help="File to write: .json (reads back fastest) or .yaml."),
    namespace: str | None = NamespaceOpt,
    all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces", help="Save every namespace."),
    context: str | None = ContextOpt,
    kubeconfig: str | None = KubeconfigOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Save everything the diagnosis reads, for `svc`, `url`, `ingress` and `route` with --snapshot PATH offline
    (of TLS Secrets, the certificate only)."""
    from kubectl_netdoctor import args
    from kubectl_netdoctor.dump import left_out_warning, write_snapshot

    def run() -> tuple[Any, int]:
        args.path_value("-o", output)
        args.namespace("-n", namespace)
        args.path_value("--context", context)
        args.path_value("--kubeconfig", kubeconfig)
        args.timeout(timeout)
        if all_namespaces and namespace is not None:
            raise UsageError("-n and -A exclude each other")
        reader = _open_reader(kubeconfig, context, timeout)
        spaces = None if all_namespaces else [namespace or reader.default_namespace]
        return reader, write_snapshot(reader, spaces, output, left_out=refused)

    refused: list[str] = []
    reader, count = _running(run)
    typer.echo(f"saved {count} objects to {output}", err=True)
    if refused:
        typer.echo(f"warning: not saved ({'; '.join(dict.fromkeys(refused))}): an offline diagnosis of Ingresses "
                   "and routes will lack them", err=True)
    if warning := left_out_warning(getattr(reader, "rejected", [])):
        typer.echo(warning, err=True)


@app.command("cleanup", cls=_Command, epilog="Exit codes: 0 done, or nothing to clean up; 2 usage error; "
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

    def run() -> tuple[Any, Any]:
        reader = _open_reader(kubeconfig, context, timeout)
        where = None if all_namespaces else (namespace or reader.default_namespace)
        return where, cleanup.clean(reader, cleanup.find_leftovers(reader, where), cleanup.executor_exec(reader),
                                    dry_run=dry_run)

    where, outcomes = _running(run)

    def write() -> None:
        for outcome in outcomes:
            typer.echo(outcome.line)
        typer.echo(cleanup.summary(outcomes, where, dry_run))

    _output(write)
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
    sigterm_as_interrupt()  # once, for every command (the console script's entry did it already)
    try:
        app(prog_name=PROG)
    except KeyboardInterrupt:  # outside a command (typer handles those inside as exit 130)
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:  # noqa: BLE001 - a bug must still end in one line and a documented code
        if os.environ.get("NETDOCTOR_DEBUG"):
            raise
        typer.echo(f"error: internal error: {type(err).__name__}: {err} (set NETDOCTOR_DEBUG=1 for the traceback)",
                   err=True)
        sys.exit(EXIT_CANNOT_DIAGNOSE)


if __name__ == "__main__":
    main()
