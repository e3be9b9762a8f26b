"""The task runner stores each typed task's result, or its failure, where the task says."""

from __future__ import annotations

from kubectl_netdoctor.cluster.probe import ExecResult
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.probes.tasks import ProbeTask, listener_task, rules_task, run_tasks, tcp_task

POD = {"metadata": {"namespace": "shop", "name": "web-1"}, "spec": {"containers": [{"name": "app"}]}}


class Refusing:
    """An executor whose every exec RBAC refuses."""

    def exec(self, namespace, pod, command, container=None, timeout=20.0):
        raise Forbidden("get", "pods/exec", namespace)


class Answering:
    def __init__(self, stdout: str):
        self.stdout = stdout

    def exec(self, namespace, pod, command, container=None, timeout=20.0):
        return ExecResult(0, self.stdout, "")


def refused_rules() -> ExecResult:
    raise Forbidden("get", "pods/exec", "kube-system")


def test_refused_listener_read_is_a_listen_refusal():
    ev = LiveEvidence()
    run_tasks(ev, [listener_task(Refusing(), POD)], None)
    assert ev.listen_refused == {"web-1": "forbidden: get pods/exec in ns shop"}
    assert ev.listen_refusal() == "forbidden: get pods/exec in ns shop"
    assert ev.rules_refusal() is None and ev.skipped == {}


def test_listener_text_is_stored_by_pod():
    ev = LiveEvidence()
    run_tasks(ev, [listener_task(Answering("  sl  local_address ...\n"), POD)], None)
    assert ev.listeners == {"web-1": "  sl  local_address ...\n"}


def test_rules_refusal_is_set_when_every_skipped_node_was_refused():
    ev = LiveEvidence()
    run_tasks(ev, [rules_task("n1", refused_rules), rules_task("n2", refused_rules)], None)
    assert ev.rules_refusal() == "forbidden: get pods/exec in ns kube-system"
    ev = LiveEvidence()
    run_tasks(ev, [rules_task("n1", refused_rules), rules_task("n2", lambda: ({"nft": "x"}, (1, 10), "no ipvsadm"))],
              None)
    assert ev.rules_skipped == {"n1": "forbidden: get pods/exec in ns kube-system", "n2": "no ipvsadm"}
    assert ev.rules_refusal() is None  # n2 was skipped for another reason
    assert ev.captures == {"n2": {"nft": "x"}} and ev.conntrack == {"n2": (1, 10)}


def test_a_batch_that_raises_is_skipped_with_its_type_and_progress_names_each_task():
    class Broken:
        def script(self, text, timeout=30.0):
            raise RuntimeError("boom")

    ev, done = LiveEvidence(), []
    run_tasks(ev, [tcp_task(Broken(), [("10.0.0.1", 80)]),
                   ProbeTask("custom", lambda: 1, lambda e, v: setattr(e, "probe", str(v)), lambda e, err: None)],
              done.append)
    assert ev.skipped == {"tcp": "RuntimeError: boom"} and ev.refused == {}
    assert ev.probe == "1" and sorted(done) == ["custom", "tcp"]
