"""The probe's life cycle at the moments a signal can cut it: the create in flight, the
deletion itself, an ephemeral container still starting. A fake API server stands behind
the reader (``api.call_api`` for the create, ``request`` for the delete, ``get`` for status)."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest

from kubectl_netdoctor.cluster import probe
from kubectl_netdoctor.cluster.probe import DONE_FILE, ExecResult, ProbeSession, probe_session, stop_all


class Response:
    def __init__(self, obj: dict):
        self.data = json.dumps(obj).encode()


class FakeServer:
    """Pods by name; hooks decide what a create or a delete does."""

    def __init__(self):
        self.pods: dict[str, dict] = {}
        self.deletes = 0
        self.on_create = None   # called with the manifest; default: store it and answer
        self.on_delete = None   # called before a delete is served

    # LiveReader.api.call_api (what probe.write uses)
    def call_api(self, path, method, body=None, **_):
        if self.on_create:
            return self.on_create(body)
        self.pods[body["metadata"]["name"]] = body
        return Response(body)

    # LiveReader.request
    def request(self, path, verb, resource, namespace, query=None, method="GET"):
        assert (method, verb) == ("DELETE", "delete")
        self.deletes += 1
        if self.on_delete:
            self.on_delete()
        return self.pods.pop(path.rsplit("/", 1)[1], None)

    # LiveReader.get
    def get(self, kind, namespace, name):
        pod = self.pods.get(name)
        if pod is None:
            return None
        return {**pod, "status": {"phase": "Running", "containerStatuses": [{"name": "probe", "state": {"running": {}}}]}}


class Reader:
    timeout = 5.0

    def __init__(self, server: FakeServer):
        self.api = server
        self.request, self.get = server.request, server.get
        self.isolated_readers: list[Reader] = []

    def isolated(self) -> Reader:
        twin = Reader(self.api)
        self.isolated_readers.append(twin)
        return twin


@pytest.fixture(autouse=True)
def no_leftover_sessions():
    yield
    stop_all()


def test_signal_while_the_create_is_in_flight_still_deletes_the_pod():
    server = FakeServer()

    def created_but_no_answer(body):
        server.pods[body["metadata"]["name"]] = body
        raise KeyboardInterrupt  # Ctrl-C while waiting for the answer
    server.on_create = created_but_no_answer
    session = ProbeSession(Reader(server), "shop", "busybox")
    with pytest.raises(KeyboardInterrupt):
        session.start()
    assert session.name in server.pods
    stop_all()  # what the CLI does on KeyboardInterrupt
    assert server.pods == {}


def test_a_create_that_lands_after_the_first_delete_is_deleted_too():
    server = FakeServer()
    manifests = []

    def no_answer_yet(body):
        manifests.append(body)
        raise KeyboardInterrupt
    server.on_create = no_answer_yet

    def lands_late():
        if server.deletes == 2:  # the API server commits the create between our first and second look
            server.pods[manifests[0]["metadata"]["name"]] = manifests[0]
    server.on_delete = lands_late
    session = ProbeSession(Reader(server), "shop", "busybox")
    with pytest.raises(KeyboardInterrupt):
        session.start()
    stop_all()
    assert server.pods == {} and server.deletes == 2


def test_the_probe_records_the_node_it_was_scheduled_on():
    """Its ClusterIP connects go through that node's kube-proxy rules (the proxy step weighs them there)."""
    server = FakeServer()
    scheduled = server.get

    def get(kind, namespace, name):
        pod = scheduled(kind, namespace, name)
        return pod and {**pod, "spec": {**pod["spec"], "nodeName": "worker-2"}}
    reader = Reader(server)
    reader.get = get
    session = ProbeSession(reader, "shop", "busybox")
    assert session.node == ""  # not scheduled yet
    session.start()
    assert session.node == "worker-2"
    session.stop()


def test_an_ephemeral_probe_is_on_its_client_pods_node():
    client = {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": {"nodeName": "worker-1", "containers": []}}
    assert ProbeSession(Reader(FakeServer()), "shop", "busybox", client).node == "worker-1"


def test_a_refused_create_leaves_nothing_to_delete():
    from kubernetes.client.exceptions import ApiException

    server = FakeServer()

    def refuse(body):
        raise ApiException(status=403, reason="Forbidden")
    server.on_create = refuse
    session = ProbeSession(Reader(server), "shop", "busybox")
    with pytest.raises(probe.ProbeUnavailable, match="forbidden: create pods in ns shop"):
        session.start()
    assert session not in probe._ACTIVE
    stop_all()
    assert server.deletes == 0


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_deletion_waits_for_it_then_ends_the_run(signame):
    server = FakeServer()
    sent = []

    def signal_mid_delete():
        if not sent:
            sent.append(signame)
            os.kill(os.getpid(), getattr(signal, signame))  # a second Ctrl-C / SIGTERM, mid-request
    server.on_delete = signal_mid_delete
    session = ProbeSession(Reader(server), "shop", "busybox")
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with probe_session(session):
            assert session.name in server.pods
    assert sent and server.pods == {}  # deleted first, interrupted after
    assert signal.getsignal(signal.SIGTERM) is before


class FakeExecutor:
    """exec into the ephemeral container fails until it runs."""

    def __init__(self, server: FakeServer, runs_after_gets: int):
        self.server, self.runs_after_gets, self.touched = server, runs_after_gets, []

    def exec(self, namespace, pod, command, container=None, timeout=20.0):
        if self.server.gets < self.runs_after_gets:
            return ExecResult(None, "", "", 'exec failed: container not found ("netdoctor-probe-x")')
        self.touched.append((namespace, pod, tuple(command), container))
        return ExecResult(0, "", "")


def test_an_ephemeral_container_still_starting_is_told_to_exit_once_it_runs():
    server = FakeServer()
    client = {"metadata": {"name": "client", "namespace": "shop"}, "spec": {"containers": [{"name": "app"}]}}
    server.gets = 0
    session = ProbeSession(Reader(server), "shop", "busybox", client_pod=client)

    def get(kind, namespace, name):
        server.gets += 1
        state = {"running": {}} if server.gets >= 3 else {"waiting": {"reason": "ContainerCreating"}}
        return {**client, "spec": {**client["spec"], "ephemeralContainers": [{"name": session.container}]},
                "status": {"ephemeralContainerStatuses": [{"name": session.container, "state": state}]}}
    server.get = session.reader.get = get  # the removal reads through an isolated twin of the reader
    session.executor = FakeExecutor(server, runs_after_gets=3)
    session.created = True  # the patch was applied; its container is still being created
    session.stop()
    assert session.executor.touched == [("shop", "client", ("touch", DONE_FILE), session.container)]


def test_the_pods_deadline_ends_an_abandoned_probe_not_its_idle_loop():
    pod = ProbeSession(Reader(FakeServer()), "shop", "busybox", lifetime_s=300).pod_manifest()
    assert pod["spec"]["activeDeadlineSeconds"] == 300
    loop = int(re.search(r"-lt (\d+)", pod["spec"]["containers"][0]["command"][-1]).group(1))
    assert loop > 300


def test_an_ephemeral_container_that_cannot_start_is_not_waited_for():
    server = FakeServer()
    client = {"metadata": {"name": "client", "namespace": "shop"}, "spec": {"containers": [{"name": "app"}]}}
    server.gets = 0
    session = ProbeSession(Reader(server), "shop", "no-such-image", client_pod=client)

    def get(kind, namespace, name):
        server.gets += 1
        return {**client, "spec": {**client["spec"], "ephemeralContainers": [{"name": session.container}]},
                "status": {"ephemeralContainerStatuses": [
                    {"name": session.container, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}
    server.get = session.reader.get = get  # the removal reads through an isolated twin of the reader
    session.executor = FakeExecutor(server, runs_after_gets=10**6)
    session.created = True
    session.stop()
    assert server.gets == 1 and session.executor.touched == []


def test_the_removal_goes_through_a_pool_of_its_own():
    """A signal can cut a request of the shared pool midway and leave it unusable (its lock taken): the pod is
    deleted through an isolated reader, never through the one that was in flight."""
    server = FakeServer()
    reader = Reader(server)

    def poisoned(*_a, **_k):
        raise AssertionError("the deletion used the shared pool")
    session = ProbeSession(reader, "shop", "busybox")
    session.start()
    reader.request = reader.get = poisoned
    stop_all()
    assert session.name not in server.pods and len(reader.isolated_readers) == 1


def test_live_reader_isolated_shares_the_configuration_not_the_pool(tmp_path):
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://192.0.2.10:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "shop"}}]}))
    reader = LiveReader(kubeconfig=str(kubeconfig))
    twin = reader.isolated()
    assert twin.api is not reader.api and twin.api.configuration is reader.api.configuration
    assert twin.api.rest_client.pool_manager is not reader.api.rest_client.pool_manager
    assert (twin.host, twin.default_namespace, twin.timeout) == (reader.host, "shop", reader.timeout)
