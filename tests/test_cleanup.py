"""``kubectl netdoctor cleanup``: which objects are the tool's leftovers, and what is done to them.

The reader is a fake of the live reader's two calls (``list`` with the label selector the
API would apply, ``request`` for the DELETE); exec is a fake of the probe transport's.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from kubectl_netdoctor import cleanup
from kubectl_netdoctor.cli import app
from kubectl_netdoctor.cluster.probe import DONE_FILE, ProbeSession
from kubectl_netdoctor.errors import Forbidden

NOW = datetime(2026, 11, 29, 21, 0, 0, tzinfo=timezone.utc)


def probe_pod(namespace: str, run_id: str, phase: str = "Running", created_by: str = "bob@ci") -> dict:
    """A probe pod exactly as the tool makes it (its own manifest), with a status."""
    session = ProbeSession.__new__(ProbeSession)
    session.namespace, session.image, session.lifetime_s = namespace, "busybox", 300
    session.run_id, session.name = run_id, f"netdoctor-probe-{run_id}"
    pod = ProbeSession.pod_manifest(session)
    pod["metadata"]["creationTimestamp"] = "2026-11-29T20:52:30Z"
    pod["metadata"]["annotations"]["netdoctor.io/created-by"] = created_by
    pod["status"] = {"phase": phase}
    return pod


def plain_pod(namespace: str, name: str, labels: dict | None = None, ephemeral: list[tuple[str, dict]] = ()) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name},
                     "creationTimestamp": "2026-11-29T08:00:00Z"},
        "spec": {"containers": [{"name": "app", "image": "app"}],
                 "ephemeralContainers": [{"name": n, "image": "busybox"} for n, _ in ephemeral]},
        "status": {"phase": "Running",
                   "ephemeralContainerStatuses": [{"name": n, "state": s} for n, s in ephemeral if s is not None]},
    }


def matches(labels: dict, selector: str | None) -> bool:
    """The API's label selector, for the forms cleanup uses: ``k=v`` and ``k`` (exists)."""
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


class FakeReader:
    def __init__(self, pods: list[dict], refuse_delete: bool = False):
        self.pods = pods
        self.refuse_delete = refuse_delete
        self.deleted: list[tuple[str, str]] = []
        self.lists: list[tuple[str | None, str | None]] = []

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        assert kind == "Pod"
        self.lists.append((namespace, label_selector))
        return [copy.deepcopy(p) for p in self.pods
                if (namespace is None or p["metadata"]["namespace"] == namespace)
                and matches(p["metadata"].get("labels") or {}, label_selector)]

    def request(self, path, verb, resource, namespace, query=None, method="GET"):
        assert (method, verb, resource) == ("DELETE", "delete", "pods")
        assert ("gracePeriodSeconds", "0") in (query or [])
        if self.refuse_delete:
            raise Forbidden("delete", "pods", namespace)
        name = path.rsplit("/", 1)[1]
        assert path == f"/api/v1/namespaces/{namespace}/pods/{name}"
        if not any(p["metadata"]["name"] == name and p["metadata"]["namespace"] == namespace for p in self.pods):
            return None  # 404
        self.deleted.append((namespace, name))
        self.pods = [p for p in self.pods if (p["metadata"]["namespace"], p["metadata"]["name"]) != (namespace, name)]
        return {"kind": "Pod"}


class FakeExec:
    def __init__(self, rc: int | None = 0, error: str = "", refuse: bool = False):
        self.calls: list[tuple] = []
        self.rc, self.error, self.refuse = rc, error, refuse

    def __call__(self, namespace, pod, command, container):
        self.calls.append((namespace, pod, tuple(command), container))
        if self.refuse:
            raise Forbidden("get", "pods/exec", namespace)
        return self.rc, self.error


def cluster() -> list[dict]:
    return [
        probe_pod("shop", "ab12cd", created_by="alice@laptop"),
        probe_pod("shop", "ef34aa", phase="Failed"),          # ended by its activeDeadlineSeconds
        probe_pod("team-b", "0f0f0f"),
        # not the tool's: a look-alike name without the labels, the label without a run id,
        # and a pod of another tool
        plain_pod("shop", "netdoctor-probe-c0ffee"),
        plain_pod("shop", "impostor", labels={"app.kubernetes.io/managed-by": "kubectl-netdoctor"}),
        plain_pod("shop", "web-1", labels={"app.kubernetes.io/managed-by": "helm", "netdoctor.io/run": "x"}),
        # a client pod with one running and one finished ephemeral probe, plus someone's debug container
        plain_pod("shop", "client", ephemeral=[
            ("netdoctor-probe-123456", {"running": {"startedAt": "2026-11-29T20:58:00Z"}}),
            ("netdoctor-probe-654321", {"terminated": {"exitCode": 0}}),
            ("debugger-xyz", {"running": {}}),
        ]),
    ]


def test_finds_only_the_tools_own_objects():
    reader = FakeReader(cluster())
    found = cleanup.find_leftovers(reader, "shop", now=NOW)
    assert [(lo.kind, lo.namespace, lo.pod, lo.container, lo.state) for lo in found] == [
        ("ephemeral container", "shop", "client", "netdoctor-probe-123456", "running"),
        ("pod", "shop", "netdoctor-probe-ab12cd", "", "Running"),
        ("pod", "shop", "netdoctor-probe-ef34aa", "", "Failed"),
    ]
    # The API is asked by the tool's labels (the run id must exist), then every pod for ephemeral ones.
    assert reader.lists == [("shop", "app.kubernetes.io/managed-by=kubectl-netdoctor,netdoctor.io/run"),
                            ("shop", None)]
    assert found[1].details() == "(Running, 7m30s old, created by alice@laptop)"
    assert found[0].details() == "(running, 2m00s old)"


def test_all_namespaces():
    found = cleanup.find_leftovers(FakeReader(cluster()), None, now=NOW)
    assert {(lo.namespace, lo.pod) for lo in found if lo.kind == "pod"} == {
        ("shop", "netdoctor-probe-ab12cd"), ("shop", "netdoctor-probe-ef34aa"), ("team-b", "netdoctor-probe-0f0f0f")}


def test_deletes_pods_and_tells_running_ephemeral_containers_to_exit():
    reader, exec_fn = FakeReader(cluster()), FakeExec()
    outcomes = cleanup.clean(reader, cleanup.find_leftovers(reader, "shop", now=NOW), exec_fn)
    assert all(o.ok for o in outcomes)
    assert reader.deleted == [("shop", "netdoctor-probe-ab12cd"), ("shop", "netdoctor-probe-ef34aa")]
    assert exec_fn.calls == [("shop", "client", ("touch", DONE_FILE), "netdoctor-probe-123456")]
    lines = [o.line for o in outcomes]
    assert lines[0].startswith("told ephemeral container netdoctor-probe-123456 in pod shop/client to exit")
    assert "ephemeral containers cannot be deleted" in lines[0]
    assert lines[1] == "deleted pod shop/netdoctor-probe-ab12cd (Running, 7m30s old, created by alice@laptop)"
    assert lines[2] == "deleted pod shop/netdoctor-probe-ef34aa (Failed, 7m30s old, created by bob@ci)"
    assert cleanup.summary(outcomes, "shop", dry_run=False) == \
        "deleted 2 pods, told 1 ephemeral container to exit in namespace shop"
    # The rest of the namespace is untouched, and a second pass finds nothing.
    assert {p["metadata"]["name"] for p in reader.pods if p["metadata"]["namespace"] == "shop"} == {
        "netdoctor-probe-c0ffee", "impostor", "web-1", "client"}


def test_dry_run_changes_nothing():
    reader, exec_fn = FakeReader(cluster()), FakeExec()
    outcomes = cleanup.clean(reader, cleanup.find_leftovers(reader, "shop", now=NOW), exec_fn, dry_run=True)
    assert reader.deleted == [] and exec_fn.calls == []
    assert [o.line.split(" (")[0] for o in outcomes] == [
        "would tell ephemeral container netdoctor-probe-123456 in pod shop/client to exit",
        "would delete pod shop/netdoctor-probe-ab12cd",
        "would delete pod shop/netdoctor-probe-ef34aa",
    ]
    assert cleanup.summary(outcomes, "shop", dry_run=True) == \
        "would delete 2 pods, would tell 1 ephemeral container to exit in namespace shop"


def test_nothing_to_clean_up():
    reader = FakeReader([plain_pod("shop", "web-1")])
    outcomes = cleanup.clean(reader, cleanup.find_leftovers(reader, "shop", now=NOW), FakeExec())
    assert outcomes == []
    assert cleanup.summary(outcomes, "shop", dry_run=False) == "nothing to clean up in namespace shop"
    assert cleanup.summary(outcomes, None, dry_run=False) == "nothing to clean up in any namespace"


def test_refusals_are_reported_not_hidden():
    reader, exec_fn = FakeReader(cluster(), refuse_delete=True), FakeExec(refuse=True)
    outcomes = cleanup.clean(reader, cleanup.find_leftovers(reader, "shop", now=NOW), exec_fn)
    assert [o.ok for o in outcomes] == [False, False, False]
    assert outcomes[0].line == ("cannot end ephemeral container netdoctor-probe-123456 in pod shop/client: "
                                "forbidden: get pods/exec in ns shop")
    assert outcomes[1].line == "cannot delete pod shop/netdoctor-probe-ab12cd: forbidden: delete pods in ns shop"
    assert cleanup.summary(outcomes, "shop", dry_run=False) == "removed nothing in namespace shop; 3 could not be removed"


def test_already_gone_pod_is_not_an_error():
    reader = FakeReader(cluster())
    found = cleanup.find_leftovers(reader, "shop", now=NOW)
    reader.pods = [p for p in reader.pods if p["metadata"]["name"] != "netdoctor-probe-ab12cd"]  # its run ended meanwhile
    outcomes = cleanup.clean(reader, [lo for lo in found if lo.kind == "pod"], FakeExec())
    assert [o.line.split(" (")[0] for o in outcomes] == ["pod shop/netdoctor-probe-ab12cd was already gone",
                                                         "deleted pod shop/netdoctor-probe-ef34aa"]
    assert all(o.ok for o in outcomes)


def test_ephemeral_container_not_running_yet_cannot_be_ended():
    reader = FakeReader([plain_pod("shop", "client", ephemeral=[
        ("netdoctor-probe-777777", {"waiting": {"reason": "ContainerCreating"}}), ("netdoctor-probe-888888", None)])])
    exec_fn = FakeExec()
    outcomes = cleanup.clean(reader, cleanup.find_leftovers(reader, "shop", now=NOW), exec_fn)
    assert exec_fn.calls == []
    assert [o.ok for o in outcomes] == [False, False]
    assert "it is not running" in outcomes[0].line and "(waiting" in outcomes[0].line
    assert "(no status yet" in outcomes[1].line


@pytest.mark.parametrize("args", [["-n", "shop", "-A"], ["-A", "--namespace", "shop"]])
def test_cli_namespace_and_all_namespaces_exclude_each_other(args):
    result = CliRunner().invoke(app, ["cleanup", *args])
    assert result.exit_code == 2
    assert "-n and -A exclude each other" in result.output


def test_a_probe_container_left_for_reuse_is_found_and_told_to_exit():
    """A --from-pod run leaves its container idle for the next run (cluster/ephemeral.py); cleanup ends it now."""
    session = ProbeSession(None, "shop", "busybox", client_pod={"metadata": {"name": "client", "namespace": "shop"}})
    spec = session.ephemeral_container()
    pod = plain_pod("shop", "client", ephemeral=[(spec["name"], {"running": {"startedAt": "2026-11-29T20:59:00Z"}})])
    pod["spec"]["ephemeralContainers"] = [spec]
    reader, exec_fn = FakeReader([pod]), FakeExec()
    found = cleanup.find_leftovers(reader, "shop", now=NOW)
    assert [(lo.container, lo.state) for lo in found] == [(spec["name"], "running")]
    outcomes = cleanup.clean(reader, found, exec_fn)
    assert [o.ok for o in outcomes] == [True]
    # the done file ends its idle loop whatever leases it holds
    assert exec_fn.calls == [("shop", "client", ("touch", DONE_FILE), spec["name"])]
    assert DONE_FILE in spec["command"][-1]
