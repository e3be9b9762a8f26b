"""What a pasted fix does: a ``kubectl patch`` command applied to the objects the way the API server
applies it (RFC 6902 JSON patch, RFC 7386 merge patch), so that a test can re-run the step on the
result instead of comparing the command's text."""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any

KINDS = {"svc": "Service", "service": "Service", "deployment": "Deployment", "statefulset": "StatefulSet",
         "daemonset": "DaemonSet", "replicaset": "ReplicaSet", "networkpolicy": "NetworkPolicy"}


def parse_patch(command: str) -> tuple[str, str, str, str, Any]:
    """``kubectl -n NS patch KIND NAME --type json|merge -p 'DOC'`` -> (namespace, kind, name, type, doc)."""
    words = shlex.split(command)
    assert words[0] == "kubectl" and "patch" in words, command
    namespace = words[words.index("-n") + 1]
    at = words.index("patch")
    kind, name = KINDS[words[at + 1]], words[at + 2]
    kind_of_patch = words[words.index("--type") + 1]
    doc = json.loads(words[words.index("-p") + 1])
    return namespace, kind, name, kind_of_patch, doc


def _walk(doc: Any, path: str) -> tuple[Any, str]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc, parts[-1]


def json_patch(obj: dict, ops: list[dict]) -> dict:
    """RFC 6902 add, replace and remove; an operation on a path that is not there raises, as it does on the
    API server (``replace`` needs the member, ``add`` needs its parent)."""
    out = copy.deepcopy(obj)
    for op in ops:
        parent, key = _walk(out, op["path"])
        if isinstance(parent, list):
            index = len(parent) if key == "-" else int(key)
            if op["op"] == "add":
                parent.insert(index, op["value"])
            elif op["op"] == "replace":
                parent[index] = op["value"]
            else:
                del parent[index]
        elif op["op"] == "replace":
            assert key in parent, f"replace of a missing member {op['path']}"
            parent[key] = op["value"]
        elif op["op"] == "add":
            parent[key] = op["value"]
        else:
            del parent[key]
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a null removes a member, an object merges, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply(command: str, obj: dict) -> dict:
    """``obj`` as the pasted ``kubectl patch`` leaves it."""
    _, _, _, kind_of_patch, doc = parse_patch(command)
    return json_patch(obj, doc) if kind_of_patch == "json" else merge_patch(obj, doc)


def apply_to(command: str, objects: list[dict]) -> list[dict]:
    """The objects with the one the command names patched."""
    namespace, kind, name, _, _ = parse_patch(command)
    hits = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name
            and o["metadata"].get("namespace") == namespace]
    assert len(hits) == 1, f"{kind} {namespace}/{name}: {len(hits)} objects"
    return [apply(command, o) if o is hits[0] else o for o in objects]
