// Command pcs-node runs PCS pipelines over NATS JetStream partitions:
//
//	pcs-node --config node.toml
//
// It has the built-in systems (filter, derive; node.RegisterBuiltins) and
// the systems of the flights example registered; a program with its own
// systems calls node.Main with its own registry instead.
package main

import (
	"os"

	"github.com/pcs-dev/pcs/examples/flights/flightsys"
	"github.com/pcs-dev/pcs/node"
)

func main() {
	reg := node.NewRegistry()
	node.RegisterBuiltins(reg)
	flightsys.Register(reg)
	os.Exit(node.Main(os.Args[1:], reg, os.Stderr))
}
