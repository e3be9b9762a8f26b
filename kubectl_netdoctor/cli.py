"""``kubectl netdoctor``: the command line. Flags are spelled as kubectl spells them.

Only typer is imported at start-up; the Kubernetes client, YAML and the checks
load when a command runs, so ``--help`` stays instant.
"""

from __future__ import annotations

import sys

import typer
import typer.core

from kubectl_netdoctor import __version__
from kubectl_netdoctor.defaults import DEFAULT_PROBE_IMAGE
from kubectl_netdoctor.errors import (
    EXIT_CANNOT_DIAGNOSE,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    ClusterError,
    NetdoctorError,
    UsageError,
)


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

NamespaceOpt = typer.Option(None, "-n", "--namespace", help="Namespace (default: the kubeconfig context's).")
ContextOpt = typer.Option(None, "--context", help="kubeconfig context to use.")
KubeconfigOpt = typer.Option(None, "--kubeconfig", help="Path to the kubeconfig file.")
TimeoutOpt = typer.Option(10.0, "--timeout", help="Seconds to wait for each API request.")
WaitOpt = typer.Option(None, "--wait", metavar="DURATION",
                       help="Diagnose again until every verdict is ok or DURATION (120s, 2m) has passed; "
                       "progress on stderr, the report is the last diagnosis.")


def _fail(err: NetdoctorError) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _interrupted() -> None:
    """Ctrl-C or SIGTERM: delete every probe object now, say so, exit 130 (typer would exit silently)."""
    if "kubectl_netdoctor.cluster.probe" in sys.modules:
        sys.modules["kubectl_netdoctor.cluster.probe"].stop_all()
        typer.echo("interrupted: probe objects deleted", err=True)
    else:
        typer.echo("interrupted", err=True)
    raise typer.Exit(130)


def _split_pod(ref: str, namespace: str) -> tuple[str, str]:
    if ref.count("/") > 1 or ref.startswith("/") or ref.endswith("/"):
        raise UsageError(f"--from-pod {ref!r}: expected NS/POD or POD")
    return tuple(ref.split("/", 1)) if "/" in ref else (namespace, ref)  # type: ignore[return-value]


def _open_reader(snapshot: str | None, kubeconfig: str | None, context: str | None, timeout: float):
    if snapshot:
        from kubectl_netdoctor.cluster.snapshot import SnapshotReader

        return SnapshotReader(snapshot)
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    return LiveReader(kubeconfig=kubeconfig, context=context, timeout=timeout)


@app.command("svc", epilog=EXIT_HELP)
def svc(
    name: str = typer.Argument(..., help="Service name."),
    namespace: str | None = NamespaceOpt,
    context: str | None = ContextOpt,
    kubeconfig: str | None = KubeconfigOpt,
    output: str = typer.Option("text", "-o", "--output", help="Output format: text, json or junit."),
    from_pod: str | None = typer.Option(None, "--from-pod", help="Diagnose as seen from this client pod (NS/POD or POD)."),
    from_namespace: str | None = typer.Option(None, "--from-namespace", help="Client is any pod in this namespace (default: the Service's)."),
    external: bool = typer.Option(False, "--external", help="Client is outside the cluster (NodePort / LoadBalancer)."),
    port: str | None = typer.Option(None, "--port", help="Only this Service port (name or number)."),
    read_only: bool = typer.Option(False, "--read-only", help="Create nothing in the cluster: no probe pods, no ephemeral containers."),
    snapshot: str | None = typer.Option(None, "--snapshot", help="Diagnose offline from a snapshot file or directory."),
    probe_image: str | None = typer.Option(None, "--probe-image", help=f"Image of the probe pod / ephemeral container (needs sh, nc, nslookup, cat). Default: $NETDOCTOR_PROBE_IMAGE, else probeImage in ~/.config/kubectl-netdoctor/config.yaml, else {DEFAULT_PROBE_IMAGE}."),
    http_path: str = typer.Option("/", "--http-path", help="Path of the L7 HTTP GETs (10 at once through the Service)."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Text output: show the evidence of info findings too."),
    node_access: bool = typer.Option(False, "--node-access", help="Opt-in: where no kube-proxy pod can show a node's rules, read them from a privileged hostNetwork pod on that node (in kube-system)."),
    node_image: str | None = typer.Option(None, "--node-image", help="Image of the --node-access pod; needs iptables-save/ipvsadm/nft (default: registry.k8s.io/kube-proxy at the server's version)."),
    timeout: float = TimeoutOpt,
    wait: str | None = WaitOpt,
) -> None:
    """Diagnose why Service NAME is unreachable."""
    from kubectl_netdoctor.render import FORMATS, get_renderer

    if output not in FORMATS:
        _fail(UsageError(f"-o {output!r}: expected one of {', '.join(FORMATS)}"))
    try:
        _check_svc_args(name, namespace, context, kubeconfig, from_pod, from_namespace, port, snapshot,
                        probe_image, http_path, node_access, node_image, timeout)
    except UsageError as err:
        _fail(err)
    if sum(bool(x) for x in (from_pod, from_namespace, external)) > 1:
        _fail(UsageError("--from-pod, --from-namespace and --external exclude each other"))
    from kubectl_netdoctor.context import Options

    options = Options(port=port, read_only=read_only, http_path=http_path, timeout=timeout, probe_image=probe_image,
                      node_access=node_access, node_image=node_image or None,
                      progress=output == "text" and sys.stderr.isatty())
    try:
        wait_s = _wait_seconds(wait, snapshot)
        if wait_s:
            from dataclasses import replace

            from kubectl_netdoctor.scan import wait_for_service

            report, elapsed = wait_for_service(
                name, namespace, _client_spec(from_pod, from_namespace, external),
                lambda: _open_reader(snapshot, kubeconfig, context, options.timeout),
                replace(_live_options(options), progress=False), wait_s, _progress_line)
        else:
            report, elapsed = _timed(lambda: _diagnose(name, namespace, context, kubeconfig, from_pod,
                                                       from_namespace, external, snapshot, options))
    except NetdoctorError as err:
        _fail(err)
    except KeyboardInterrupt:
        _interrupted()
    if output == "junit":
        from kubectl_netdoctor.render.junit import render as render_junit

        render_junit(report, sys.stdout, verbose=verbose, elapsed_s=elapsed)
    else:
        get_renderer(output)(report, sys.stdout, verbose=verbose)
    raise typer.Exit(_exit_code(report.verdict))


def _exit_code(verdict) -> int:
    from kubectl_netdoctor.model import Verdict

    return {Verdict.OK: EXIT_OK, Verdict.PROBLEM: EXIT_PROBLEM, Verdict.INCONCLUSIVE: EXIT_CANNOT_DIAGNOSE}[verdict]


def _timed(fn):
    import time

    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


def _progress_line(message: str) -> None:
    """--wait progress: plain lines on stderr (a CI log keeps them; stdout stays the report)."""
    typer.echo(message, err=True)


def _wait_seconds(wait: str | None, snapshot: str | None) -> float:
    if not wait:
        return 0.0
    from kubectl_netdoctor.durations import parse_duration

    seconds = parse_duration(wait)
    if snapshot:
        raise UsageError("--wait with --snapshot: a snapshot never changes, there is nothing to wait for")
    return seconds


def _client_spec(from_pod: str | None, from_namespace: str | None, external: bool):
    from kubectl_netdoctor.scan import ClientSpec

    if from_pod:
        return ClientSpec("pod", pod=from_pod)
    return ClientSpec("external" if external else "namespace", from_namespace)


def _live_options(options):
    """Against a cluster: the probe image resolved (--probe-image, else $NETDOCTOR_PROBE_IMAGE, else the config file)."""
    from dataclasses import replace

    from kubectl_netdoctor import config

    return replace(options, probe_image=config.probe_image(options.probe_image).value)


def _check_svc_args(name, namespace, context, kubeconfig, from_pod, from_namespace, port, snapshot, probe_image,
                    http_path, node_access, node_image, timeout) -> None:
    """Refuse what the API server would refuse, empty values, and flags that contradict each other."""
    from kubectl_netdoctor import args

    if name is not None:
        args.service_name(name)
    args.namespace("-n", namespace)
    args.namespace("--from-namespace", from_namespace)
    args.pod_ref(from_pod)
    args.service_port(port)
    args.http_path(http_path)
    args.timeout(timeout)
    for flag, value in (("--snapshot", snapshot), ("--context", context), ("--kubeconfig", kubeconfig)):
        args.path_value(flag, value)
    args.image("--probe-image", probe_image)
    args.image("--node-image", node_image)
    if snapshot is not None:
        args.exclusive({"--context": context, "--kubeconfig": kubeconfig, "--node-access": node_access,
                        "--node-image": node_image, "--probe-image": probe_image}, "--snapshot",
                       "a snapshot is read offline, with no cluster and no probe")
    if node_image is not None and not node_access:
        raise UsageError("--node-image needs --node-access (it is the image of the --node-access pod)")


def _diagnose(name, namespace, context, kubeconfig, from_pod, from_namespace, external, snapshot, options):
    from kubectl_netdoctor.context import Client, Context
    from kubectl_netdoctor.diagnose import diagnose

    reader = _open_reader(snapshot, kubeconfig, context, options.timeout)
    namespace = namespace or reader.default_namespace_for(name)
    if from_pod:
        pod_ns, pod_name = _split_pod(from_pod, namespace)
        pod = reader.get("Pod", pod_ns, pod_name)
        if pod is None:
            raise UsageError(f"--from-pod: pod {pod_ns}/{pod_name} not found")
        client = Client("pod", pod_ns, pod)
    elif external:
        client = Client("external")
    else:
        client = Client("namespace", from_namespace or namespace)
    if not snapshot:
        options = _live_options(options)
    ctx = Context(reader, namespace, name, client, options)
    if not snapshot:
        from kubectl_netdoctor.probes.orchestrator import collect_live

        ctx.live, reason = collect_live(ctx, reader)
        ctx.probe_skip_reason = reason or "no live probe ran"
    return diagnose(ctx)


@app.command("scan", epilog=EXIT_HELP + " A scan exits with its worst verdict: 1 if any Service has a problem, "
             "else 3 if any could not be diagnosed.")
def scan_cmd(
    namespace: str | None = NamespaceOpt,
    all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces", help="Every namespace."),
    selector: str | None = typer.Option(None, "-l", "--selector", help="Only Services with these labels (kubectl -l syntax)."),
    context: str | None = ContextOpt,
    kubeconfig: str | None = KubeconfigOpt,
    output: str = typer.Option("text", "-o", "--output", help="Output format: text, json or junit."),
    from_namespace: str | None = typer.Option(None, "--from-namespace", help="Client is any pod in this namespace (default: each Service's own)."),
    external: bool = typer.Option(False, "--external", help="Client is outside the cluster (NodePort / LoadBalancer)."),
    read_only: bool = typer.Option(False, "--read-only", help="Create nothing in the cluster: no probe pods, no ephemeral containers."),
    snapshot: str | None = typer.Option(None, "--snapshot", help="Scan offline: a snapshot file, or a directory (of several snapshots, such as examples/)."),
    probe_image: str | None = typer.Option(None, "--probe-image", help=f"Image of the probe pods (needs sh, nc, nslookup, cat). Default: $NETDOCTOR_PROBE_IMAGE, else probeImage in ~/.config/kubectl-netdoctor/config.yaml, else {DEFAULT_PROBE_IMAGE}."),
    http_path: str = typer.Option("/", "--http-path", help="Path of the L7 HTTP GETs."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Text output: the details of every Service, not only the failing ones."),
    node_access: bool = typer.Option(False, "--node-access", help="Opt-in: read a node's rules from a privileged hostNetwork pod where no kube-proxy pod can."),
    node_image: str | None = typer.Option(None, "--node-image", help="Image of the --node-access pod."),
    timeout: float = TimeoutOpt,
    wait: str | None = WaitOpt,
) -> None:
    """Diagnose every Service of a namespace (-n) or of the cluster (-A) in one run: a summary table,
    then the details of the Services that are not ok."""
    from kubectl_netdoctor.render import FORMATS, get_scan_renderer

    if output not in FORMATS:
        _fail(UsageError(f"-o {output!r}: expected one of {', '.join(FORMATS)}"))
    try:
        _check_svc_args(None, namespace, context, kubeconfig, None, from_namespace, None, snapshot, probe_image,
                        http_path, node_access, node_image, timeout)
        from kubectl_netdoctor import args

        args.not_empty("-l", selector)
    except UsageError as err:
        _fail(err)
    if namespace is not None and all_namespaces:
        _fail(UsageError("-n and -A exclude each other"))
    if from_namespace and external:
        _fail(UsageError("--from-namespace and --external exclude each other"))
    from kubectl_netdoctor.context import Options

    options = Options(read_only=read_only, http_path=http_path, timeout=timeout, probe_image=probe_image,
                      node_access=node_access, node_image=node_image or None,
                      progress=output == "text" and not wait and sys.stderr.isatty())
    try:
        from kubectl_netdoctor import scan

        if not snapshot:
            options = _live_options(options)

        scan.check_selector(selector)
        wait_s = _wait_seconds(wait, snapshot)
        result = scan.run(
            namespace=namespace, all_namespaces=all_namespaces, selector=selector,
            client=_client_spec(None, from_namespace, external), snapshot=snapshot,
            open_reader=lambda: _open_reader(snapshot, kubeconfig, context, timeout),
            options=options, wait_s=wait_s, progress=_progress_line)
    except NetdoctorError as err:
        _fail(err)
    except KeyboardInterrupt:
        _interrupted()
    if not result.services:
        typer.echo(f"warning: no Service in scope ({result.scope})", err=True)
    get_scan_renderer(output)(result, sys.stdout, verbose=verbose)
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
        reader = _open_reader(None, kubeconfig, context, timeout)
        spaces = None if all_namespaces else [namespace or reader.default_namespace]
        count = write_snapshot(reader, spaces, output)
    except NetdoctorError as err:
        _fail(err)
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
        _fail(err)
    if namespace is not None and all_namespaces:
        _fail(UsageError("-n and -A exclude each other"))
    try:
        reader = _open_reader(None, kubeconfig, context, timeout)
        where = None if all_namespaces else (namespace or reader.default_namespace)
        outcomes = cleanup.clean(reader, cleanup.find_leftovers(reader, where), cleanup.executor_exec(reader),
                                 dry_run=dry_run)
    except NetdoctorError as err:
        _fail(err)
    except KeyboardInterrupt:
        _interrupted()
    for outcome in outcomes:
        typer.echo(outcome.line)
    typer.echo(cleanup.summary(outcomes, where, dry_run))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        _fail(ClusterError(f"{len(failed)} leftover{'s' * (len(failed) != 1)} could not be removed (see above)"))


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
