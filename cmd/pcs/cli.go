package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/node"
)

// Exit codes of run.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// defaultServerURL is the server --server falls back to when neither
// $PCS_SERVER nor $NATS_URL is set.
const defaultServerURL = "nats://127.0.0.1:4222"

// connectTimeout bounds the dial of one server address.
const connectTimeout = 5 * time.Second

// usageError marks an error in how pcs was called: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// env holds what run takes from the process environment, so that tests can
// replace it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// progressEvery is how often plain-text progress lines are written
	// when stderr is not a terminal.
	progressEvery time.Duration
	// tty reports whether stderr is a terminal (progress bar).
	tty bool
}

// run executes the pcs command line args (without the program name) and
// returns the exit code: 0 on success, 1 on failure, 2 on a usage error.
// Errors are written to stderr as one line prefixed "pcs: ". ctx ends
// long-running commands (consume --follow, broker) cleanly and interrupts
// the others.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{
		stdout:        stdout,
		stderr:        stderr,
		getenv:        os.Getenv,
		progressEvery: 2 * time.Second,
		tty:           isTerminal(stderr),
	}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	root := e.rootCommand()
	root.SetArgs(args)
	started := false // a command's RunE was entered: later errors are failures
	for _, c := range root.Commands() {
		if c.RunE == nil {
			continue
		}
		runE := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			started = true
			return runE(cmd, args)
		}
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(e.stderr, "pcs: %s\n", oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) || !started {
		// Errors cobra reports before a command runs (unknown flags,
		// unknown commands, bad flag values) are usage errors too.
		return exitUsage
	}
	return exitFailure
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "pcs",
		Short: "PCS command line: publish and consume Arrow partitions on NATS JetStream",
		Long: `pcs publishes Parquet and Arrow files to NATS JetStream subjects as PCS
partitions (Arrow IPC streams with Pcs-* headers), consumes subjects back
into files or a table preview, runs an embedded broker, runs pipelines
file-in/file-out, and shows a pcs-node's status and the fleet's catalog.
docs/cli.md in the repository is the reference of every command.

Exit codes: 0 success, 1 failure, 2 usage error.`,
		SilenceErrors:              true,
		SilenceUsage:               true,
		CompletionOptions:          cobra.CompletionOptions{HiddenDefaultCmd: true},
		SuggestionsMinimumDistance: 2,
		// Without a subcommand: an unknown command or none at all.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return usageError{errors.New(msg + "; run 'pcs --help'")}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("missing command (publish, consume, dlq, broker, inspect, run, status or version); run 'pcs --help'")
		},
		Version: node.Version(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usagef("%v (see '%s --help')", err, cmd.CommandPath())
	})
	root.AddCommand(e.publishCommand(), e.consumeCommand(), e.brokerCommand(), e.inspectCommand(), e.runCommand(), e.statusCommand(), e.dlqCommand(),
		&cobra.Command{Use: "version", Short: "Print the module version and commit this binary was built from", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintln(e.stdout, node.Version())
				return err
			}})
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
	}
	return root
}

// defaultServer returns the server --server defaults to: $PCS_SERVER, else
// $NATS_URL, else nats://127.0.0.1:4222.
func (e *env) defaultServer() string {
	for _, k := range []string{"PCS_SERVER", "NATS_URL"} {
		if v := strings.TrimSpace(e.getenv(k)); v != "" {
			return v
		}
	}
	return defaultServerURL
}

// connect dials the NATS server at url with the credentials and TLS
// settings of the environment (PCS_NATS_CREDS, PCS_NATS_NKEY,
// PCS_NATS_USER/PCS_NATS_PASSWORD, PCS_NATS_TOKEN, PCS_NATS_TLS_CA,
// PCS_NATS_TLS_CERT/PCS_NATS_TLS_KEY, PCS_NATS_TLS_SERVER_NAME:
// broker.ClientConfig.FromEnv). The error names the URL (without user
// information) and says how to start a server; it never shows a secret.
// extra options are applied last (publish's reconnect policy replaces the
// default one: a few reconnects, a second apart).
func connect(ctx context.Context, url, name string, extra ...nats.Option) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client := broker.ClientConfig{}.FromEnv(clientEnv)
	opts, err := client.Options()
	if err != nil {
		return nil, usagef("NATS client settings (PCS_NATS_*): %v", err)
	}
	nc, err := nats.Connect(url, append(append(opts,
		nats.Name(name),
		nats.Timeout(connectTimeout),
		// A CLI run should not hang on a server that went away.
		nats.MaxReconnects(5),
		nats.ReconnectWait(time.Second),
	), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to NATS server %s (%s): %v (start one with 'pcs broker' or pcs-node, or set --server / $PCS_SERVER; credentials and TLS come from $PCS_NATS_*)", redactURL(url), client, err)
	}
	return nc, nil
}

// clientEnv is how connect reads the environment.
var clientEnv = os.Getenv

// redactURL hides the passwords and tokens of a (comma-separated) server URL list
// for messages.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := neturl.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); !ok {
			// A user without a password is a NATS token.
			u.User = neturl.User("xxxxx")
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}

// sizeValue is a pflag.Value for byte sizes: "8MiB", "512KiB", "1MB",
// "1048576".
type sizeValue int64

func (s *sizeValue) String() string { return humanize.IBytes(uint64(*s)) }
func (s *sizeValue) Type() string   { return "size" }

func (s *sizeValue) Set(v string) error {
	n, err := humanize.ParseBytes(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("bad size %q (want e.g. 8MiB, 512KiB or a byte count)", v)
	}
	if n > math.MaxInt64 {
		return fmt.Errorf("size %q too large", v)
	}
	*s = sizeValue(n)
	return nil
}

// oneLine joins the lines of a multi-line message (joined errors, schema
// dumps) with "; ", so that every error is one line.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// withoutCancel returns a context for clean-up after ctx ended (final acks,
// closing files after SIGINT in --follow mode), bounded by d.
func withoutCancel(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// rate formats n per second over d.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return humanize.Comma(int64(math.Round(float64(n) / d.Seconds())))
}

// roundDuration rounds an elapsed time for people.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// plural formats n and a noun, adding "s" unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
