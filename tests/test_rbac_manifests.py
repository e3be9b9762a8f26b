"""deploy/rbac/ grants exactly what the README's "RBAC the tool needs" tables say, and nothing more.

Both sides are reduced to the same set of grants, ``(scope, apiGroup, resource, verb)``:

* README: each table row's verbs x resources, in the scopes its "where" column names
  (``kube-system``; ``namespace``: the Service's / the client's / the target's namespace or pods there;
  ``cluster``: cluster-scoped, all namespaces, or CRD APIs wherever they exist). The open
  end of the CRD row (``...``) is the tool's own catalogue of policy CRDs it lists.
* deploy/rbac: every binding, followed to its role's rules, in the scope the binding gives
  it (ClusterRoleBinding: ``cluster``; RoleBinding in kube-system: ``kube-system``; a
  RoleBinding without a namespace, applied with ``-n NAMESPACE`` into each diagnosed
  namespace: ``namespace``). The roles' ``app.kubernetes.io/component`` label (``read-only``
  or ``probe``) says which table they implement.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_netdoctor.netpol.kinds import POLICY_KINDS

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
RBAC_DIR = REPO / "deploy" / "rbac"
SERVICE_ACCOUNT = ("netdoctor", "netdoctor")  # namespace, name

Grant = tuple[str, str, str, str]  # scope, apiGroup, resource, verb

#: Kubernetes' own resources named in the tables without a group -> their API group.
CORE_GROUPS = {"networkpolicies": "networking.k8s.io", "endpointslices": "discovery.k8s.io"}


# -- the README side ---------------------------------------------------------------------

def rbac_tables(text: str) -> dict[str, list[list[str]]]:
    """The rows (verb, resource, where) of the two tables of the "RBAC the tool needs" section,
    keyed ``read-only`` (the first) and ``probe`` (the one after "Active probes add")."""
    m = re.search(r"^## RBAC the tool needs\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README has no '## RBAC the tool needs' section"
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in m.group(1).splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if current is None:
                assert cells == ["verb", "resource", "where"], f"unexpected RBAC table header: {line}"
                current = []
                tables.append(current)
            elif not set("".join(cells)) <= set("-: "):
                current.append(cells)
        else:
            current = None
    assert len(tables) == 2, f"expected the read-only and the active-probe table, found {len(tables)}"
    return {"read-only": tables[0], "probe": tables[1]}


def split_list(cell: str) -> list[str]:
    """``a, b (x, y), c`` -> ``["a", "b (x, y)", "c"]`` (commas inside parentheses kept)."""
    parts, depth, cur = [], 0, ""
    for ch in cell:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return [p for p in parts if p]


def crd_catalogue() -> dict[str, str]:
    """resource -> API group of the policy CRDs the tool lists (the ``...`` of the README row)."""
    return {k.resource: k.group for k in POLICY_KINDS if k.listed_live}


def resource_group(item: str, crds: dict[str, str]) -> list[tuple[str, str]]:
    """One resource cell item -> ``[(group, resource)]``."""
    item = item.replace("`", "")
    if item == "...":
        return []  # expanded by the caller
    note = re.search(r"\(([^)]*)\)", item)
    name = re.sub(r"\s*\(.*?\)", "", item).strip()
    assert re.fullmatch(r"[a-z]+(/[a-z]+)?(\.[a-z0-9.-]+)?", name), f"cannot read resource {item!r}"
    if note and re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", note.group(1)):
        return [(note.group(1), name)]  # "endpointslices (discovery.k8s.io)"
    if "." in name:
        resource, group = name.split(".", 1)  # "networkpolicies.crd.projectcalico.org"
        return [(group, resource)]
    if name in CORE_GROUPS:
        return [(CORE_GROUPS[name], name)]
    if name in crds:
        return [(crds[name], name)]  # "ciliumnetworkpolicies"
    return [("", name)]


def scopes_of(where: str) -> set[str]:
    w = where.replace("`", "")
    scopes = set()
    if "kube-system" in w:
        scopes.add("kube-system")
    if re.search(r"the Service's|the client's|the target's|--from-pod pod|pods of the Service", w):
        scopes.add("namespace")
    if w == "cluster" or "all namespaces" in w or "only where those APIs exist" in w:
        scopes.add("cluster")
    assert scopes, f"cannot tell the scope of 'where' = {where!r}"
    return scopes


def readme_grants(rows: list[list[str]]) -> set[Grant]:
    crds = crd_catalogue()
    grants: set[Grant] = set()
    for verbs_cell, resources_cell, where in rows:
        verbs = split_list(verbs_cell)
        assert verbs and all(re.fullmatch(r"[a-z]+", v) for v in verbs), verbs_cell
        items = split_list(resources_cell)
        resources = [gr for item in items for gr in resource_group(item, crds)]
        if "..." in items:
            # The open end of the CRD row: every policy CRD the tool lists.
            named = {r for _, r in resources}
            assert named <= set(crds), f"CRD row names {named - set(crds)}, which the tool never lists"
            resources += [(g, r) for r, g in crds.items() if r not in named]
        assert resources, resources_cell
        for scope in scopes_of(where):
            grants |= {(scope, g, r, v) for g, r in resources for v in verbs}
    return grants


# -- the deploy/rbac side ----------------------------------------------------------------

def manifests() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(RBAC_DIR.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path, doc))
    return docs


def role_key(kind: str, name: str, namespace: str | None) -> tuple[str, str, str | None]:
    return (kind, name, None if kind == "ClusterRole" else namespace)


def roles() -> dict[tuple[str, str, str | None], dict[str, Any]]:
    return {role_key(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d
            for _, d in manifests() if d["kind"] in ("Role", "ClusterRole")}


def bindings() -> list[dict[str, Any]]:
    return [d for _, d in manifests() if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]


def rule_grants(rules: Iterable[dict[str, Any]], scope: str) -> set[Grant]:
    return {(scope, g, r, v) for rule in rules
            for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def binding_scope(b: dict[str, Any]) -> str:
    if b["kind"] == "ClusterRoleBinding":
        return "cluster"
    ns = b["metadata"].get("namespace")
    assert ns in (None, "kube-system"), f"RoleBinding {b['metadata']['name']} pinned to namespace {ns}"
    return "kube-system" if ns == "kube-system" else "namespace"


def bound_role(b: dict[str, Any]) -> dict[str, Any]:
    ref = b["roleRef"]
    assert ref["apiGroup"] == "rbac.authorization.k8s.io", ref
    # A RoleBinding's Role lives in the binding's namespace (for a namespace-less one: the -n of apply).
    key = role_key(ref["kind"], ref["name"], b["metadata"].get("namespace"))
    all_roles = roles()
    assert key in all_roles, f"{b['kind']} {b['metadata']['name']} refers to {key}, which deploy/rbac does not define"
    return all_roles[key]


def deployed_grants() -> dict[str, set[Grant]]:
    out: dict[str, set[Grant]] = defaultdict(set)
    for b in bindings():
        role = bound_role(b)
        component = role["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        assert component in ("read-only", "probe"), f"{role['kind']} {role['metadata']['name']}: component {component!r}"
        out[component] |= rule_grants(role["rules"], binding_scope(b))
    return out


def readable(grants: Iterable[Grant]) -> list[str]:
    return sorted(f"{v} {r}{'.' + g if g else ''} in {s}" for s, g, r, v in grants)


# -- tests -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tables() -> dict[str, list[list[str]]]:
    return rbac_tables(README.read_text())


def test_readme_tables_are_read_in_full(tables: dict[str, list[list[str]]]) -> None:
    """The parser sees every row of both tables (a silent miss would make the comparison vacuous)."""
    section = re.search(r"^## RBAC the tool needs\n(.*?)(?=^## )", README.read_text(), re.S | re.M).group(1)
    body_rows = [row for row in section.splitlines() if row.startswith("| ") and not row.startswith("| verb ")]
    assert len(tables["read-only"]) + len(tables["probe"]) == len(body_rows)
    assert tables["read-only"] and tables["probe"]
    for name in ("read-only", "probe"):
        for row in tables[name]:
            assert len(row) == 3 and all(row), row
            assert readme_grants([row]), row
    # Spot checks of the reading itself, against rows as the README states them.
    ro = readme_grants(tables["read-only"])
    assert ("kube-system", "discovery.k8s.io", "endpointslices", "list") in ro
    assert ("namespace", "discovery.k8s.io", "endpointslices", "get") in ro
    assert ("cluster", "crd.projectcalico.org", "networkpolicies", "list") in ro
    assert ("kube-system", "", "pods/portforward", "get") in ro
    assert ("namespace", "", "pods/portforward", "get") not in ro
    probe = readme_grants(tables["probe"])
    assert ("namespace", "", "pods/ephemeralcontainers", "patch") in probe
    assert ("kube-system", "", "pods", "create") in probe


@pytest.mark.parametrize("table", ["read-only", "probe"])
def test_deploy_rbac_grants_exactly_the_readme_table(tables: dict[str, list[list[str]]], table: str) -> None:
    want = readme_grants(tables[table])
    got = deployed_grants()[table]
    missing, extra = want - got, got - want
    assert not missing and not extra, (
        f"deploy/rbac and the README's {table} RBAC table differ:\n"
        f"  in the README, not granted: {readable(missing)}\n"
        f"  granted, not in the README: {readable(extra)}")


def test_every_role_is_bound_and_every_rule_is_plain() -> None:
    """No role the comparison would not see; no wildcard, resourceNames or non-resource URL that
    would grant more than the per-verb, per-resource rows say."""
    bound = set()
    for b in bindings():
        r = bound_role(b)
        bound.add(role_key(r["kind"], r["metadata"]["name"], r["metadata"].get("namespace")))
    for key, role in roles().items():
        assert key in bound, f"{key} is bound by no example binding, so nothing checks it"
        assert role["metadata"]["labels"]["app.kubernetes.io/name"] == "kubectl-netdoctor", key
        assert role.get("rules"), key
        for rule in role["rules"]:
            assert set(rule) == {"apiGroups", "resources", "verbs"}, (key, rule)
            assert "*" not in [*rule["apiGroups"], *rule["resources"], *rule["verbs"]], (key, rule)


def test_roles_live_where_their_scope_says() -> None:
    """kube-system rules in a Role of kube-system; the probe Role namespaced and without a
    namespace of its own (applied with -n into each diagnosed namespace); cluster-wide reads in
    a ClusterRole."""
    for b in bindings():
        role, scope = bound_role(b), binding_scope(b)
        ns = role["metadata"].get("namespace")
        if scope == "kube-system":
            assert role["kind"] == "Role" and ns == "kube-system", (b["metadata"], role["metadata"])
        elif scope == "namespace":
            assert ns is None, role["metadata"]
        else:
            assert role["kind"] == "ClusterRole", role["metadata"]
    probe = [r for r in roles().values() if r["metadata"]["labels"]["app.kubernetes.io/component"] == "probe"]
    assert probe and all(r["kind"] == "Role" for r in probe), [r["metadata"] for r in probe]
    assert any(r["kind"] == "ClusterRole" and r["metadata"]["labels"]["app.kubernetes.io/component"] == "read-only"
               for r in roles().values())


def test_bindings_name_the_shipped_service_account() -> None:
    docs = [d for _, d in manifests()]
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs if d["kind"] == "ServiceAccount"}
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    assert accounts == {SERVICE_ACCOUNT} and SERVICE_ACCOUNT[0] in namespaces
    assert bindings()
    for b in bindings():
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT[1],
                                  "namespace": SERVICE_ACCOUNT[0]}], b["metadata"]


def test_drift_is_caught() -> None:
    """The comparison fails both ways: a README row the YAML lacks, and a YAML rule the README lacks."""
    tables_ = rbac_tables(README.read_text())
    got = deployed_grants()["read-only"]
    extra_row = ["get", "secrets", "kube-system"]
    assert readme_grants([*tables_["read-only"], extra_row]) - got == {("kube-system", "", "secrets", "get")}
    fewer_rows = [r for r in tables_["read-only"] if "portforward" not in r[1]]
    assert got - readme_grants(fewer_rows) == {("kube-system", "", "pods/portforward", v) for v in ("create", "get")}
