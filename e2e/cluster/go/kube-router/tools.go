//go:build tools

// Package tools pins kube-router's command so that this wrapper module's go.mod
// carries its dependencies; build with
//
//	go build github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
//
// from this directory. kube-router's own go.mod has no replace directives, but
// its pinned dependencies have known vulnerabilities: the require lines here
// raise them (see e2e/cluster/README.md, "kube-router").
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
