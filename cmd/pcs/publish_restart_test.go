package main

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
)

// restartable is an embedded broker on a fixed port and store directory
// that a test shuts down and starts again, as an operator restarts a
// server.
type restartable struct {
	store string
	port  int
	b     *broker.Broker
}

func (r *restartable) start(t *testing.T) {
	t.Helper()
	r.b = brokertest.Start(t, brokertest.WithListener(), func(c *broker.Config) {
		c.StoreDir = r.store
		if r.port != 0 {
			c.Port = r.port
		}
	})
	if r.port == 0 {
		u, err := url.Parse(r.b.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(u.Host)
		r.port, _ = strconv.Atoi(p)
	}
}

func (r *restartable) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.ShutdownTimeout)
	defer cancel()
	if err := r.b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// streamMsgs returns the messages in stream name on a fresh connection,
// or -1 when the broker does not answer.
func (r *restartable) streamMsgs(name string) int64 {
	nc, err := r.b.Connect()
	if err != nil {
		return -1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx)
	if err != nil {
		return -1
	}
	return int64(info.State.Msgs)
}

// checkRowIDs consumes subject into a file and checks that it holds the
// row ids 0..rows-1 once each.
func checkRowIDs(t *testing.T, server, subject string, rows int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "back.arrow")
	mustPCS(t, "consume", "--server", server, "-s", subject, "-o", out)
	got := readFile(t, out)
	defer release(got)
	seen := make([]int, rows)
	var dup, bad int
	for _, rec := range got {
		i := rec.Schema().FieldIndices("row_id")
		if len(i) != 1 {
			t.Fatalf("no row_id column in %s", rec.Schema())
		}
		for _, id := range rec.Column(i[0]).(*array.Int64).Int64Values() {
			switch {
			case id < 0 || id >= rows:
				bad++
			case seen[id] > 0:
				dup++
				seen[id]++
			default:
				seen[id]++
			}
		}
	}
	lost := 0
	for _, n := range seen {
		if n == 0 {
			lost++
		}
	}
	if lost+dup+bad > 0 {
		t.Fatalf("rows: %d lost, %d duplicated, %d unexpected of %d", lost, dup, bad, rows)
	}
}

// TestPublishSurvivesBrokerRestart: the broker (same port, same store)
// is shut down mid-publish and started again a few seconds later; pcs
// publish waits for it and resumes, and every row arrives once. With a
// --reconnect-wait shorter than the outage, publish fails with a clear
// message, and a rerun publishes the rest, nothing twice.
func TestPublishSurvivesBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a broker")
	}
	const rows, batch = 50_000, 25 // 2,000 partitions
	path := writeParquet(t, t.TempDir(), "restart.parquet", makeRecords(t, rows, 5000))

	for _, tc := range []struct {
		name   string
		wait   string // --reconnect-wait
		outage time.Duration
		fails  bool
	}{
		{name: "waits and resumes", wait: "1m", outage: 3 * time.Second},
		{name: "gives up, rerun resumes", wait: "1s", outage: 4 * time.Second, fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &restartable{store: t.TempDir()}
			r.start(t)
			server := r.b.ClientURL()
			subject := "restart." + strings.ReplaceAll(tc.name, " ", "_")
			subject = strings.ReplaceAll(subject, ",", "")
			tb := &testBroker{b: r.b, url: server}
			tb.nc = brokertest.Conn(t, r.b)
			js, err := r.b.JetStream(tb.nc)
			if err != nil {
				t.Fatal(err)
			}
			tb.js = js
			tb.stream(t, "RESTART", subject)

			var stderr, stdout syncBuffer
			done := make(chan result, 1)
			args := []string{"publish", "--server", server, "-s", subject, "--batch-rows", strconv.Itoa(batch),
				"--row-id", "row_id", "--reconnect-wait", tc.wait, path}
			go func() {
				done <- pcsTo(context.Background(), func(string) string { return "" }, &stdout, &stderr, args...)
			}()

			// Cut the broker once a tenth of the partitions are stored.
			deadline := time.Now().Add(30 * time.Second)
			for r.streamMsgs("RESTART") < rows/batch/10 {
				if time.Now().After(deadline) {
					t.Fatal("publish did not start")
				}
				time.Sleep(2 * time.Millisecond)
			}
			r.stop(t)
			down := time.Now()
			time.Sleep(tc.outage)
			r.start(t)
			t.Logf("broker down for %s", time.Since(down).Round(time.Millisecond))

			var res result
			select {
			case res = <-done:
			case <-time.After(3 * time.Minute):
				t.Fatal("publish did not end")
			}
			t.Logf("publish ended %s after the restart: %v", time.Since(down).Round(time.Millisecond), res)
			if tc.fails {
				if res.code != 1 || !strings.Contains(res.stderr, "unreachable for 1s") || !strings.Contains(res.stderr, "--reconnect-wait") {
					t.Fatalf("publish with a short --reconnect-wait: %v", res)
				}
				lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
				if last := lines[len(lines)-1]; !strings.HasPrefix(last, "pcs: publish: the NATS server") || !strings.Contains(last, "run the same command again") {
					t.Errorf("the last line of stderr is not the one-line error: %q", last)
				}
				res = mustPCS(t, args...) // the rerun
			} else if res.code != 0 {
				t.Fatalf("publish across a broker restart: %v", res)
			}
			if !strings.Contains(res.stderr, "lost the connection") && !tc.fails {
				t.Errorf("no word of the outage on stderr: %q", res.stderr)
			}
			if n := r.streamMsgs("RESTART"); n != rows/batch {
				t.Errorf("stream holds %d messages, want %d partitions", n, rows/batch)
			}
			checkRowIDs(t, server, subject, rows)
		})
	}
}
