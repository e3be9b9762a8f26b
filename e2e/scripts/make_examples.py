"""Regenerate examples/: real snapshots of broken Services, taken on the e2e cluster.

    python e2e/scripts/make_examples.py [scenario ...]

Each chosen scenario of e2e/scenarios/ is deployed into a namespace named after
it, broken as the scenario says, saved with `kubectl netdoctor snapshot`, and
torn down. The demo (`make demo`) and the golden JSON tests run on the result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from string import Template

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from harness import IMAGES, STATE_DIR, Kubectl, _find_kubectl, wait_for  # noqa: E402
from scenarios import SCENARIOS_DIR, load, manifests, wait_pods  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DEFAULT = ["healthy", "selector-typo", "not-ready", "targetport-name", "wrong-targetport", "default-deny",
           "egress-blocks-dns", "coredns-down", "protocol-mismatch"]


def main(names: list[str]) -> None:
    kubeconfig = str(STATE_DIR / "admin.kubeconfig")
    kubectl = Kubectl(_find_kubectl(), kubeconfig)
    env_base = {"KUBECONFIG": kubeconfig, "PATH": f"{Path(kubectl.binary).parent}:/usr/bin:/bin"}
    for name in names:
        spec = load(name)
        ns = name
        kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=180)
        kubectl("create", "namespace", ns)
        wait_for(lambda ns=ns: kubectl("-n", ns, "get", "sa", "default", check=False).returncode == 0, 30)
        env = {**env_base, "NS": ns, "SCENARIO": str(SCENARIOS_DIR / name), "PYTHON": sys.executable,
               "E2E_LIB": str(REPO / "e2e" / "lib")}
        try:
            kubectl.apply(manifests(name, {**IMAGES, "NS": ns}), ns)
            wait_pods(kubectl, ns, spec.get("wait", "ready"))
            for command in spec.get("break", []):
                subprocess.run(["bash", "-euo", "pipefail", "-c", Template(command).safe_substitute(env)],
                               env=env, check=True)
            out = EXAMPLES / f"{name}.yaml"
            subprocess.run([sys.executable, "-m", "kubectl_netdoctor.cli", "snapshot", "-n", ns, "-o", str(out),
                            "--kubeconfig", kubeconfig], check=True, cwd=REPO)
            print(f"{out.relative_to(REPO)}: {spec['description']}")
        finally:
            for command in spec.get("restore", []):
                subprocess.run(["bash", "-euo", "pipefail", "-c", Template(command).safe_substitute(env)],
                               env=env, check=True)
            kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
