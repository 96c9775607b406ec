// Command pcs-node runs PCS pipelines over NATS JetStream partitions:
//
//	pcs-node --config node.toml
//
// It has the built-in systems and resources (plan.DefaultRegistry:
// filter, derive, lookup, dedupe, project, rename, cast, totals, window,
// the table resource). A program with systems of its own is its own
// pcs-node: it adds them to the default registry and calls node.Main
// (examples/flights/cmd/flights-node does that).
package main

import (
	"os"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
)

func main() {
	os.Exit(node.Main(os.Args[1:], plan.DefaultRegistry(), os.Stderr))
}
