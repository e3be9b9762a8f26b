"""The live reader: the Kubernetes API through the official client, as kubectl-JSON dicts.

Responses are read raw (``_preload_content=False``) and parsed as JSON, which is
both faster than the client's model classes and the exact shape a snapshot
holds. Every failure is mapped to a one-line :mod:`kubectl_netdoctor.errors`
error; the client itself is imported only when a reader is made.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from kubectl_netdoctor import validate
from kubectl_netdoctor.cluster import k8s_import
from kubectl_netdoctor.cluster.reader import KINDS, Obj
from kubectl_netdoctor.errors import ApiTimeout, ApiUnreachable, ClusterError, Forbidden
from kubectl_netdoctor.netpol import kinds

# kind -> API path prefix (namespaced kinds get /namespaces/{ns} inserted)
API_PATHS = {
    "Service": "/api/v1", "Endpoints": "/api/v1", "Pod": "/api/v1", "Namespace": "/api/v1",
    "Node": "/api/v1", "ConfigMap": "/api/v1", "Event": "/api/v1",
    "EndpointSlice": "/apis/discovery.k8s.io/v1", "NetworkPolicy": "/apis/networking.k8s.io/v1",
}

API_SOURCE = "the API server's answer"
SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class LiveReader:
    """Implements :class:`~kubectl_netdoctor.cluster.reader.Reader` against the API server."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 10.0):
        k8s_import.install()  # the client's own package imports would cost 0.65 s per run
        from kubernetes import client, config

        self.timeout = timeout
        cfg = client.Configuration()
        try:
            if kubeconfig or os.environ.get("KUBECONFIG") or os.path.exists(os.path.expanduser("~/.kube/config")) \
                    or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
                contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
                chosen = next((c for c in contexts if c["name"] == context), active) if context else active
                self.context_name = chosen["name"]
                self.default_namespace = (chosen.get("context") or {}).get("namespace") or "default"
            else:
                config.load_incluster_config(client_configuration=cfg)
                self.context_name = "in-cluster"
                with open(SA_NAMESPACE, encoding="utf-8") as f:
                    self.default_namespace = f.read().strip() or "default"
        except (config.ConfigException, OSError, TypeError, ValueError) as err:
            raise ClusterError(f"no cluster access: cannot load kubeconfig: {err}") from None
        cfg.retries = 0  # fail within --timeout; retrying a dead API server only hides it
        self.host = cfg.host
        self.api = client.ApiClient(cfg)
        self.source = f"cluster {self.context_name}"
        self.rejected: list[validate.Rejected] = []
        self._ignored: dict[tuple, list[validate.Rejected]] = {}

    def isolated(self) -> LiveReader:
        """The same reader with a connection pool of its own (a new ``ApiClient`` on the same configuration):
        for the probe's removal after a signal, which may have cut a request of this reader's pool midway."""
        from kubernetes import client

        twin = copy.copy(self)
        twin.api = client.ApiClient(self.api.configuration)
        return twin

    # -- transport ------------------------------------------------------------
    def request(self, path: str, verb: str, resource: str, namespace: str | None,
                query: list[tuple[str, str]] | None = None, method: str = "GET") -> Any:
        """One API call, JSON decoded; errors become one-line ClusterErrors. 404 returns None."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            resp = self.api.call_api(
                path, method, query_params=query or [], header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
                _request_timeout=(self.timeout, self.timeout),
            )
            return json.loads(resp.data)
        except ApiException as err:
            if err.status == 404:
                return None
            if err.status == 403:
                raise Forbidden(verb, resource, namespace) from None
            if err.status == 401:
                raise ClusterError(f"unauthorized: the API server rejected the credentials of {self.source}") from None
            raise ClusterError(f"API error {err.status} {err.reason} on {verb} {resource}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            cause = err.reason if isinstance(err, urllib3.exceptions.MaxRetryError) else err
            # urllib3's NewConnectionError (refused, no route) subclasses ConnectTimeoutError: test it first.
            if isinstance(cause, (urllib3.exceptions.TimeoutError, TimeoutError)) and \
                    not isinstance(cause, urllib3.exceptions.NewConnectionError):
                raise ApiTimeout(f"API server {self.host} timed out after {self.timeout:g}s ({verb} {resource})") from None
            raise ApiUnreachable(f"cannot reach the API server {self.host}: {_root_cause(err)}") from None

    def request_text(self, path: str, verb: str, resource: str, namespace: str | None,
                     query: list[tuple[str, str]] | None = None) -> str:
        """Like :meth:`request` for endpoints that answer plain text (pod logs)."""
        from kubernetes.client.exceptions import ApiException

        try:
            resp = self.api.call_api(path, "GET", query_params=query or [], auth_settings=["BearerToken"],
                                     _preload_content=False, _return_http_data_only=True,
                                     _request_timeout=(self.timeout, self.timeout))
            return resp.data.decode("utf-8", "replace")
        except ApiException as err:
            if err.status == 403:
                raise Forbidden(verb, resource, namespace) from None
            raise ClusterError(f"API error {err.status} {err.reason} on {verb} {resource}") from None

    # -- Reader -----------------------------------------------------------------
    def _path(self, kind: str, namespace: str | None, name: str | None = None) -> str:
        resource, namespaced = KINDS[kind]
        path = API_PATHS[kind]
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
        query = [(k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v]
        data = self.request(self._path(kind, namespace), "list", KINDS[kind][0], namespace, query)
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
