"""Settings a user sets once instead of on every command: the probe image, above all.

Air-gapped clusters cannot pull the default probe image; their users mirror it and
point the tool at the mirror once. Precedence, first wins:

1. ``--probe-image IMAGE`` on the command line;
2. the ``NETDOCTOR_PROBE_IMAGE`` environment variable;
3. ``probeImage:`` in the config file: ``$NETDOCTOR_CONFIG``, else
   ``$XDG_CONFIG_HOME/kubectl-netdoctor/config.yaml`` (``~/.config/...`` by default);
4. the built-in default (:data:`kubectl_netdoctor.defaults.DEFAULT_PROBE_IMAGE`).

The file is YAML with kubeconfig-style camelCase keys::

    probeImage: registry.example.internal/mirror/busybox:1.36.1
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubectl_netdoctor import args
from kubectl_netdoctor.defaults import DEFAULT_PROBE_IMAGE
from kubectl_netdoctor.errors import UsageError, yaml_problem

ENV_PROBE_IMAGE = "NETDOCTOR_PROBE_IMAGE"
ENV_CONFIG = "NETDOCTOR_CONFIG"
KEYS = ("probeImage",)


@dataclass(frozen=True)
class Setting:
    value: str
    origin: str
    """Where the value came from, for messages: ``--probe-image``, ``$NETDOCTOR_PROBE_IMAGE``,
    ``probeImage in /home/me/.config/kubectl-netdoctor/config.yaml`` or ``the default``."""


def config_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]).expanduser() if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "kubectl-netdoctor" / "config.yaml"


def load_file(path: Path, required: bool = False) -> dict[str, str]:
    """The config file's settings; a missing file is empty (unless named by $NETDOCTOR_CONFIG)."""
    import yaml

    from kubectl_netdoctor.parsers import safeload

    if not path.exists():
        if required:
            raise UsageError(f"config file {path} (from ${ENV_CONFIG}) does not exist")
        return {}
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise UsageError(f"config file {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"config file {path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
                         f"{err.start})") from None
    try:
        data = safeload.load_yaml(text) or {}
    except yaml.YAMLError as err:
        problem, line = yaml_problem(err)  # PyYAML's own message spans lines, with position marks
        raise UsageError(f"config file {path}{f':{line}' if line else ''}: invalid YAML: {problem}") from None
    except safeload.InputError as err:
        raise UsageError(f"config file {path}{f':{err.line}' if err.line else ''}: {err}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config file {path}: expected a mapping like 'probeImage: IMAGE'")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UsageError(f"config file {path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(KEYS)})")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"config file {path}: {key} must be a non-empty string")
        args.image(f"{key} in {path}", value.strip())  # as --probe-image refuses it: no spaces, no newlines
    return {k: v.strip() for k, v in data.items()}


def probe_image(cli_value: str | None, env: dict[str, str] | None = None) -> Setting:
    """The probe image and where it was set (see the module docstring for the precedence)."""
    env = os.environ if env is None else env
    if cli_value:
        return Setting(cli_value, "--probe-image")
    if env.get(ENV_PROBE_IMAGE, "").strip():
        value = env[ENV_PROBE_IMAGE].strip()
        args.image(f"${ENV_PROBE_IMAGE}", value)  # as --probe-image refuses it: no spaces, no newlines
        return Setting(value, f"${ENV_PROBE_IMAGE}")
    path = config_path(env)
    value = load_file(path, required=bool(env.get(ENV_CONFIG))).get("probeImage")
    if value:
        return Setting(value, f"probeImage in {path}")
    return Setting(DEFAULT_PROBE_IMAGE, "the default")


def how_to_set_probe_image() -> str:
    """The one-line remedy when the probe image cannot be pulled."""
    return (f"set a pullable image (a mirror of {DEFAULT_PROBE_IMAGE}; it needs sh, nc, nslookup, cat) with "
            f"--probe-image IMAGE, or once: export {ENV_PROBE_IMAGE}=IMAGE, or 'probeImage: IMAGE' in "
            f"{config_path()}; or run with --read-only (no probe pod)")
