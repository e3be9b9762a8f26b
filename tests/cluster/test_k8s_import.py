"""The lazy import of the Kubernetes client (cluster/k8s_import.py) gives the same names as the
client's own eager ``__init__`` files, and imports only what is used.

Each check runs in a fresh interpreter: the point is what a process imports."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = """
import json, sys
from kubectl_netdoctor.cluster import k8s_import
installed = k8s_import.install()
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream, portforward
api = client.CoreV1Api(client.ApiClient(client.Configuration()))
used = sorted(m for m in sys.modules if m.startswith("kubernetes"))
print(json.dumps({"installed": installed, "modules": used,
                  "core": client.CoreV1Api.__module__, "version": __import__("kubernetes").__version__}))
"""

EVERY_NAME = """
import importlib, json
out = {}
for pkg in ("kubernetes.client", "kubernetes.client.api", "kubernetes.client.models"):
    mod = importlib.import_module(pkg)
    names = sorted(n for n in dir(mod) if not n.startswith("_") and isinstance(getattr(mod, n), type))
    out[pkg] = {n: getattr(mod, n).__module__ for n in names}
print(json.dumps(out))
"""


def _run(code: str, lazy: bool) -> dict:
    prefix = "from kubectl_netdoctor.cluster import k8s_import; assert k8s_import.install()\n" if lazy else ""
    out = subprocess.run([sys.executable, "-c", prefix + code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_lazy_client_imports_only_what_is_used() -> None:
    got = _run(LAZY, lazy=False)
    assert got["installed"] is True
    assert got["core"] == "kubernetes.client.api.core_v1_api"
    assert got["version"]
    models = [m for m in got["modules"] if m.startswith("kubernetes.client.models.")]
    apis = [m for m in got["modules"] if m.startswith("kubernetes.client.api.")]
    assert models == [], models  # the eager import loads ~1,000 model modules
    assert apis == ["kubernetes.client.api.core_v1_api"]
    assert "kubernetes.dynamic" not in got["modules"] and "kubernetes.leaderelection" not in got["modules"]


def test_every_class_the_eager_packages_export_resolves_lazily_to_the_same_module() -> None:
    eager = _run(EVERY_NAME, lazy=False)
    lazy_code = "import sys, json, importlib\nout = {}\n" + "\n".join(
        f"mod = importlib.import_module({pkg!r})\n"
        f"out[{pkg!r}] = {{n: getattr(mod, n).__module__ for n in {sorted(names)!r}}}"
        for pkg, names in eager.items()) + "\nprint(json.dumps(out))\n"
    lazy = _run(lazy_code, lazy=True)
    for pkg, names in eager.items():
        assert len(names) > 10, pkg
        assert lazy[pkg] == names, pkg


def test_nothing_installed_once_the_client_is_imported() -> None:
    code = ("import json, kubernetes\nfrom kubectl_netdoctor.cluster import k8s_import\n"
            "print(json.dumps({'installed': k8s_import.install(), 'models': len([m for m in __import__('sys').modules "
            "if m.startswith('kubernetes.client.models.')])}))\n")
    got = _run(code, lazy=False)
    assert got["installed"] is False
    assert got["models"] > 500
