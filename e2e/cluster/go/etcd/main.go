// Command etcd is the upstream etcd server, built from the Go module proxy.
// go.etcd.io/etcd/server/v3 carries replace directives, so it cannot be
// `go install`ed; this wrapper module requires it and calls its real main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
