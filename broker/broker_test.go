package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testConfig returns a DefaultConfig on a fresh temporary store.
func testConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StoreDir = t.TempDir()
	cfg.ReadyTimeout = 5 * time.Second
	return cfg
}

// startBroker starts a broker with cfg and shuts it down when the test ends.
func startBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	b, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b
}

// connect opens an in-process connection and a JetStream handle, closed when
// the test ends (before the broker's shutdown, cleanups run last-in first-out).
func connect(t *testing.T, b *Broker) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := b.Connect()
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := b.JetStream(nc)
	if err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	return nc, js
}

func TestStartConnectPublishConsumeShutdown(t *testing.T) {
	cfg := testConfig(t)
	b, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := b.ClientURL(); got != "" {
		t.Errorf("ClientURL without listener = %q, want empty", got)
	}
	if !b.Server().JetStreamEnabled() {
		t.Fatal("JetStream not enabled")
	}
	nc, err := b.Connect()
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	if got := nc.MaxPayload(); got != DefaultMaxPayload {
		t.Errorf("MaxPayload = %d, want %d", got, DefaultMaxPayload)
	}
	js, err := b.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	spec := Spec{
		Streams:   []StreamSpec{{Name: "IN", Subjects: []string{"in.>"}, Retention: RetentionWorkQueue}},
		Consumers: []ConsumerSpec{{Stream: "IN", Durable: "work"}},
	}
	if _, err := Provision(ctx, js, spec); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	msg := nats.NewMsg("in.a")
	msg.Header.Set(nats.MsgIdHdr, "src/1")
	msg.Data = []byte("hello")
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if ack.Stream != "IN" || ack.Sequence != 1 {
		t.Errorf("ack = %+v", ack)
	}
	// Same Nats-Msg-Id: deduplicated.
	if ack, err := js.PublishMsg(ctx, msg); err != nil || !ack.Duplicate {
		t.Errorf("republish: ack=%+v err=%v, want duplicate", ack, err)
	}
	cons, err := js.Consumer(ctx, "IN", "work")
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if string(m.Data()) != "hello" || m.Headers().Get(nats.MsgIdHdr) != "src/1" {
		t.Errorf("got %q %v", m.Data(), m.Headers())
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatalf("DoubleAck: %v", err)
	}
	st, err := js.Stream(ctx, "IN")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("work queue holds %d messages after ack, want 0", info.State.Msgs)
	}
	nc.Close()

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := b.Shutdown(sctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := b.Connect(); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Shutdown: %v, want ErrClosed", err)
	}
	if b.Server().Running() {
		t.Error("server still running after Shutdown")
	}
}

func TestConcurrentShutdown(t *testing.T) {
	b, err := Start(t.Context(), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := b.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestShutdownExpiredContext(t *testing.T) {
	b, err := Start(t.Context(), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Either the shutdown was fast enough or the expired ctx is reported.
	if err := b.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(canceled) = %v", err)
	}
	// A later call waits for the same shutdown to finish.
	if err := b.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestListenRandomPort(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listen = true
	cfg.Port = RandomPort
	b := startBroker(t, cfg)
	url := b.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":-1") || strings.HasSuffix(url, ":0") {
		t.Fatalf("ClientURL = %q", url)
	}
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("nats.Connect(%s): %v", url, err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("ping")
	if err != nil {
		t.Fatal(err)
	}
	// SUB is sent asynchronously: without a flush round trip the server may
	// not know the subscription when the other client publishes.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A second, in-process client reaches the same server.
	inproc, _ := connect(t, b)
	if err := inproc.Publish("ping", []byte("pong")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("NextMsg: %v", err)
	}
	if string(m.Data) != "pong" {
		t.Errorf("got %q", m.Data)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Errorf("JetStream over TCP: %v", err)
	}
}

func TestListenPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t)
	cfg.Listen = true
	cfg.Port = l.Addr().(*net.TCPAddr).Port
	cfg.ReadyTimeout = 2 * time.Second
	cfg.Logger = slog.New(slog.DiscardHandler) // the expected bind error
	start := time.Now()
	b, err := Start(t.Context(), cfg)
	if err == nil {
		b.Shutdown(context.Background())
		t.Fatal("Start on a busy port succeeded")
	}
	if !errors.Is(err, ErrStartFailed) || !strings.Contains(err.Error(), strconv.Itoa(cfg.Port)) {
		t.Errorf("err = %v, want ErrStartFailed naming port %d", err, cfg.Port)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("failure took %s; the listener error should be reported at once", d)
	}
	// The store lock was released: a broker can start on the same dir.
	cfg.Listen = false
	startBroker(t, cfg)
}

func TestStoreLocked(t *testing.T) {
	cfg := testConfig(t)
	b := startBroker(t, cfg)
	if _, err := Start(t.Context(), cfg); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second Start on the same store: %v, want ErrStoreLocked", err)
	}
	if err := b.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	startBroker(t, cfg) // released by Shutdown
}

func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cfg := testConfig(t)
	if _, err := Start(ctx, cfg); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrStartFailed) {
		t.Fatalf("Start(canceled) = %v", err)
	}
	startBroker(t, cfg) // nothing left locked
}

func TestStartInvalidConfig(t *testing.T) {
	_, err := Start(t.Context(), DefaultConfig())
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "store_dir") {
		t.Fatalf("Start without StoreDir: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" = valid
	}{
		{"default with store", func(c *Config) {}, ""},
		{"no store dir", func(c *Config) { c.StoreDir = " " }, "store_dir"},
		{"space in server name", func(c *Config) { c.ServerName = "a b" }, "server_name"},
		{"random port", func(c *Config) { c.Listen, c.Port = true, RandomPort }, ""},
		{"bad port", func(c *Config) { c.Listen, c.Port = true, 70000 }, "port"},
		{"bad port ignored without listener", func(c *Config) { c.Port = -7 }, ""},
		{"zero payload", func(c *Config) { c.MaxPayload = 0 }, "max_payload"},
		{"huge payload", func(c *Config) { c.MaxPayload = 65 << 20 }, "max_payload"},
		{"negative sync interval", func(c *Config) { c.SyncInterval = -time.Second }, "sync_interval"},
		{"negative max memory", func(c *Config) { c.MaxMemory = -1 }, "max_memory"},
		{"negative max store", func(c *Config) { c.MaxStore = -1 }, "max_store"},
		{"zero ready timeout", func(c *Config) { c.ReadyTimeout = 0 }, "ready_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.StoreDir = "/tmp/x"
			tt.mutate(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "broker: ") {
				t.Errorf("message %q lacks the package prefix", err)
			}
		})
	}
}

func TestLimitsAndPayload(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxPayload = 2 << 20
	cfg.MaxMemory = 64 << 20
	cfg.MaxStore = 256 << 20
	b := startBroker(t, cfg)
	nc, js := connect(t, b)
	if got := nc.MaxPayload(); got != 2<<20 {
		t.Errorf("MaxPayload = %d, want %d", got, 2<<20)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Server-wide limits (the account's own limits stay -1, unlimited).
	jsc := b.Server().JetStreamConfig()
	if jsc.MaxMemory != 64<<20 || jsc.MaxStore != 256<<20 || jsc.SyncAlways {
		t.Errorf("JetStream config = memory %d store %d sync_always %v", jsc.MaxMemory, jsc.MaxStore, jsc.SyncAlways)
	}
}

// TestServerOptionsHook: Config.ServerOptions sees the options Start
// derived from the Config and its changes reach the server.
func TestServerOptionsHook(t *testing.T) {
	cfg := testConfig(t)
	var seen server.Options
	cfg.ServerOptions = func(o *server.Options) {
		seen = *o
		o.MaxPayload = 4096
	}
	b := startBroker(t, cfg)
	nc, _ := connect(t, b)
	if !seen.JetStream || seen.StoreDir != cfg.StoreDir || !seen.NoSigs || seen.MaxPayload != DefaultMaxPayload {
		t.Errorf("hook saw JetStream %v StoreDir %q NoSigs %v MaxPayload %d", seen.JetStream, seen.StoreDir, seen.NoSigs, seen.MaxPayload)
	}
	if got := nc.MaxPayload(); got != 4096 {
		t.Errorf("MaxPayload = %d, want the hook's 4096", got)
	}
}

// TestPersistAcrossRestart publishes, shuts down, starts again on the same
// store and reads the message back, with and without SyncAlways.
func TestPersistAcrossRestart(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run("sync_always="+strconv.FormatBool(sync), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SyncAlways = sync
			ctx := t.Context()

			b, err := Start(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Server().JetStreamConfig().SyncAlways; got != sync {
				t.Errorf("server SyncAlways = %v, want %v", got, sync)
			}
			nc, err := b.Connect()
			if err != nil {
				t.Fatal(err)
			}
			js, _ := b.JetStream(nc)
			spec := Spec{Streams: []StreamSpec{{Name: "P", Subjects: []string{"p"}, Storage: StorageFile}}}
			if _, err := Provision(ctx, js, spec); err != nil {
				t.Fatal(err)
			}
			body := bytes.Repeat([]byte("x"), 64<<10)
			for i := range 10 {
				if _, err := js.Publish(ctx, "p", append([]byte(strconv.Itoa(i)), body...)); err != nil {
					t.Fatal(err)
				}
			}
			nc.Close()
			if err := b.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}

			b2 := startBroker(t, cfg)
			_, js2 := connect(t, b2)
			rep, err := Provision(ctx, js2, spec)
			if err != nil || rep.Changed() {
				t.Fatalf("Provision after restart: changed=%v err=%v", rep.Changed(), err)
			}
			st, err := js2.Stream(ctx, "P")
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != 10 {
				t.Fatalf("after restart: %d messages, want 10", info.State.Msgs)
			}
			m, err := st.GetMsg(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Data, append([]byte("9"), body...)) {
				t.Errorf("message 10 differs after restart")
			}
		})
	}
}

// recordHandler is a slog.Handler that keeps records.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) count(level slog.Level, substr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == level && strings.Contains(r.Message, substr) {
			n++
		}
	}
	return n
}

func TestLogging(t *testing.T) {
	t.Run("default level is quiet", func(t *testing.T) {
		h := &recordHandler{}
		cfg := testConfig(t)
		cfg.Logger = slog.New(h)
		startBroker(t, cfg)
		if n := h.count(slog.LevelInfo, ""); n != 0 {
			t.Errorf("%d info records at the default level, want 0", n)
		}
	})
	t.Run("info shows notices", func(t *testing.T) {
		h := &recordHandler{}
		cfg := testConfig(t)
		cfg.Logger = slog.New(h)
		cfg.LogLevel = slog.LevelInfo
		startBroker(t, cfg)
		if n := h.count(slog.LevelInfo, "Server is ready"); n != 1 {
			t.Errorf("%d \"Server is ready\" info records, want 1", n)
		}
		if n := h.count(slog.LevelDebug, ""); n != 0 {
			t.Errorf("%d debug records at info level", n)
		}
	})
	t.Run("fatal is an error, not an exit", func(t *testing.T) {
		h := &recordHandler{}
		a := newSlogLogger(slog.New(h), DefaultLogLevel)
		a.Fatalf("boom %d", 1)
		a.Fatalf("boom %d", 2)
		if err := a.firstFatal(); err == nil || err.Error() != "boom 1" {
			t.Errorf("firstFatal = %v", err)
		}
		if h.count(slog.LevelError, "boom") != 2 {
			t.Errorf("fatal lines not logged at error level")
		}
	})
}
