"""The ``--from-pod`` probe container: its idle loop, the leases that keep it, and its reuse.

The API cannot remove an ephemeral container from its pod, and each one the pod carries slows the
kubelet's sync of that pod; one per run would pile up without end. So a run reuses the tool's
container that still runs in the pod (same image, same restricted securityContext), and leaves its
own running for :data:`LINGER_S` after it ends, for the next run. Nothing runs forever: the
container's idle loop lives only while some run holds a lease on it.

A lease is a file in the container, ``LEASE_DIR/<run id>``, holding the second (of the container's
``/proc/uptime``) at which it ends::

    /tmp/netdoctor-leases/
        3f9a1c   1234867     run 3f9a1c: its own deadline, written when it added the container
        b71e02   1235190     run b71e02: reused the container, still probing
        .b71e02              (a lease being written; renamed into place, never read half-written)

* The run that adds the container writes its lease from the idle command itself (its lifetime:
  ``--wait`` + 300 s). The loop checks the leases every :data:`POLL_S` seconds and exits when none
  is in the future, or at once when :data:`DONE_FILE` exists (what ``kubectl netdoctor cleanup`` does).
* A run that reuses it *claims* it (:func:`claim_script`): one exec that checks that a lease still
  has :data:`CLAIM_MARGIN_S` to go and no done file exists, then writes the run's own lease. The
  loop cannot exit between the check and the write (it exits only once every lease is past), so a
  claimed container stays up for the claim's whole lifetime.
* At its end (also on Ctrl-C, SIGTERM, a timeout) a run *releases* its lease (:func:`release_script`):
  it rewrites its own file to end :data:`LINGER_S` from now. It never touches another run's lease,
  so ending one run never ends the probes of another that uses the same container.
* A run killed with SIGKILL cannot release: its lease ends at its own deadline.
* Runs that start together and find none running do not each add one: the add names the pod's
  resourceVersion as read (:func:`adding_patch`), so all but the first are refused (409), read the
  pod again and join the first one's container once it runs (:func:`starting_containers`).

So the container exits by itself at most ``LINGER_S`` (+ ``POLL_S``) after the last run that used
it ended, or at the deadline of a run that was killed, whichever is later.

Pure: scripts and decisions on a pod's JSON; the exec and the patch are :mod:`.probe`'s.
"""

from __future__ import annotations

PROBE_PREFIX = "netdoctor-probe-"
"""The name of a probe container: this prefix and the run id of the run that added it."""
TOOL_PREFIXES = (PROBE_PREFIX, "netdoctor-read-")
"""Every ephemeral container the tool adds (``netdoctor-read-*``: a distroless listener read)."""
DONE_FILE = "/tmp/netdoctor-done"
"""Its existence ends the idle loop whatever the leases say (cleanup's way to end a container)."""
LEASE_DIR = "/tmp/netdoctor-leases"
LINGER_S = 300
"""How long a probe container stays after the last run that used it ended, for the next run to reuse."""
CLAIM_MARGIN_S = 15
"""A container is claimed only if one of its leases has at least this long to go."""
POLL_S = 2
"""How often the idle loop reads the leases: one ``sleep`` a period, nothing else forks."""
STALE_S = 600
"""A lease past for this long is deleted by the loop (not at once: a run may be rewriting it)."""
MAX_TOOL_CONTAINERS = 20
"""The tool never adds an ephemeral container to a pod that already has this many of its own
(running or not); with reuse, a pod reaches it only after that many runs ``LINGER_S`` apart."""

_NOW = "read up _ </proc/uptime; now=${up%.*}"
"""Seconds since boot, without a fork: the one clock every exec into the container shares."""
_READ_LEASE = 't=0; read t 2>/dev/null <"$f"; case $t in ""|*[!0-9]*) t=0;; esac'


_AWAIT_DIR = 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -d "$d" ] && break; sleep 0.2; done'
"""An exec may come just as the container runs, before its loop made the lease directory: wait up to 2 s."""


def _write_lease(lease_dir: str, run_id: str, until: str) -> str:
    """Written to a dot file and renamed: a reader sees the old value or the new one, never a half."""
    return f'echo $(({until})) >"{lease_dir}/.{run_id}" && mv -f "{lease_dir}/.{run_id}" "{lease_dir}/{run_id}"'


def idle_command(run_id: str, lifetime_s: int, lease_dir: str = LEASE_DIR, done_file: str = DONE_FILE,
                 poll_s: int = POLL_S) -> list[str]:
    """The probe container's command: take the adding run's lease, then idle while any lease lasts.

    The directory appears with the adding run's lease in it (made aside, then renamed), so a claim or a
    release that finds the directory never races that first lease. If it cannot be made (a read-only
    /tmp), the container lives ``lifetime_s`` and is never reused."""
    script = (
        f'd="{lease_dir}"; {_NOW}; end=$((now + {lifetime_s})); '
        f'mkdir -p "$d.new" && echo $((now + {lifetime_s})) >"$d.new/{run_id}" && mv "$d.new" "$d"; '
        f'while [ ! -e "{done_file}" ]; do '
        f'{_NOW}; live=0; '
        f'if [ -d "$d" ]; then for f in "$d"/*; do [ -e "$f" ] || continue; {_READ_LEASE}; '
        f'if [ "$t" -gt "$now" ]; then live=1; elif [ $((t + {STALE_S})) -lt "$now" ]; then rm -f "$f"; fi; done; '
        f'elif [ "$now" -lt "$end" ]; then live=1; fi; '
        f'[ $live = 1 ] || exit 0; sleep {poll_s}; done'
    )
    return ["sh", "-c", script]


def claim_script(run_id: str, lifetime_s: int, lease_dir: str = LEASE_DIR, done_file: str = DONE_FILE,
                 margin_s: int = CLAIM_MARGIN_S) -> str:
    """Take a lease of ``lifetime_s`` on a running container; prints ``claimed`` when it did."""
    return (
        f'd="{lease_dir}"; {_AWAIT_DIR}; [ ! -e "{done_file}" ] && [ -d "$d" ] || exit 3; {_NOW}; ok=0; '
        f'for f in "$d"/*; do [ -e "$f" ] || continue; {_READ_LEASE}; '
        f'if [ "$t" -gt $((now + {margin_s})) ]; then ok=1; fi; done; '
        f'[ $ok = 1 ] || exit 4; {_write_lease("$d", run_id, "now + " + str(lifetime_s))} && echo claimed'
    )


def release_script(run_id: str, linger_s: int, lease_dir: str = LEASE_DIR) -> str:
    """End this run's lease ``linger_s`` from now (0: at once); the other runs' leases are left alone."""
    return (f'd="{lease_dir}"; {_AWAIT_DIR}; [ -d "$d" ] || exit 0; {_NOW}; '
            f'{_write_lease("$d", run_id, "now + " + str(linger_s))}')


def holds_leases(container: dict) -> bool:
    """Whether the container runs the lease-keeping idle loop (an older tool's container does not)."""
    return LEASE_DIR in " ".join(str(part) for part in container.get("command") or [])


def _fitting(pod: dict, image: str, security: dict) -> list[tuple[str, dict]]:
    """The tool's probe containers in ``pod`` that a run with ``image`` may use, with their states: keeping
    leases, with exactly ``image`` and at least the settings of ``security``."""
    statuses = {c.get("name"): c for c in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
    found = []
    for container in (pod.get("spec") or {}).get("ephemeralContainers") or []:
        name = str(container.get("name", ""))
        if not name.startswith(PROBE_PREFIX) or container.get("image") != image or not holds_leases(container):
            continue
        context = container.get("securityContext") or {}
        if all(context.get(key) == value for key, value in security.items()):
            found.append((name, (statuses.get(name) or {}).get("state") or {}))
    return found


def reusable_containers(pod: dict, image: str, security: dict) -> list[str]:
    """The fitting containers a run may claim now (running), the most recently started first."""
    running = [(str(state["running"].get("startedAt") or ""), name)
               for name, state in _fitting(pod, image, security) if "running" in state]
    return [name for _, name in sorted(running, reverse=True)]


def starting_containers(pod: dict, image: str, security: dict) -> list[str]:
    """The fitting containers that have not run yet (a concurrent run just added them), the last added first."""
    return [name for name, state in reversed(_fitting(pod, image, security))
            if "running" not in state and "terminated" not in state]


def adding_patch(pod: dict, container: dict, conditional: bool) -> dict:
    """The patch of the ``ephemeralcontainers`` subresource that adds ``container`` to ``pod`` as read;
    ``conditional``: refused (409) if the pod changed since."""
    present = (pod.get("spec") or {}).get("ephemeralContainers") or []
    patch: dict = {"spec": {"ephemeralContainers": [*present, container]}}
    if conditional:
        patch["metadata"] = {"resourceVersion": (pod.get("metadata") or {}).get("resourceVersion")}
    return patch


def cap_reached(pod: dict, image: str) -> str | None:
    """Why no ephemeral container may be added to ``pod`` (None: it may)."""
    count = tool_containers(pod)
    if count < MAX_TOOL_CONTAINERS:
        return None
    meta = pod.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    return (f"pod {namespace}/{name} already has {count} ephemeral containers of kubectl-netdoctor, the most it "
            f"adds to one pod (the API cannot remove them, and each slows the kubelet's sync of the pod); none is "
            f"running with image {image} to be reused. Recreate the pod to clear them, or probe from a probe pod "
            f"(--from-namespace {namespace} instead of --from-pod)")


def tool_containers(pod: dict) -> int:
    """How many ephemeral containers the tool has added to ``pod`` (they stay listed once ended)."""
    return sum(1 for c in (pod.get("spec") or {}).get("ephemeralContainers") or []
               if str(c.get("name", "")).startswith(TOOL_PREFIXES))
