package brokertest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
)

// ShutdownTimeout bounds the broker's shutdown at the end of a test.
const ShutdownTimeout = 30 * time.Second

// readyTimeout is longer than the broker's default: tests run under -race
// on loaded machines.
const readyTimeout = 30 * time.Second

// Option changes the broker.Config that Start uses. Any
// func(*broker.Config) is an Option, so a test can set a field this package
// has no option for.
type Option func(*broker.Config)

// WithListener also opens a TCP client listener on a random loopback port,
// for clients in other processes (child nodes, the CLI); read the URL back
// with Broker.ClientURL. Without it the broker opens no port and only
// in-process connections (Broker.Connect, Conn) reach it.
func WithListener() Option {
	return func(c *broker.Config) {
		c.Listen, c.Host, c.Port = true, broker.DefaultHost, broker.RandomPort
	}
}

// WithMaxPayload sets the largest message the server accepts, in bytes,
// headers included (default broker.DefaultMaxPayload, 1 MiB).
func WithMaxPayload(n int64) Option {
	return func(c *broker.Config) { c.MaxPayload = n }
}

// WithLogger sends the server's log lines to l at level and above instead
// of the test's log.
func WithLogger(l *slog.Logger, level slog.Level) Option {
	return func(c *broker.Config) { c.Logger, c.LogLevel = l, level }
}

// WithServerOptions lets f change the raw nats-server options (see
// broker.Config.ServerOptions), for server settings broker.Config does not
// wrap, such as StreamMaxBufferedMsgs.
func WithServerOptions(f func(*server.Options)) Option {
	return func(c *broker.Config) { c.ServerOptions = f }
}

// Start starts an embedded broker with JetStream for t: its store is a
// fresh t.TempDir, it opens no TCP port unless WithListener is given, and
// its warnings and errors go to t.Log. It is shut down when t ends (a
// failed shutdown fails t); calling Shutdown earlier is fine. Start fails t
// (t.Fatal) if the broker does not start.
func Start(t testing.TB, opts ...Option) *broker.Broker {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.StoreDir = t.TempDir()
	cfg.ReadyTimeout = readyTimeout
	cfg.Logger = testLogger(t)
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ReadyTimeout+5*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("brokertest: %v", err)
		}
	})
	return b
}

// Conn opens an in-process client connection to b (Broker.Connect, with
// opts applied after the broker's own) and closes it when t ends, before b
// shuts down. It fails t if b does not accept the connection.
func Conn(t testing.TB, b *broker.Broker, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := b.Connect(opts...)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream handle on a new in-process connection to b
// (see Conn), closed when t ends.
func JetStream(t testing.TB, b *broker.Broker, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	t.Helper()
	js, err := b.JetStream(Conn(t, b), opts...)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return js
}

// testLogger returns a logger that writes to t.Log until t's cleanups have
// run (the broker's shutdown included): logging after a test has ended
// panics, and a server goroutine may log late.
func testLogger(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(w.stop) // registered before the shutdown: runs after it
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: broker.DefaultLogLevel}))
}

// tbWriter is an io.Writer onto t.Log; slog's handlers write one record per
// Write.
type tbWriter struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

var _ io.Writer = (*tbWriter)(nil)

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}
