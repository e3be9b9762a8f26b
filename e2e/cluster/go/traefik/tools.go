//go:build tools

// Package tools pins Traefik's command so that this wrapper module's go.mod carries
// its dependencies; build with
//
//	go build github.com/traefik/traefik/v3/cmd/traefik
//
// from this directory. Traefik's go.mod has replace and exclude directives, which a
// module that depends on it does not inherit: go.mod here restates them (see
// e2e/cluster/README.md, "Build").
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
