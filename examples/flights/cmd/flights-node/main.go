// Command flights-node is a user's own pcs-node: the stock node (the
// built-in systems of plan.DefaultRegistry) plus the flights systems
// written in Go (package flightsys: flights.keep, flights.airports,
// flights.derive and the flights.airports resource), so a config file can
// name them next to the built-ins:
//
//	go run ./examples/flights/cmd/flights-node --config node.toml
//
// Any program that registers systems of its own does the same: fill a
// registry, call node.Main.
package main

import (
	"os"

	"github.com/pcs-dev/pcs/examples/flights/flightsys"
	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
)

func main() {
	reg := plan.DefaultRegistry()
	flightsys.Register(reg)
	os.Exit(node.Main(os.Args[1:], reg, os.Stderr))
}
