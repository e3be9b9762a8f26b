"""The probe image is set once: --probe-image, then $NETDOCTOR_PROBE_IMAGE, then the config file, then the default."""

from __future__ import annotations

import pytest

from kubectl_netdoctor import config
from kubectl_netdoctor.defaults import DEFAULT_PROBE_IMAGE
from kubectl_netdoctor.errors import UsageError

MIRROR = "registry.example.internal/mirror/busybox:1.36.1"


def write(tmp_path, text: str):
    path = tmp_path / "kubectl-netdoctor" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_without_anything(tmp_path):
    setting = config.probe_image(None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert setting == config.Setting(DEFAULT_PROBE_IMAGE, "the default")


def test_config_file_then_env_then_flag(tmp_path):
    path = write(tmp_path, f"probeImage: {MIRROR}\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert config.probe_image(None, env) == config.Setting(MIRROR, f"probeImage in {path}")
    env["NETDOCTOR_PROBE_IMAGE"] = "mirror.local/toolbox:2"
    assert config.probe_image(None, env) == config.Setting("mirror.local/toolbox:2", "$NETDOCTOR_PROBE_IMAGE")
    assert config.probe_image("other:1", env) == config.Setting("other:1", "--probe-image")


def test_netdoctor_config_names_the_file(tmp_path):
    path = tmp_path / "nd.yaml"
    path.write_text(f"probeImage: {MIRROR}\n")
    assert config.probe_image(None, {"NETDOCTOR_CONFIG": str(path)}).value == MIRROR
    with pytest.raises(UsageError, match="does not exist"):
        config.probe_image(None, {"NETDOCTOR_CONFIG": str(tmp_path / "missing.yaml")})


@pytest.mark.parametrize("text, words", [
    ("probe_image: x\n", "unknown key(s) probe_image"),
    ("- probeImage\n", "expected a mapping"),
    ("probeImage: ''\n", "must be a non-empty string"),
    ("probeImage: [\n", "config file"),
])
def test_bad_config_files_are_usage_errors_naming_the_file(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        config.probe_image(None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert str(path) in str(err.value) and words in str(err.value)
