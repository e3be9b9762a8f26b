"""The live reader: the Kubernetes API through the official client, as kubectl-JSON dicts.

Responses are read raw (``_preload_content=False``) and parsed as JSON, which is
both faster than the client's model classes and the exact shape a snapshot
holds. Every failure is mapped to a one-line :mod:`kubectl_netdoctor.errors`
error; the client itself is imported only when a reader is made.

Bounds: each request, from connect to its last byte, ends within ``timeout`` seconds
(a server that accepts and never answers, or trickles a byte now and then, included),
and the first request that times out ends every later one at once (:attr:`LiveReader.dead`):
against a silent API server a run ends within about one ``--timeout``, not one per read.
A server that answers, but not as a Kubernetes API server does (an HTML page, a 404 for
the core API), is :class:`~kubectl_netdoctor.errors.NotAnApiServer`, never "nothing there".
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubectl_netdoctor import validate
from kubectl_netdoctor.cluster import k8s_import
from kubectl_netdoctor.cluster.reader import GET_ONLY, KINDS, Obj
from kubectl_netdoctor.errors import (
    ApiTimeout,
    ApiUnreachable,
    ClusterError,
    Forbidden,
    NotAnApiServer,
    NotInstalled,
    one_line,
    yaml_problem,
)
from kubectl_netdoctor.netpol import kinds

# kind -> API path prefix (namespaced kinds get /namespaces/{ns} inserted)
API_PATHS = {
    "Service": "/api/v1", "Endpoints": "/api/v1", "Pod": "/api/v1", "Namespace": "/api/v1",
    "Node": "/api/v1", "ConfigMap": "/api/v1", "Event": "/api/v1",
    "EndpointSlice": "/apis/discovery.k8s.io/v1", "NetworkPolicy": "/apis/networking.k8s.io/v1",
    "Ingress": "/apis/networking.k8s.io/v1", "IngressClass": "/apis/networking.k8s.io/v1", "Secret": "/api/v1",
}
GATEWAY_API = "gateway.networking.k8s.io"
OPTIONAL_APIS: dict[str, tuple[str, tuple[str, ...]]] = {
    "GatewayClass": (GATEWAY_API, ("v1", "v1beta1")),
    "Gateway": (GATEWAY_API, ("v1", "v1beta1")),
    "HTTPRoute": (GATEWAY_API, ("v1", "v1beta1")),
    # v1beta1 in the standard channel of v0.6 to v1.4; v1.5 adds v1
    "ReferenceGrant": (GATEWAY_API, ("v1", "v1beta1")),
}
"""Kinds of an API group that may not be installed (CRDs): kind -> (group, versions, newest first).
Discovery says which version serves the kind; a cluster without the group answers :class:`NotInstalled`
(an unknown /apis/... path is a plain-text 404, which would otherwise read as "not an API server")."""
CORE_API = "/api/v1"
"""Served by every Kubernetes API server: a 404 on one of its lists means the server is not one."""

API_SOURCE = "the API server's answer"
SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
NO_ACCESS = "no cluster access"
_warned_insecure: set[str] = set()
_insecure_lock = threading.Lock()


class LiveReader:
    """Implements :class:`~kubectl_netdoctor.cluster.reader.Reader` against the API server."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 10.0):
        k8s_import.install()  # the client's own package imports would cost 0.65 s per run
        from kubernetes import client, config

        self.timeout = timeout
        self.dead: ClusterError | None = None
        """The timeout that ended this reader: every later request raises it at once."""
        cfg = client.Configuration()
        try:
            if kubeconfig or os.environ.get("KUBECONFIG") or os.path.exists(os.path.expanduser("~/.kube/config")) \
                    or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                users = check_kubeconfig(kubeconfig)
                with _logged_errors() as logged:  # the client logs a failed exec plugin and goes on without it
                    config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
                contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
                chosen = next((c for c in contexts if c["name"] == context), active) if context else active
                if logged:
                    raise ClusterError(_exec_failure(logged, users, chosen))
                self.context_name = chosen["name"]
                self.default_namespace = (chosen.get("context") or {}).get("namespace") or "default"
            else:
                config.load_incluster_config(client_configuration=cfg)
                self.context_name = "in-cluster"
                with open(SA_NAMESPACE, encoding="utf-8") as f:
                    self.default_namespace = f.read().strip() or "default"
        except ClusterError:
            raise
        except (config.ConfigException, OSError, LookupError, TypeError, ValueError, AttributeError) as err:
            # the client's own checks of a kubeconfig of the wrong shape raise any of these
            raise ClusterError(f"{NO_ACCESS}: cannot load kubeconfig: {one_line(err)}") from None
        cfg.retries = 0  # fail within --timeout; retrying a dead API server only hides it
        self.host = cfg.host
        self.insecure = not cfg.verify_ssl
        if self.insecure:  # urllib3 would warn on every request; one line, once an answer came, says it
            _quiet_insecure_warnings()
        self.api = client.ApiClient(cfg)
        self.source = f"cluster {self.context_name}"
        self.rejected: list[validate.Rejected] = []
        self._ignored: dict[tuple, list[validate.Rejected]] = {}
        self._served: dict[str, str | None] = {}
        """Optional kind -> its API path prefix, or None when the cluster does not serve it (discovery, once)."""

    def isolated(self) -> LiveReader:
        """The same reader with a connection pool of its own (a new ``ApiClient`` on the same configuration):
        for the probe's removal after a signal, which may have cut a request of this reader's pool midway;
        and after a timeout, which ended this reader (:attr:`dead`) but must not skip the removal."""
        from kubernetes import client

        twin = copy.copy(self)
        twin.api = client.ApiClient(self.api.configuration)
        twin.dead = None
        return twin

    # -- transport ------------------------------------------------------------
    def _fetch(self, path: str, method: str, verb: str, resource: str, namespace: str | None,
               query: list[tuple[str, str]] | None, headers: dict[str, str]) -> tuple[bytes, str]:
        """One API call's body and content type, within :attr:`timeout` from connect to the last byte.
        The call runs in a thread of its own: urllib3's read timeout is per ``recv``, so a server that
        trickles a byte every half second would hold it forever. One past its deadline is abandoned
        (its connection with it) and ends this reader. Raises ``ApiException`` for HTTP errors."""
        import urllib3

        if self.dead is not None:
            raise self.dead
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                resp = self.api.call_api(
                    path, method, query_params=query or [], header_params=headers, auth_settings=["BearerToken"],
                    _preload_content=False, _return_http_data_only=True,
                    _request_timeout=(self.timeout, self.timeout))
                box["answer"] = (resp.data, resp.headers.get("Content-Type") or "")
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                box["error"] = err

        worker = threading.Thread(target=call, name=f"netdoctor {verb} {resource}", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            self.dead = ApiTimeout(f"API server {self.host} timed out after {self.timeout:g}s ({verb} {resource})")
            raise self.dead
        if "answer" in box:
            if self.insecure:
                _say_insecure_once(self.host)
            return box["answer"]
        err = box["error"]
        if isinstance(err, (urllib3.exceptions.HTTPError, OSError)):
            cause = err.reason if isinstance(err, urllib3.exceptions.MaxRetryError) else err
            # urllib3's NewConnectionError (refused, no route) subclasses ConnectTimeoutError: test it first.
            if isinstance(cause, (urllib3.exceptions.TimeoutError, TimeoutError)) and \
                    not isinstance(cause, urllib3.exceptions.NewConnectionError):
                self.dead = ApiTimeout(f"API server {self.host} timed out after {self.timeout:g}s ({verb} {resource})")
                raise self.dead from None
            raise ApiUnreachable(f"cannot reach the API server {self.host}: {_root_cause(err)}") from None
        raise err

    def request(self, path: str, verb: str, resource: str, namespace: str | None,
                query: list[tuple[str, str]] | None = None, method: str = "GET") -> Any:
        """One API call, JSON decoded; errors become one-line ClusterErrors. A 404 (with the API server's
        own ``Status`` answer) returns None."""
        from kubernetes.client.exceptions import ApiException

        try:
            data, ctype = self._fetch(path, method, verb, resource, namespace, query, {"Accept": "application/json"})
        except ApiException as err:
            if err.status == 404:
                if _is_status(err.body):
                    return None
                raise self._not_an_api_server(method, path, f"404 with {_described(err.body, err.headers)}") from None
            raise self._api_error(err, verb, resource, namespace) from None
        try:
            return json.loads(data)
        except ValueError:  # HTML, plain text, bytes that are not UTF-8
            raise self._not_an_api_server(method, path, f"{_described(data, {'Content-Type': ctype})}, "
                                                        "not JSON") from None

    def request_text(self, path: str, verb: str, resource: str, namespace: str | None,
                     query: list[tuple[str, str]] | None = None) -> str:
        """Like :meth:`request` for endpoints that answer plain text (pod logs)."""
        from kubernetes.client.exceptions import ApiException

        try:
            data, _ = self._fetch(path, "GET", verb, resource, namespace, query, {})
            return data.decode("utf-8", "replace")
        except ApiException as err:
            raise self._api_error(err, verb, resource, namespace) from None

    def _api_error(self, err: Any, verb: str, resource: str, namespace: str | None) -> ClusterError:
        if err.status == 403:
            return Forbidden(verb, resource, namespace)
        if err.status == 401:
            return ClusterError(f"unauthorized: the API server rejected the credentials of {self.source}")
        return ClusterError(f"API error {err.status} {one_line(err.reason, 80)} on {verb} {resource}")

    def _not_an_api_server(self, method: str, path: str, answer: str) -> NotAnApiServer:
        self.dead = NotAnApiServer(f"the server {self.host} (context {self.context_name}) is not a Kubernetes API "
                                   f"server: {method} {path} answered {answer}; check the server URL in the kubeconfig")
        return self.dead

    # -- Reader -----------------------------------------------------------------
    def _api_prefix(self, kind: str) -> str:
        """``/api/v1``, ``/apis/networking.k8s.io/v1``; for an optional kind, the version discovery names,
        else :class:`NotInstalled`."""
        if kind in API_PATHS:
            return API_PATHS[kind]
        if kind not in self._served:
            self._served[kind] = self._discover(kind)
        prefix = self._served[kind]
        if prefix is None:
            raise NotInstalled(kind, OPTIONAL_APIS[kind][0])
        return prefix

    def _discover(self, kind: str) -> str | None:
        group, versions = OPTIONAL_APIS[kind]
        groups = self.request("/apis", "get", "api groups", None) or {}
        served = next((g for g in groups.get("groups") or [] if g.get("name") == group), None)
        if served is None:
            return None
        offered = {v.get("version") for v in served.get("versions") or []}
        for version in (v for v in versions if v in offered):
            resources = self.request(f"/apis/{group}/{version}", "get", f"{group}/{version} resources", None) or {}
            if any(r.get("name") == KINDS[kind][0] for r in resources.get("resources") or []):
                return f"/apis/{group}/{version}"
        return None

    def _path(self, kind: str, namespace: str | None, name: str | None = None) -> str:
        resource, namespaced = KINDS[kind]
        path = self._api_prefix(kind)
        if namespaced and namespace:
            path += f"/namespaces/{namespace}"
        path += f"/{resource}"
        return f"{path}/{name}" if name else path

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        obj = self.request(self._path(kind, namespace, name), "get", KINDS[kind][0], namespace)
        if obj is not None:
            obj.setdefault("kind", kind)
            if bad := validate.problems(obj, limit=1):
                # "not found" would be a false diagnosis: the steps that need it are blocked instead
                raise ClusterError(f"malformed {validate.reject(obj, bad[0], API_SOURCE).object} "
                                   f"from the API server: {bad[0]}")
        return obj

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        if kind in GET_ONLY:
            raise ValueError(f"{kind} objects are read one by name, never listed")
        query = [(k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v]
        path = self._path(kind, namespace)
        data = self.request(path, "list", KINDS[kind][0], namespace, query)
        if data is None and API_PATHS.get(kind) == CORE_API:
            raise self._not_an_api_server("GET", path, "404 (every Kubernetes API server serves it)")
        if data is not None and not (isinstance(data, dict) and isinstance(data.get("items", 0), (list, type(None)))):
            raise self._not_an_api_server("GET", path, "JSON that is not a Kubernetes list (no items)")
        items = (data or {}).get("items") or []
        for item in items:  # list items come without kind; restore it so they look like `kubectl get`
            if isinstance(item, dict):
                item.setdefault("kind", kind)
        items, rejected = validate.split(items, API_SOURCE)
        self._ignored[(kind, namespace, label_selector, field_selector)] = rejected
        self.rejected += [r for r in rejected if r not in self.rejected]
        return items

    def ignored(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> list[validate.Rejected]:
        """The malformed objects that the same :meth:`list` left out (see :mod:`kubectl_netdoctor.validate`)."""
        return self._ignored.get((kind, namespace, label_selector, field_selector), [])

    def node_captures(self) -> dict[str, dict[str, str]]:
        """Nothing saved: live rules come from the probes (:mod:`kubectl_netdoctor.probes`)."""
        return {}

    def capture_source(self, node: str, kind: str) -> str:
        return f"{node}.{kind}"

    def default_namespace_for(self, service: str) -> str:
        """The kubeconfig context's namespace (or the pod's own, in-cluster)."""
        return self.default_namespace

    def default_node_image(self) -> str:
        """kube-proxy's public image at the server's version: it has iptables-save, ipvsadm and nft."""
        version = (self.request("/version", "get", "version", None) or {}).get("gitVersion", "")
        return f"registry.k8s.io/kube-proxy:{version.split('-')[0] or 'v1.34.0'}"

    def api_groups(self) -> set[str]:
        data = self.request("/apis", "get", "api groups", None) or {}
        return {g.get("name") for g in data.get("groups") or []}

    def _preferred_version(self, group: str) -> str | None:
        data = self.request(f"/apis/{group}", "get", f"{group} api group", None) or {}
        return (data.get("preferredVersion") or {}).get("version")

    def policy_crd_items(self, namespaces: list[str] | None) -> tuple[list[Obj], list[str]]:
        """CNI-specific policy objects in these namespaces (None: all) or cluster-wide, and what was refused."""
        groups = self.api_groups()
        items: list[Obj] = []
        refused: list[str] = []
        for kind in (k for k in kinds.POLICY_KINDS if k.listed_live):
            group, resource, namespaced, label = kind.group, kind.resource, kind.namespaced, kind.label
            version = self._preferred_version(group) if group in groups else None
            if not version:
                continue
            scopes: list[str | None] = list(namespaces) if namespaced and namespaces else [None]
            for ns in scopes:
                where = f"/namespaces/{ns}" if ns else ""
                try:
                    data = self.request(f"/apis/{group}/{version}{where}/{resource}", "list", resource, ns) or {}
                except Forbidden as err:
                    refused.append(f"{label} ({err})")
                    continue
                for item in data.get("items") or []:
                    item.setdefault("kind", data.get("kind", "List").removesuffix("List"))
                    item.setdefault("apiVersion", f"{group}/{version}")
                    items.append(item)
        return items, refused

    def policy_crds(self, namespaces: list[str]) -> list[str]:
        items, refused = self.policy_crd_items(namespaces)
        return sorted(kinds.describe(i) for i in items) + [f"{r}, may exist" for r in refused]


def _root_cause(err: BaseException) -> str:
    """The innermost reason, without urllib3's pool and object addresses."""
    reason = getattr(err, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = reason.reason
    text = str(reason or err)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name does not resolve"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed"
    return text.split(": ", 1)[-1][:200]


def _is_status(body: Any) -> bool:
    """Whether a 404's body is the API server's own ``Status`` (a real "not found"), not a web server's page."""
    try:
        doc = json.loads(body or b"")
    except (ValueError, TypeError):
        return False
    return isinstance(doc, dict) and doc.get("kind") == "Status"


def _described(body: Any, headers: Any) -> str:
    """What a non-API answer was, for the message: its content type (else how it starts)."""
    ctype = ((headers or {}).get("Content-Type") or "").split(";")[0].strip()
    if ctype:
        return ctype
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    return f"no content type ({one_line(text, 40)!r})" if text.strip() else "an empty body"


# -- the kubeconfig ------------------------------------------------------------------------

KUBECONFIG_LISTS = {"clusters": "cluster", "contexts": "context", "users": "user"}
KUBECONFIG_STRINGS = {"server", "certificate-authority", "certificate-authority-data", "tls-server-name", "proxy-url",
                      "cluster", "user", "namespace", "token", "tokenFile", "client-certificate",
                      "client-certificate-data", "client-key", "client-key-data", "username", "password"}
"""Fields of a cluster, context or user entry that the client reads as strings (and breaks on otherwise)."""


def kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    """The files the client reads: ``--kubeconfig``, else ``$KUBECONFIG`` (a list), else ``~/.kube/config``."""
    raw = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p]


def check_kubeconfig(kubeconfig: str | None) -> dict[str, Any]:
    """Read the kubeconfig file(s) as the client will, and refuse, in one line naming the file (and the
    line), what would make the client fail with a traceback: bytes that are not UTF-8, broken YAML, a
    document of the wrong shape (``clusters: 5``). Returns the users by name (the first file wins, as
    in the client), to name an exec plugin that fails."""
    import yaml

    from kubectl_netdoctor.parsers import safeload

    users: dict[str, Any] = {}
    for path in kubeconfig_paths(kubeconfig):
        if not os.path.exists(path):
            continue  # the client skips it too, or says it is missing
        where = f"{NO_ACCESS}: cannot load kubeconfig {path}"
        try:
            with open(path, "rb") as f:
                raw = f.read(16 * 1024 * 1024 + 1)
        except OSError as err:
            raise ClusterError(f"{where}: {err.strerror or err}") from None
        if len(raw) > 16 * 1024 * 1024:
            raise ClusterError(f"{where}: larger than 16 MiB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ClusterError(f"{where}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})") from None
        try:
            doc = safeload.load_yaml(text)
        except safeload.InputError as err:
            raise ClusterError(f"{where}{f':{err.line}' if err.line else ''}: {err}") from None
        except yaml.YAMLError as err:
            problem, line = yaml_problem(err)
            raise ClusterError(f"{where}{f':{line}' if line else ''}: invalid YAML: {problem}") from None
        for problem in _kubeconfig_shape(doc):
            raise ClusterError(f"{where}: {problem}")
        for user in (doc or {}).get("users") or []:
            users.setdefault(user["name"], user.get("user") or {})
    return users


def _kubeconfig_shape(doc: Any) -> list[str]:
    """What is wrong with a kubeconfig document's shape (the fields the client reads), first problem first."""
    if doc is None:
        return []
    if not isinstance(doc, dict):
        return [f"expected a mapping (apiVersion, clusters, contexts, users), got {_kind_of(doc)}"]
    out = []
    current = doc.get("current-context")
    if current is not None and not isinstance(current, str):
        out.append(f"current-context: expected a string, got {_kind_of(current)}")
    for key, item in KUBECONFIG_LISTS.items():
        entries = doc.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            out.append(f"{key}: expected a list, got {_kind_of(entries)}")
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                out.append(f"{key}[{i}]: expected a mapping with name and {item}, got {_kind_of(entry)}")
            elif not isinstance(entry.get("name"), str):
                out.append(f"{key}[{i}].name: expected a string, got {_kind_of(entry.get('name'))}")
            elif entry.get(item) is not None and not isinstance(entry[item], dict):
                out.append(f"{key}[{i}].{item}: expected a mapping, got {_kind_of(entry[item])}")
            else:
                out += [f"{key}[{i}].{item}.{field}: expected a string, got {_kind_of(value)}"
                        for field, value in (entry.get(item) or {}).items()
                        if field in KUBECONFIG_STRINGS and value is not None and not isinstance(value, str)]
    return out


def _kind_of(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return one_line(repr(value), 40)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _logged_errors() -> Iterator[list[str]]:
    """Collect what the client logs while the kubeconfig loads. It logs a failed exec plugin (``exec:
    process returned 1. <the plugin's stderr>``) through the root logger, which then prints
    ``ERROR:root:...`` lines, and goes on without credentials; the reader turns it into one error."""
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)  # a root logger with a handler of its own gets no basicConfig from logging.error()
    try:
        yield handler.messages
    finally:
        root.removeHandler(handler)


def _exec_failure(logged: list[str], users: dict[str, Any], chosen: dict[str, Any]) -> str:
    user = users.get(((chosen or {}).get("context") or {}).get("user"), {})
    command = (user.get("exec") or {}).get("command") if isinstance(user, dict) else None
    plugin = f"exec plugin {command!r}" if isinstance(command, str) else "credential plugin"
    reason = one_line(logged[0].removeprefix("exec: "))
    return f"{NO_ACCESS}: the kubeconfig's {plugin} failed: {reason}"


def _quiet_insecure_warnings() -> None:
    import warnings

    import urllib3

    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)


def _say_insecure_once(host: str) -> None:
    """``insecure-skip-tls-verify``: one line on stderr, when the server first answers (an error instead stays
    the one line on stderr), instead of urllib3's warning on every request."""
    with _insecure_lock:
        if host in _warned_insecure:
            return
        _warned_insecure.add(host)
    sys.stderr.write(f"warning: the TLS certificate of {host} is not verified "
                     "(insecure-skip-tls-verify in the kubeconfig)\n")
