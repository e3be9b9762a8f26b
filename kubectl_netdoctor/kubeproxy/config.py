"""kube-proxy's configuration: ConfigMap kube-system/kube-proxy (kubeadm's ``config.conf``)."""

from __future__ import annotations

from dataclasses import dataclass

CONFIGMAP = ("kube-system", "kube-proxy")
DEFAULT_MODE = "iptables"
"""An empty ``mode`` means iptables on Linux."""


@dataclass(frozen=True)
class ProxyConfig:
    """What the kube-proxy ConfigMap says."""

    mode: str | None
    """``iptables``, ``ipvs``, ``nftables`` (``""`` in the file means iptables on Linux), or None: unknown."""
    cluster_cidr: str | None
    evidence: str


def read_config(cm: dict | None) -> ProxyConfig:
    """kube-proxy's mode and clusterCIDR from its ConfigMap (``config.conf``, a KubeProxyConfiguration)."""
    import yaml

    from kubectl_netdoctor.parsers import safeload

    if cm is None:
        return ProxyConfig(None, None, "ConfigMap kube-system/kube-proxy: not found (kube-proxy may run as a "
                                       "process with flags, or be replaced)")
    text = (cm.get("data") or {}).get("config.conf")
    if text is None:
        return ProxyConfig(None, None, "ConfigMap kube-system/kube-proxy has no config.conf key")
    try:
        conf = safeload.load_yaml(text) or {}
    except yaml.YAMLError as err:
        return ProxyConfig(None, None, f"kube-system/kube-proxy config.conf is not YAML: {str(err).splitlines()[0]}")
    except safeload.InputError as err:
        return ProxyConfig(None, None, f"kube-system/kube-proxy config.conf is not readable: {err}")
    if not isinstance(conf, dict):
        return ProxyConfig(None, None, "kube-system/kube-proxy config.conf is not a KubeProxyConfiguration")
    raw = conf.get("mode") or ""
    if not isinstance(raw, str) or not isinstance(conf.get("clusterCIDR") or "", str):
        return ProxyConfig(None, None, f"kube-system/kube-proxy config.conf: mode {raw!r} or clusterCIDR "
                                       f"{conf.get('clusterCIDR')!r} is not a string")
    mode = raw or DEFAULT_MODE
    return ProxyConfig(mode, conf.get("clusterCIDR") or None, f"config.conf mode: {raw!r}"
                       + (" (empty = iptables on Linux)" if not raw else ""))


def capture_mode(cm: dict | None) -> str:
    """The mode whose rules to capture: the configured one, else kube-proxy's default."""
    return read_config(cm).mode or DEFAULT_MODE
