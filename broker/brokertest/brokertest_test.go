package brokertest_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
)

// TestStartInProcess: the default broker has JetStream, no TCP listener,
// a temporary store, and is shut down (connections refused) after the test.
func TestStartInProcess(t *testing.T) {
	var b *broker.Broker
	t.Run("use", func(t *testing.T) {
		b = brokertest.Start(t)
		if url := b.ClientURL(); url != "" {
			t.Errorf("ClientURL %q without WithListener, want none", url)
		}
		if filepath.Dir(b.Config().StoreDir) != filepath.Dir(t.TempDir()) {
			t.Errorf("store %q is not under the test's temp dir", b.Config().StoreDir)
		}
		js := brokertest.JetStream(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "s", []byte("x")); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := b.Connect(); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Connect after the test ended: %v, want ErrClosed", err)
	}
}

// TestWithListener: a TCP client reaches the broker at ClientURL.
func TestWithListener(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithListener())
	url := b.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("ClientURL %q, want a loopback TCP URL", url)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestOptions: max payload, raw server options, a plain func option, a
// logger.
func TestOptions(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []string
	)
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, string(p))
	}), nil))
	var streamBuf int
	b := brokertest.Start(t,
		brokertest.WithMaxPayload(4<<20),
		brokertest.WithServerOptions(func(o *server.Options) {
			o.StreamMaxBufferedMsgs = 4
			streamBuf = o.StreamMaxBufferedMsgs
		}),
		brokertest.WithLogger(logger, slog.LevelInfo),
		func(c *broker.Config) { c.SyncAlways = true },
	)
	nc := brokertest.Conn(t, b)
	if got := nc.MaxPayload(); got != 4<<20 {
		t.Errorf("MaxPayload %d, want %d", got, 4<<20)
	}
	if streamBuf != 4 {
		t.Errorf("server options hook not applied")
	}
	if !b.Server().JetStreamConfig().SyncAlways {
		t.Errorf("SyncAlways not set by a func option")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(lines, ""), "Server is ready") {
		t.Errorf("info lines did not reach the logger: %q", lines)
	}
}

// TestShutdownEarly: a test may shut the broker down itself; the cleanup's
// second shutdown is a no-op.
func TestShutdownEarly(t *testing.T) {
	b := brokertest.Start(t)
	brokertest.Conn(t, b)
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }
