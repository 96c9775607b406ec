// Command pcs is the PCS command line: it publishes Parquet and Arrow files
// to NATS JetStream subjects as PCS partitions, consumes subjects back into
// files or a table preview, inspects files, runs an embedded broker, runs
// pipelines file-in/file-out, and shows a pcs-node's status and the fleet's
// catalog.
//
//	pcs publish --subject flights.raw data/flights.parquet
//	pcs consume --subject flights.raw --out flights.arrow
//	pcs broker --store ./pcs-data/broker
//	pcs status --url http://127.0.0.1:9464
//
// See docs/cli.md for every flag. The logic lives in run, which takes the
// arguments, a context and the output writers, so the tests drive the CLI
// in-process; main only wires it to the process.
//
// Exit codes: 0 success, 1 failure, 2 usage error. Errors are one line on
// stderr, prefixed "pcs: ".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
