// Command netpol-agent enforces Kubernetes NetworkPolicy on one node with
// iptables (whatever backend the `iptables` in its image uses) and ipset.
//
// It stands in for kube-router's firewall (`--run-firewall`), which this
// project cannot build (its module is not served by the Go module proxy here).
// Model: every local pod selected by a policy gets its own chain; allowed
// traffic RETURNs to the built-in chain (so kube-proxy and CNI rules still
// apply afterwards), anything else is rejected. Peers are kept in ipsets.
//
//	filter FORWARD -> NETPOL-FWD  (pod <-> pod, external -> pod)
//	filter INPUT   -> NETPOL-IN   (pod -> node, egress only)
//	NETPOL-I-<hash>  ingress chain of one pod, NETPOL-E-<hash> egress chain
//	np-<hash>        ipset (hash:net, or hash:ip,port for named egress ports)
//
// Traffic from the node itself (kubelet probes, hostNetwork pods) is allowed,
// as the NetworkPolicy API expects. Established connections are kept.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listersnetv1 "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	chainFwd    = "NETPOL-FWD"
	chainIn     = "NETPOL-IN"
	podChainPfx = "NETPOL-"
	setPfx      = "np-"
)

var (
	nodeName   = flag.String("node-name", os.Getenv("NODE_NAME"), "only pods on this node are protected")
	kubeconfig = flag.String("kubeconfig", "", "kubeconfig (default: in-cluster)")
	denyAction = flag.String("deny-action", "REJECT", "REJECT or DROP for traffic no policy allows")
	resync     = flag.Duration("resync", 30*time.Second, "full re-apply interval")
	cleanup    = flag.Bool("cleanup", false, "remove all rules and sets of this agent, then exit")
)

type agent struct {
	pods     listerscorev1.PodLister
	nss      listerscorev1.NamespaceLister
	policies listersnetv1.NetworkPolicyLister
	lastRule string
}

func main() {
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if *cleanup {
		removeAll()
		return
	}
	if *nodeName == "" {
		log.Fatal("--node-name (or NODE_NAME) is required")
	}
	var cfg *rest.Config
	var err error
	if *kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", *kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		log.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	factory := informers.NewSharedInformerFactory(cs, 0)
	a := &agent{
		pods:     factory.Core().V1().Pods().Lister(),
		nss:      factory.Core().V1().Namespaces().Lister(),
		policies: factory.Networking().V1().NetworkPolicies().Lister(),
	}
	trigger := make(chan struct{}, 1)
	kick := func() {
		select {
		case trigger <- struct{}{}:
		default:
		}
	}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { kick() },
		UpdateFunc: func(any, any) { kick() },
		DeleteFunc: func(any) { kick() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		factory.Core().V1().Pods().Informer(),
		factory.Core().V1().Namespaces().Informer(),
		factory.Networking().V1().NetworkPolicies().Informer(),
	} {
		if _, err := inf.AddEventHandler(h); err != nil {
			log.Fatal(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			log.Fatalf("cache for %v did not sync", typ)
		}
	}
	log.Printf("netpol-agent on node %s: caches synced, deny action %s", *nodeName, *denyAction)
	ticker := time.NewTicker(*resync)
	defer ticker.Stop()
	kick()
	for {
		select {
		case <-ctx.Done():
			log.Print("stopping; rules are left in place")
			return
		case <-trigger:
			time.Sleep(100 * time.Millisecond) // coalesce bursts of events
		case <-ticker.C:
		}
		if err := a.sync(); err != nil {
			log.Printf("sync failed: %v", err)
			time.AfterFunc(2*time.Second, kick)
		}
	}
}

// ---------------------------------------------------------------- model

type ipset struct {
	name, typ string
	entries   []string
}

type state struct {
	sets   map[string]*ipset
	chains map[string][]string // chain -> rules (without "-A chain")
	order  []string            // chain creation order
}

func (s *state) chain(name string, rules ...string) {
	if _, ok := s.chains[name]; !ok {
		s.order = append(s.order, name)
	}
	s.chains[name] = append(s.chains[name], rules...)
}

func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

func usable(p *corev1.Pod) bool {
	return p.Status.PodIP != "" && !p.Spec.HostNetwork &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed &&
		net.ParseIP(p.Status.PodIP).To4() != nil
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}

func policyTypes(np *netv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PolicyTypes) == 0 {
		return true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		ingress = ingress || t == netv1.PolicyTypeIngress
		egress = egress || t == netv1.PolicyTypeEgress
	}
	return
}

// peerPods returns the pods a list of peers selects, and the ipBlock entries.
func (a *agent) peers(ns string, peers []netv1.NetworkPolicyPeer, allPods []*corev1.Pod) (pods []*corev1.Pod, blocks []string) {
	nsLabels := map[string]map[string]string{}
	if list, err := a.nss.List(labels.Everything()); err == nil {
		for _, n := range list {
			nsLabels[n.Name] = n.Labels
		}
	}
	seen := map[string]bool{}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			blocks = append(blocks, peer.IPBlock.CIDR)
			for _, ex := range peer.IPBlock.Except {
				blocks = append(blocks, ex+" nomatch")
			}
			continue
		}
		for _, p := range allPods {
			if peer.NamespaceSelector != nil {
				if !selects(peer.NamespaceSelector, nsLabels[p.Namespace]) {
					continue
				}
			} else if p.Namespace != ns {
				continue
			}
			if peer.PodSelector != nil && !selects(peer.PodSelector, p.Labels) {
				continue
			}
			if !seen[p.Status.PodIP] {
				seen[p.Status.PodIP] = true
				pods = append(pods, p)
			}
		}
	}
	return
}

func protoOf(p *corev1.Protocol) string {
	if p == nil {
		return "tcp"
	}
	return strings.ToLower(string(*p))
}

func namedPort(pod *corev1.Pod, name, proto string) (int32, bool) {
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name && strings.EqualFold(string(cp.Protocol), proto) {
				return cp.ContainerPort, true
			}
			if cp.Name == name && cp.Protocol == "" && proto == "tcp" {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// compute builds the desired ipsets and chains from the informer caches.
func (a *agent) compute() (*state, error) {
	st := &state{sets: map[string]*ipset{}, chains: map[string][]string{}}
	st.chain(chainFwd, "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN")
	st.chain(chainIn, "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN")

	all, err := a.pods.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var usablePods []*corev1.Pod
	for _, p := range all {
		if usable(p) {
			usablePods = append(usablePods, p)
		}
	}
	sort.Slice(usablePods, func(i, j int) bool {
		return usablePods[i].Namespace+"/"+usablePods[i].Name < usablePods[j].Namespace+"/"+usablePods[j].Name
	})
	policies, err := a.policies.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	sort.Slice(policies, func(i, j int) bool {
		return policies[i].Namespace+"/"+policies[i].Name < policies[j].Namespace+"/"+policies[j].Name
	})

	addSet := func(typ string, entries []string, key ...string) string {
		name := setPfx + strings.ToLower(hash(append([]string{typ}, key...)...))
		sort.Strings(entries)
		st.sets[name] = &ipset{name: name, typ: typ, entries: entries}
		return name
	}
	deny := "-j " + *denyAction
	if *denyAction == "REJECT" {
		deny += " --reject-with icmp-port-unreachable"
	}

	for _, pod := range usablePods {
		if pod.Spec.NodeName != *nodeName {
			continue
		}
		ip := pod.Status.PodIP
		id := pod.Namespace + "/" + pod.Name
		var inRules, outRules []string
		var inPolicies, outPolicies int
		for _, np := range policies {
			if np.Namespace != pod.Namespace || !selects(&np.Spec.PodSelector, pod.Labels) {
				continue
			}
			ing, egr := policyTypes(np)
			pid := np.Namespace + "/" + np.Name
			if ing {
				inPolicies++
				for i, r := range np.Spec.Ingress {
					src := ""
					if len(r.From) > 0 {
						pods, blocks := a.peers(np.Namespace, r.From, usablePods)
						entries := blocks
						for _, p := range pods {
							entries = append(entries, p.Status.PodIP+"/32")
						}
						src = fmt.Sprintf("-m set --match-set %s src ", addSet("hash:net", entries, pid, "in", fmt.Sprint(i)))
					}
					comment := fmt.Sprintf("-m comment --comment \"%s ingress rule %d\" ", pid, i)
					if len(r.Ports) == 0 {
						inRules = append(inRules, comment+src+"-j RETURN")
					}
					for _, pp := range r.Ports {
						proto := protoOf(pp.Protocol)
						match := "-p " + proto + " "
						if pp.Port != nil {
							port := pp.Port.IntVal
							if pp.Port.StrVal != "" {
								var ok bool
								if port, ok = namedPort(pod, pp.Port.StrVal, proto); !ok {
									continue // named port the pod does not have: allows nothing
								}
							}
							match += fmt.Sprintf("--dport %d", port)
							if pp.EndPort != nil {
								match += fmt.Sprintf(":%d", *pp.EndPort)
							}
							match += " "
						}
						inRules = append(inRules, comment+src+match+"-j RETURN")
					}
				}
			}
			if egr {
				outPolicies++
				for i, r := range np.Spec.Egress {
					var pods []*corev1.Pod
					var blocks []string
					dst := ""
					if len(r.To) > 0 {
						pods, blocks = a.peers(np.Namespace, r.To, usablePods)
						entries := append([]string{}, blocks...)
						for _, p := range pods {
							entries = append(entries, p.Status.PodIP+"/32")
						}
						dst = fmt.Sprintf("-m set --match-set %s dst ", addSet("hash:net", entries, pid, "out", fmt.Sprint(i)))
					} else {
						pods = usablePods
					}
					comment := fmt.Sprintf("-m comment --comment \"%s egress rule %d\" ", pid, i)
					if len(r.Ports) == 0 {
						outRules = append(outRules, comment+dst+"-j RETURN")
					}
					for _, pp := range r.Ports {
						proto := protoOf(pp.Protocol)
						if pp.Port != nil && pp.Port.StrVal != "" {
							// Named egress port: resolved on each destination pod -> ip,proto:port set.
							var entries []string
							for _, p := range pods {
								if port, ok := namedPort(p, pp.Port.StrVal, proto); ok {
									entries = append(entries, fmt.Sprintf("%s,%s:%d", p.Status.PodIP, proto, port))
								}
							}
							set := addSet("hash:ip,port", entries, pid, "out", fmt.Sprint(i), pp.Port.StrVal, proto)
							outRules = append(outRules, fmt.Sprintf("%s-p %s -m set --match-set %s dst,dst -j RETURN", comment, proto, set))
							continue
						}
						match := "-p " + proto + " "
						if pp.Port != nil {
							match += fmt.Sprintf("--dport %d", pp.Port.IntVal)
							if pp.EndPort != nil {
								match += fmt.Sprintf(":%d", *pp.EndPort)
							}
							match += " "
						}
						outRules = append(outRules, comment+dst+match+"-j RETURN")
					}
				}
			}
		}
		if inPolicies > 0 {
			c := podChainPfx + "I-" + hash(id, "in")
			st.chain(c, inRules...)
			st.chain(c, fmt.Sprintf("-m comment --comment \"%s ingress denied\" %s", id, deny))
			st.chain(chainFwd, fmt.Sprintf("-d %s/32 -m comment --comment \"%s ingress\" -j %s", ip, id, c))
		}
		if outPolicies > 0 {
			c := podChainPfx + "E-" + hash(id, "out")
			st.chain(c, outRules...)
			st.chain(c, fmt.Sprintf("-m comment --comment \"%s egress denied\" %s", id, deny))
			rule := fmt.Sprintf("-s %s/32 -m comment --comment \"%s egress\" -j %s", ip, id, c)
			st.chain(chainFwd, rule)
			st.chain(chainIn, rule)
		}
	}
	return st, nil
}

// ---------------------------------------------------------------- apply

func run(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func existingChains() map[string]bool {
	out, _ := run("", "iptables", "-w", "-t", "filter", "-S")
	found := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "-N" && strings.HasPrefix(f[1], podChainPfx) {
			found[f[1]] = true
		}
	}
	return found
}

func existingSets() []string {
	out, _ := run("", "ipset", "list", "-n")
	var sets []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, setPfx) {
			sets = append(sets, l)
		}
	}
	return sets
}

// ensureJump keeps "-j target" as the first rule of a built-in chain, so that
// nothing inserted later (kube-proxy's ACCEPTs) can bypass policy.
func ensureJump(builtin, target string) error {
	out, err := run("", "iptables", "-w", "-t", "filter", "-S", builtin)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := fmt.Sprintf("-A %s -j %s", builtin, target)
	if len(lines) > 1 && lines[1] == want {
		return nil
	}
	for _, l := range lines[1:] {
		if l == want {
			_, _ = run("", "iptables", "-w", "-t", "filter", "-D", builtin, "-j", target)
		}
	}
	_, err = run("", "iptables", "-w", "-t", "filter", "-I", builtin, "1", "-j", target)
	return err
}

func (a *agent) sync() error {
	st, err := a.compute()
	if err != nil {
		return err
	}
	// 1. ipsets: fill a temporary set and swap it in, so updates are atomic.
	var b strings.Builder
	names := make([]string, 0, len(st.sets))
	for n := range st.sets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := st.sets[n]
		tmp := n + "-t"
		fmt.Fprintf(&b, "create %s %s family inet -exist\nflush %s\n", tmp, s.typ, tmp)
		for _, e := range s.entries {
			fmt.Fprintf(&b, "add %s %s -exist\n", tmp, e)
		}
		fmt.Fprintf(&b, "create %s %s family inet -exist\nswap %s %s\ndestroy %s\n", n, s.typ, tmp, n, tmp)
	}
	if b.Len() > 0 {
		if _, err := run(b.String(), "ipset", "restore"); err != nil {
			return err
		}
	}
	// 2. chains: declaring a chain in --noflush mode flushes it; then the rules.
	b.Reset()
	b.WriteString("*filter\n")
	for _, c := range st.order {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range st.order {
		for _, r := range st.chains[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, r)
		}
	}
	b.WriteString("COMMIT\n")
	if _, err := run(b.String(), "iptables-restore", "-w", "--noflush"); err != nil {
		return err
	}
	if err := ensureJump("FORWARD", chainFwd); err != nil {
		return err
	}
	if err := ensureJump("INPUT", chainIn); err != nil {
		return err
	}
	// 3. garbage: chains and sets no longer wanted (now unreferenced).
	b.Reset()
	var stale []string
	for c := range existingChains() {
		if _, ok := st.chains[c]; !ok {
			stale = append(stale, c)
		}
	}
	if len(stale) > 0 {
		b.WriteString("*filter\n")
		for _, c := range stale {
			fmt.Fprintf(&b, ":%s - [0:0]\n", c)
		}
		for _, c := range stale {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
		if _, err := run(b.String(), "iptables-restore", "-w", "--noflush"); err != nil {
			return err
		}
	}
	for _, s := range existingSets() {
		if _, ok := st.sets[s]; !ok {
			_, _ = run("", "ipset", "destroy", s)
		}
	}
	summary := fmt.Sprintf("%d chains, %d ipsets, %d stale chains removed", len(st.order), len(st.sets), len(stale))
	if summary != a.lastRule {
		log.Printf("applied: %s", summary)
		a.lastRule = summary
	}
	return nil
}

// removeAll deletes everything this agent creates (used by --cleanup).
func removeAll() {
	for _, j := range [][2]string{{"FORWARD", chainFwd}, {"INPUT", chainIn}} {
		for {
			if _, err := run("", "iptables", "-w", "-t", "filter", "-D", j[0], "-j", j[1]); err != nil {
				break
			}
		}
	}
	chains := existingChains()
	for c := range chains {
		_, _ = run("", "iptables", "-w", "-t", "filter", "-F", c)
	}
	for c := range chains {
		_, _ = run("", "iptables", "-w", "-t", "filter", "-X", c)
	}
	for _, s := range existingSets() {
		_, _ = run("", "ipset", "destroy", s)
	}
	log.Printf("removed %d chains", len(chains))
}
