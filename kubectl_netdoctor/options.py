"""The run options every diagnosing command shares, declared once, validated once.

kubectl's own commands share one flag set (``genericclioptions``); so do these. A command
declares only what is its own (``svc``'s NAME and ``--port``, ``scan``'s ``-A`` and ``-l``)
and takes ``options: Options``; :func:`run_options` adds the shared flags to its signature,
checks them (one line and exit 2 for a bad value, as kubectl would refuse it) and builds the
one :class:`~kubectl_netdoctor.context.Options`, each setting with its origin.

Only typer and the pure argument checks load here, so ``--help`` stays instant.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NoReturn

import typer

from kubectl_netdoctor import args
from kubectl_netdoctor.defaults import DEFAULT_PROBE_IMAGE
from kubectl_netdoctor.errors import NetdoctorError, UsageError

FORMATS = ("text", "json", "junit")

# name -> (annotation, declaration). Help texts speak of "the target": they serve every command.
SHARED: dict[str, tuple[Any, Any]] = {
    "namespace": (str | None, typer.Option(
        None, "-n", "--namespace", metavar="NS",
        help="Namespace (default: the kubeconfig context's; with --snapshot, the snapshot's own).")),
    "context": (str | None, typer.Option(None, "--context", metavar="CONTEXT", help="kubeconfig context to use.")),
    "kubeconfig": (str | None, typer.Option(None, "--kubeconfig", metavar="PATH",
                                            help="Path to the kubeconfig file.")),
    "output": (str, typer.Option("text", "-o", "--output", metavar="text|json|junit", help="Output format.")),
    "verbose": (bool, typer.Option(False, "-v", "--verbose", help="Text output: every detail (the evidence of "
                                   "info findings; with scan, the targets that are ok too).")),
    "from_pod": (str | None, typer.Option(None, "--from-pod", metavar="NS/POD", help="Client: this pod, probed "
                                          "from an ephemeral container in it (NS/POD or POD).")),
    "from_namespace": (str | None, typer.Option(None, "--from-namespace", metavar="NS", help="Client: any pod in "
                                                "this namespace (default: the target's own).")),
    "external": (bool, typer.Option(False, "--external", help="Client: outside the cluster (NodePort, "
                                    "LoadBalancer).")),
    "read_only": (bool, typer.Option(False, "--read-only", help="Create nothing in the cluster: no probe pods, "
                                     "no ephemeral containers.")),
    "snapshot": (str | None, typer.Option(None, "--snapshot", metavar="PATH", help="Diagnose offline: a snapshot "
                                          "file, or a directory (of several snapshots, such as examples/).")),
    "probe_image": (str | None, typer.Option(None, "--probe-image", metavar="IMAGE", help="Image of the probe pod / "
                                             "ephemeral container (needs sh, nc, nslookup, cat). Default: "
                                             "$NETDOCTOR_PROBE_IMAGE, else probeImage in ~/.config/"
                                             f"kubectl-netdoctor/config.yaml, else {DEFAULT_PROBE_IMAGE}.")),
    "http_path": (str, typer.Option("/", "--http-path", metavar="PATH", help="Path of the L7 HTTP GETs.")),
    "node_access": (bool, typer.Option(False, "--node-access", help="Opt-in: where no kube-proxy pod can show a "
                                       "node's rules, read them from a privileged hostNetwork pod on that node "
                                       "(in kube-system).")),
    "node_image": (str | None, typer.Option(None, "--node-image", metavar="IMAGE", help="Image of the --node-access "
                                            "pod; needs iptables-save/ipvsadm/nft (default: registry.k8s.io/"
                                            "kube-proxy at the server's version).")),
    "timeout": (float, typer.Option(10.0, "--timeout", metavar="SECONDS", help="Seconds for each API request, from "
                                    "connect to its last byte; the first that times out ends the run (exit 3).")),
    "wait": (str | None, typer.Option(None, "--wait", metavar="DURATION", help="Diagnose again until every "
                                      "verdict is ok or DURATION (120s, 2m; at most 24h) has passed; progress on "
                                      "stderr, the report is the last diagnosis.")),
}
FLAGS = {name: decl.param_decls[-1] for name, (_, decl) in SHARED.items()}
"""Setting name -> its long flag, for origins and messages."""


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command(..., options)`` the shared flags; it is called with the built :class:`Options`."""
    own_hints = _hints(command)
    own = [p.replace(annotation=own_hints.get(p.name, p.annotation))
           for p in inspect.signature(command).parameters.values() if p.name != "options"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=decl, annotation=annotation)
              for name, (annotation, decl) in SHARED.items()]

    @functools.wraps(command)
    def wrapper(**given: Any) -> Any:
        raw = {name: given.pop(name) for name in SHARED}
        # from now on, with -o junit, an error also writes a JUnit document (see fail)
        _Junit.command = command.__name__.removesuffix("_cmd") if raw.get("output") == "junit" else None
        try:
            options = build(raw, _explicit(raw))
        except NetdoctorError as err:
            fail(err)
        return command(**given, options=options)

    wrapper.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + shared}
    return wrapper


class _Junit:
    command: str | None = None
    """The command of a run asked for ``-o junit``: its errors write a JUnit document too."""


def fail(err: NetdoctorError) -> NoReturn:
    """One line on stderr, ``error: ...``, and the error's own exit code. With ``-o junit``, stdout gets
    a document whose one testcase is that ``<error>``: a CI gate then fails and says why, instead of
    finding an empty file ("no results")."""
    if _Junit.command is not None:
        from kubectl_netdoctor.render.junit import error_dumps

        try:
            typer.echo(error_dumps(_Junit.command, str(err), err.exit_code), nl=False)
        except OSError:
            pass  # stdout gone: the exit code and stderr still say it
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The command's own parameter types, its string annotations evaluated (``options`` is ours)."""
    return {name: eval(ann, fn.__globals__) if isinstance(ann, str) else ann  # the command's own source
            for name, ann in fn.__annotations__.items() if name not in ("options", "return")}


def _explicit(raw: dict[str, Any]) -> set[str]:
    """The settings given on the command line (not left at their default)."""
    from typer._click.core import ParameterSource  # the click typer carries (see pyproject.toml)
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return {name for name, value in raw.items() if value not in (None, False)}
    source = ParameterSource.COMMANDLINE
    return {name for name in raw if ctx.get_parameter_source(name) == source}


def build(raw: dict[str, Any], explicit: set[str] = frozenset(), *, stderr_is_tty: bool | None = None) -> Any:
    """Check the shared settings and build the :class:`~kubectl_netdoctor.context.Options`. Raises
    :class:`UsageError` (exit 2) for a value kubectl would refuse or flags that contradict each other."""
    import sys

    from kubectl_netdoctor.context import Options

    check(raw)
    origins = {name: FLAGS[name] for name in explicit if name in FLAGS}
    probe_image = DEFAULT_PROBE_IMAGE
    if raw["snapshot"] is None:  # live: the probe image resolved once, with where it was set
        from kubectl_netdoctor import config

        setting = config.probe_image(raw["probe_image"])
        probe_image, origins["probe_image"] = setting.value, setting.origin
    wait_s = wait_seconds(raw["wait"], raw["snapshot"])
    tty = sys.stderr.isatty() if stderr_is_tty is None else stderr_is_tty
    return Options(
        namespace=raw["namespace"], read_only=raw["read_only"], http_path=raw["http_path"], timeout=raw["timeout"], probe_image=probe_image,
        node_access=raw["node_access"], node_image=raw["node_image"] or None,
        progress=raw["output"] == "text" and not wait_s and tty,
        snapshot=raw["snapshot"], kubeconfig=raw["kubeconfig"], context=raw["context"],
        client=client_spec(raw["from_pod"], raw["from_namespace"], raw["external"]), wait_s=wait_s,
        output=raw["output"], verbose=raw["verbose"], origins=origins)


def check(raw: dict[str, Any]) -> None:
    """Refuse what the API server would refuse, empty values, and flags that contradict each other."""
    if raw["output"] not in FORMATS:
        raise UsageError(f"-o {raw['output']!r}: expected one of {', '.join(FORMATS)}")
    args.namespace("-n", raw["namespace"])
    args.namespace("--from-namespace", raw["from_namespace"])
    args.pod_ref(raw["from_pod"])
    args.http_path(raw["http_path"])
    args.timeout(raw["timeout"])
    for name in ("snapshot", "context", "kubeconfig"):
        args.path_value(FLAGS[name], raw[name])
    args.image("--probe-image", raw["probe_image"])
    args.image("--node-image", raw["node_image"])
    if raw["snapshot"] is not None:
        args.exclusive({"--context": raw["context"], "--kubeconfig": raw["kubeconfig"],
                        "--node-access": raw["node_access"], "--node-image": raw["node_image"],
                        "--probe-image": raw["probe_image"]}, "--snapshot",
                       "a snapshot is read offline, with no cluster and no probe")
    if raw["node_image"] is not None and not raw["node_access"]:
        raise UsageError("--node-image needs --node-access (it is the image of the --node-access pod)")
    if sum(bool(raw[x]) for x in ("from_pod", "from_namespace", "external")) > 1:
        raise UsageError("--from-pod, --from-namespace and --external exclude each other")


def client_spec(from_pod: str | None, from_namespace: str | None, external: bool) -> Any:
    """The client as the flags name it; ``--from-pod NS/POD`` split here, once."""
    from kubectl_netdoctor.context import ClientSpec

    if from_pod:
        ns, _, pod = from_pod.rpartition("/")
        return ClientSpec("pod", ns or None, pod)
    return ClientSpec("external" if external else "namespace", from_namespace)


def wait_seconds(wait: str | None, snapshot: str | None) -> float:
    if wait is None:  # given but empty (--wait ''): a usage error below, not "no wait"
        return 0.0
    from kubectl_netdoctor.durations import parse_duration

    seconds = parse_duration(wait)
    if snapshot:
        raise UsageError("--wait with --snapshot: a snapshot never changes, there is nothing to wait for")
    return seconds
