// Command httpapp is the e2e test application: a tiny HTTP server.
//
//	--listen ADDR   address to bind (default 0.0.0.0:8080); 127.0.0.1:8080
//	                simulates an app that only listens on loopback.
//	--status CODE   status returned for every path except /healthz (default 200).
//
// /healthz always answers 200 "ok". Every request is logged to stdout.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	listen := flag.String("listen", "0.0.0.0:8080", "address to listen on")
	status := flag.Int("status", http.StatusOK, "HTTP status for every path except /healthz")
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
	log.Printf("httpapp listening on %s (status %d)", *listen, *status)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
