// Command httpapp is the e2e test application: a tiny HTTP server.
//
//	--listen ADDR   address to bind (default 0.0.0.0:8080); 127.0.0.1:8080
//	                simulates an app that only listens on loopback.
//	--status CODE   status returned for every path except /healthz (default 200).
//	--also-listen ADDR,...  more TCP addresses serving the same handler
//	                (e.g. 0.0.0.0:81 next to --listen 0.0.0.0:80).
//	--udp-echo PORT,...     UDP ports on 0.0.0.0 that send every datagram back
//	                (the NetworkPolicy matrix probes UDP with them).
//
// /healthz always answers 200 "ok". Every request is logged to stdout.
//
//	httpapp probe [--timeout 2s] TARGET...
//
// is a client instead: it probes every TARGET at once and prints one line per target,
// "TARGET 1" (reachable) or "TARGET 0 reason", in the order given. TARGET is
// IP:PORT/tcp (a TCP connect), IP:PORT/udp (a datagram that must be echoed back, as
// --udp-echo does) or dns:NAME (a lookup through the pod's resolv.conf). Busybox's nc
// here has neither -z nor -u, so the NetworkPolicy matrix probes with this.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

func probeOne(target string, timeout time.Duration) string {
	if name, ok := strings.CutPrefix(target, "dns:"); ok {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if _, err := net.DefaultResolver.LookupHost(ctx, name); err != nil {
			return "0 " + err.Error()
		}
		return "1"
	}
	addr, proto, ok := strings.Cut(target, "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return "0 bad target (want IP:PORT/tcp, IP:PORT/udp or dns:NAME)"
	}
	conn, err := net.DialTimeout(proto, addr, timeout)
	if err != nil {
		return "0 " + err.Error()
	}
	defer conn.Close()
	if proto == "tcp" {
		return "1"
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("ping")); err != nil {
		return "0 " + err.Error()
	}
	buf := make([]byte, 16)
	n, err := conn.Read(buf)
	if err != nil {
		return "0 " + err.Error()
	}
	if string(buf[:n]) != "ping" {
		return fmt.Sprintf("0 unexpected answer %q", buf[:n])
	}
	return "1"
}

func probe(args []string) {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	timeout := fs.Duration("timeout", 2*time.Second, "per-target timeout")
	_ = fs.Parse(args)
	targets := fs.Args()
	results := make([]string, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func(i int, t string) {
			defer wg.Done()
			results[i] = probeOne(t, *timeout)
		}(i, t)
	}
	wg.Wait()
	for i, t := range targets {
		fmt.Printf("%s %s\n", t, results[i])
	}
}

// udpEcho answers every datagram on 0.0.0.0:port with the same bytes.
func udpEcho(port string) {
	conn, err := net.ListenPacket("udp", "0.0.0.0:"+port)
	if err != nil {
		log.Fatalf("udp echo on %s: %v", port, err)
	}
	log.Printf("httpapp echoing UDP on %s", conn.LocalAddr())
	buf := make([]byte, 65535)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			log.Printf("udp %s: %v", port, err)
			continue
		}
		if _, err := conn.WriteTo(buf[:n], addr); err != nil {
			log.Printf("udp %s -> %s: %v", port, addr, err)
		}
	}
}

func split(list string) []string {
	var out []string
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		probe(os.Args[2:])
		return
	}
	listen := flag.String("listen", "0.0.0.0:8080", "address to listen on")
	status := flag.Int("status", http.StatusOK, "HTTP status for every path except /healthz")
	also := flag.String("also-listen", "", "more TCP addresses (comma-separated) serving the same handler")
	udp := flag.String("udp-echo", "", "UDP ports (comma-separated) that echo every datagram")
	flag.Parse()
	if *status < 100 || *status > 999 {
		log.Fatalf("invalid --status %d", *status)
	}
	host, _ := os.Hostname()
	log.SetOutput(os.Stdout)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s %s -> 200", r.RemoteAddr, r.Method, r.URL.Path)
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s %s -> %d", r.RemoteAddr, r.Method, r.URL.Path, *status)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(*status)
		fmt.Fprintf(w, "httpapp host=%s path=%s status=%d\n", host, r.URL.Path, *status)
	})
	for _, port := range split(*udp) {
		go udpEcho(port)
	}
	for _, addr := range split(*also) {
		go func(addr string) {
			log.Printf("httpapp also listening on %s", addr)
			log.Fatal(http.ListenAndServe(addr, mux))
		}(addr)
	}
	log.Printf("httpapp listening on %s (status %d)", *listen, *status)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
