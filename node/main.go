package node

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lmittmann/tint"
	"golang.org/x/term"

	"github.com/pcs-dev/pcs/plan"
)

// Main is the pcs-node command: `pcs-node --config node.toml`. A Go
// program that registers its own systems calls it from main:
//
//	func main() {
//		reg := plan.DefaultRegistry()
//		reg.System("mine", newMySystem)
//		os.Exit(node.Main(os.Args[1:], reg, os.Stderr))
//	}
//
// It runs until SIGINT or SIGTERM, then drains and exits. It returns the
// exit code: 0 after a clean drain, 1 on failure, 2 on a usage error, each
// failure reported as one line on stderr.
func Main(args []string, reg *plan.Registry, stderr io.Writer) int {
	fs := flag.NewFlagSet("pcs-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "node config file (TOML): [node], [broker], [catalog], [[pipeline]]")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h, --help: the full usage (printed by Parse), exit 0
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stderr, Version())
		return 0
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pcs-node --config node.toml (pcs-node --help for more)")
		return 2
	}
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	log := NewLogger(stderr, cfg.Node.LogLevel, cfg.Node.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := Start(ctx, cfg, reg, log)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	runErr := n.Run(ctx)
	closeErr := n.Close(context.Background())
	if err := errors.Join(runErr, closeErr); err != nil {
		fail(stderr, err)
		return 1
	}
	return 0
}

// usage is pcs-node --help's text before the flags.
const usage = `pcs-node runs PCS pipelines over NATS JetStream: it pulls the partitions
of each [[pipeline]]'s input subjects, runs the pipeline's systems on them
and publishes the results to its sink subject, with a Raft catalog of the
partitions done when [catalog] is set. It runs until SIGINT or SIGTERM,
then drains (drain_timeout) and exits 0.

Usage:
  pcs-node --config node.toml

The config file format is in README.md ("Configuration") and on the types
of packages node (node.Config) and plan (plan.Pipeline).

Flags:
`

// fail prints err as one line (joined errors separated by "; ").
func fail(w io.Writer, err error) {
	fmt.Fprintln(w, "pcs-node:", strings.ReplaceAll(err.Error(), "\n", "; "))
}

// NewLogger returns the node's slog logger: tint's colored text on a
// terminal, plain text otherwise (format "text"), or JSON ("json").
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv}))
	}
	color := false
	if f, ok := w.(*os.File); ok {
		color = term.IsTerminal(int(f.Fd()))
	}
	return slog.New(tint.NewTextHandler(w, &tint.Options{Level: lv, NoColor: !color, TimeFormat: "15:04:05.000"}))
}
