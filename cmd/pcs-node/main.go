// Command pcs-node runs PCS pipelines over NATS JetStream partitions:
//
//	pcs-node --config node.toml
//
// It has the built-in systems and resources registered
// (node.RegisterBuiltins: filter, derive, lookup, dedupe, project, rename,
// cast, the table resource); a program with its own systems calls
// node.Main with its own registry instead (see examples/flights/flightsys).
package main

import (
	"os"

	"github.com/pcs-dev/pcs/node"
)

func main() {
	reg := node.NewRegistry()
	node.RegisterBuiltins(reg)
	os.Exit(node.Main(os.Args[1:], reg, os.Stderr))
}
