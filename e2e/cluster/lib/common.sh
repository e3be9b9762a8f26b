# Shared settings and helpers for e2e/cluster/{up,down,build,install-deps}.
# Sourced, not executed. Callers have `set -euo pipefail`.

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$CLUSTER_DIR/../.." && pwd)
IMAGES_DIR=$REPO_ROOT/e2e/images

# shellcheck source=../versions.env
source "$CLUSTER_DIR/versions.env"

# Where things live. State is wiped by `down`; the cache (built binaries and
# image tarballs, keyed by version/inputs) survives it so the next `up` is warm.
E2E_DIR=${NETDOCTOR_E2E_DIR:-/var/lib/netdoctor-e2e}
CACHE_DIR=${NETDOCTOR_E2E_CACHE:-/var/cache/netdoctor-e2e}
LOG_DIR=$E2E_DIR/logs
BIN_DIR=$E2E_DIR/bin
PKI_DIR=$E2E_DIR/pki
RUN_DIR=$E2E_DIR/run            # pid files
KUBECONFIG_ADMIN=$E2E_DIR/admin.kubeconfig

# Go: use the default module proxy; wrapper modules may need to update go.sum.
export GOFLAGS=${GOFLAGS:--mod=mod}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# Networking defaults (documented in README.md).
SERVICE_CIDR=${SERVICE_CIDR:-10.96.0.0/16}
E2E_NFT_TABLE=netdoctor_e2e # up's guard: untranslated Service traffic never leaves the machine
KUBERNETES_SVC_IP=${KUBERNETES_SVC_IP:-10.96.0.1}
CLUSTER_DNS=${CLUSTER_DNS:-10.96.0.10}
CLUSTER_DOMAIN=${CLUSTER_DOMAIN:-cluster.local}
POD_CIDR=${POD_CIDR:-10.244.0.0/24}
NODEPORT_RANGE=${NODEPORT_RANGE:-30000-32767}
KUBE_PROXY_MODE=${KUBE_PROXY_MODE:-iptables}   # iptables (default) or nftables
NODE_NAME=${NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}
APISERVER_PORT=${APISERVER_PORT:-6443}
KUBE_ROUTER_HEALTH_PORT=${KUBE_ROUTER_HEALTH_PORT:-20244}   # kube-router /healthz (hostNetwork)

# containerd: our own instance, config, state and socket, so `down` can remove it all.
CONTAINERD_ROOT=$E2E_DIR/containerd/root
CONTAINERD_STATE=$E2E_DIR/containerd/state
CONTAINERD_SOCK=$E2E_DIR/containerd/containerd.sock
CNI_BIN_DIR=${CNI_BIN_DIR:-/usr/lib/cni}
CNI_CONF_DIR=$E2E_DIR/cni/net.d
KUBELET_ROOT=$E2E_DIR/kubelet
ETCD_DATA=$E2E_DIR/etcd

K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
K8S_CACHE=$CACHE_DIR/k8s-$K8S_VERSION
ETCD_CACHE=$CACHE_DIR/etcd-$ETCD_VERSION
COREDNS_CACHE=$CACHE_DIR/coredns-$COREDNS_VERSION
IMAGE_CACHE=$CACHE_DIR/images
GATEWAY_API_CRDS=$CACHE_DIR/gateway-api-$GATEWAY_API_VERSION/standard-crds.yaml   # written by build, applied by up

# One up/down at a time (several test sessions may call up at once). The lock
# lives outside the state dir, which down deletes. Nested calls (up -> down) skip it.
# Daemons must not inherit fd 9, or they would hold the lock forever (see start()).
take_lock() {
	[[ -n ${NETDOCTOR_E2E_LOCK_HELD:-} ]] && return
	mkdir -p /run/lock
	exec 9>/run/lock/netdoctor-e2e-cluster.lock
	flock 9
	export NETDOCTOR_E2E_LOCK_HELD=1
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Primary interface IP: the source address of the default route.
detect_node_ip() {
	local ip
	ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
	[[ -n $ip ]] || ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
	[[ -n $ip ]] || die "cannot detect the node IP"
	echo "$ip"
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

kubectl_admin() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# A pid file may outlive its process (crash, session end) and the pid be reused:
# only trust it if that process's command line names our state dir.
pid_is_ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF "$E2E_DIR"; }
pid_alive() { [[ -f $RUN_DIR/$1.pid ]] && pid_is_ours "$(cat "$RUN_DIR/$1.pid")"; }

# Poll CMD until it succeeds or TIMEOUT seconds pass.
wait_for() {
	local what=$1 timeout=$2; shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what"
		sleep 1
	done
}
