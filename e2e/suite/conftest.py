"""Shared fixtures for the end-to-end tests (real cluster, real iptables).

Which cluster:
  * ``NETDOCTOR_E2E_KUBECONFIG`` set  -> use that cluster as it is (kind, or any
    other); ``e2e/cluster/up`` and ``down`` are never run. Plain ``KUBECONFIG`` is
    deliberately ignored so that a developer's everyday cluster is never touched.
  * otherwise -> ``e2e/cluster/up`` is run once per session (a fast no-op when the
    cluster is already up) and its printed kubeconfig path is used. The cluster is
    left running afterwards for reuse; call ``e2e/cluster/down`` to remove it.

kubectl: ``NETDOCTOR_E2E_KUBECTL``, else ``$NETDOCTOR_E2E_DIR/bin/kubectl`` (built
with the cluster), else ``kubectl`` on PATH.

Images: names come from ``e2e/cluster/versions.env``; each can be overridden by the
environment variable of the same name (``TOOLBOX_IMAGE``, ``HTTPAPP_IMAGE``...),
e.g. after loading them into kind under other names.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers the suite shares with e2e/scripts/ (harness, scenarios, audit) live in e2e/lib/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from harness import (  # noqa: E402
    CLUSTER_DIR,
    E2E,
    IMAGES,
    STATE_DIR,
    Cluster,
    Kubectl,
    _find_kubectl,
    create_namespace,
    delete_namespace,
)


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    """The cluster under test: external (NETDOCTOR_E2E_KUBECONFIG) or our own (up)."""
    external = os.environ.get("NETDOCTOR_E2E_KUBECONFIG")
    if external:
        kubeconfig = external
    else:
        if os.geteuid() != 0:
            pytest.skip("e2e/cluster/up needs root (or set NETDOCTOR_E2E_KUBECONFIG)")
        proc = subprocess.run([str(CLUSTER_DIR / "up")], stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            pytest.fail(f"e2e/cluster/up failed ({proc.returncode}); logs in {STATE_DIR / 'logs'}")
        kubeconfig = proc.stdout.strip().splitlines()[-1]
    kubectl = Kubectl(_find_kubectl(), kubeconfig)
    return Cluster(kubeconfig, kubectl, bool(external), dict(IMAGES))


@pytest.fixture(scope="session")
def kubeconfig(cluster: Cluster) -> str:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    return cluster.kubectl


@pytest.fixture(scope="session")
def images(cluster: Cluster) -> dict[str, str]:
    return cluster.images


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = create_namespace(kubectl, request.node.name)
    yield name
    delete_namespace(kubectl, name)


@pytest.fixture(scope="session")
def e2e() -> type[E2E]:
    return E2E
