# PKI for the e2e cluster, made with openssl (sourced by up). Layout ($PKI_DIR):
#   ca.{crt,key}                 cluster CA (also signs kubelet serving and CSRs)
#   apiserver.{crt,key}          serving cert, SANs: service IP, node IP, localhost...
#   <component>.{crt,key}        client certs: admin, controller-manager, scheduler,
#                                kubelet (system:node:NODE), apiserver-kubelet-client
#   kubelet-serving.{crt,key}    kubelet's :10250 serving cert
#   sa.{key,pub}                 service-account token signing pair

# issue NAME SUBJECT EXT_USAGE [SANS]: key + cert signed by the CA.
issue() {
	local name=$1 subj=$2 usage=$3 sans=${4:-}
	local ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$usage"
	[[ -n $sans ]] && ext+="
subjectAltName=$sans"
	openssl genrsa -out "$PKI_DIR/$name.key" 2048 2>/dev/null
	openssl req -new -key "$PKI_DIR/$name.key" -subj "$subj" -out "$PKI_DIR/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI_DIR/$name.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
		-CAcreateserial -days 3650 -sha256 -extfile <(echo "$ext") -out "$PKI_DIR/$name.crt" 2>/dev/null
	rm -f "$PKI_DIR/$name.csr"
}

# kubeconfig NAME CERTNAME SERVER: kubeconfig with embedded credentials.
write_kubeconfig() {
	local file=$1 cert=$2 server=$3
	cat > "$file" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: netdoctor-e2e
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 "$PKI_DIR/$cert.crt")
    client-key-data: $(base64 -w0 "$PKI_DIR/$cert.key")
contexts:
- name: netdoctor-e2e
  context:
    cluster: netdoctor-e2e
    user: $cert
current-context: netdoctor-e2e
KCFG
	chmod 600 "$file"
}

make_pki() {
	local node_ip=$1
	mkdir -p "$PKI_DIR" && chmod 700 "$PKI_DIR"
	[[ -f $PKI_DIR/.complete && $(cat "$PKI_DIR/.complete") == "$node_ip" ]] && return
	log "creating certificates in $PKI_DIR"
	openssl genrsa -out "$PKI_DIR/ca.key" 2048 2>/dev/null
	openssl req -x509 -new -key "$PKI_DIR/ca.key" -subj "/CN=netdoctor-e2e-ca" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out "$PKI_DIR/ca.crt" 2>/dev/null
	issue apiserver "/CN=kube-apiserver" serverAuth \
		"IP:$KUBERNETES_SVC_IP,IP:$node_ip,IP:127.0.0.1,DNS:localhost,DNS:$NODE_NAME,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
	issue kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$node_ip,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost"
	issue admin "/O=system:masters/CN=kubernetes-admin" clientAuth
	issue controller-manager "/CN=system:kube-controller-manager" clientAuth
	issue scheduler "/CN=system:kube-scheduler" clientAuth
	issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
	issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
	openssl genrsa -out "$PKI_DIR/sa.key" 2048 2>/dev/null
	openssl rsa -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub" 2>/dev/null

	local server=https://$node_ip:$APISERVER_PORT
	write_kubeconfig "$KUBECONFIG_ADMIN" admin "$server"
	write_kubeconfig "$E2E_DIR/controller-manager.kubeconfig" controller-manager "$server"
	write_kubeconfig "$E2E_DIR/scheduler.kubeconfig" scheduler "$server"
	write_kubeconfig "$E2E_DIR/kubelet.kubeconfig" kubelet "$server"
	echo "$node_ip" > "$PKI_DIR/.complete"
}
