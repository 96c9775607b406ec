package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/node/catalog/catalogtest"
)

var fleetKey = bytes.Repeat([]byte("k"), catalog.MinKeyBytes)

// recording remembers the last request it sent.
type recording struct {
	catalog.Forwarder
	mu   sync.Mutex
	last []byte
}

func (r *recording) Request(ctx context.Context, to string, req []byte) ([]byte, error) {
	r.mu.Lock()
	r.last = bytes.Clone(req)
	r.mu.Unlock()
	return r.Forwarder.Request(ctx, to, req)
}

func TestAuthenticatedForwarder(t *testing.T) {
	net := catalog.NewMemoryNetwork()
	var mu sync.Mutex
	var rejected []string
	var handled int
	onReject := func(reason string) { mu.Lock(); rejected = append(rejected, reason); mu.Unlock() }
	server, err := catalog.Authenticated(net.Forwarder("a"), fleetKey, onReject)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := server.Listen("a", func(_ context.Context, req []byte) []byte {
		mu.Lock()
		handled++
		mu.Unlock()
		return append([]byte("echo:"), req...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	rec := &recording{Forwarder: net.Forwarder("b")}
	member, _ := catalog.Authenticated(rec, fleetKey, nil)
	if got, err := member.Request(ctx, "a", []byte("hi")); err != nil || string(got) != "echo:hi" {
		t.Fatalf("member: %q, %v", got, err)
	}
	// A client without the key, one with another key, and a replay of
	// the member's request: none reaches the handler.
	if got, err := net.Forwarder("mallory").Request(ctx, "a", []byte("forged")); err != nil || strings.HasPrefix(string(got), "echo") {
		t.Errorf("unsigned request answered %q, %v", got, err)
	}
	other, _ := catalog.Authenticated(net.Forwarder("c"), bytes.Repeat([]byte("x"), 40), nil)
	if _, err := other.Request(ctx, "a", []byte("hi")); !errors.Is(err, catalog.ErrUnauthenticated) {
		t.Errorf("wrong key: %v, want ErrUnauthenticated", err)
	}
	if got, err := net.Forwarder("mallory").Request(ctx, "a", rec.last); err != nil || strings.HasPrefix(string(got), "echo") {
		t.Errorf("replayed request answered %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled != 1 || len(rejected) != 3 {
		t.Errorf("handled %d, rejected %v; want 1 and 3", handled, rejected)
	}
	for i, want := range []string{"no signature", "bad signature", "replayed"} {
		if i < len(rejected) && !strings.Contains(rejected[i], want) {
			t.Errorf("rejection %d: %q, want %q", i, rejected[i], want)
		}
	}
	if _, err := catalog.Authenticated(net.Forwarder("d"), []byte("short"), nil); !errors.Is(err, catalog.ErrInvalidConfig) {
		t.Errorf("short key: %v", err)
	}
}

// TestForgedCommandRejected: the fault campaign's attack, a client with
// broker access but no member identity sending partition_done for a
// partition nobody processed. Without authentication the catalog takes it
// (and nodes would ack the partition unprocessed); with the fleet key it
// is rejected and counted, and the catalog is unchanged.
func TestForgedCommandRejected(t *testing.T) {
	for _, auth := range []bool{false, true} {
		t.Run(map[bool]string{false: "open", true: "authenticated"}[auth], func(t *testing.T) {
			net := catalog.NewMemoryNetwork()
			var rejected sync.Map
			opts := []catalogtest.Option{}
			if auth {
				opts = append(opts, catalogtest.WithForwarders(func(t testing.TB, id string) catalog.Forwarder {
					f, err := catalog.Authenticated(net.Forwarder(id), fleetKey, func(r string) { rejected.Store(id, r) })
					if err != nil {
						t.Fatal(err)
					}
					return f
				}))
			} else {
				opts = append(opts, catalogtest.WithForwarders(func(_ testing.TB, id string) catalog.Forwarder { return net.Forwarder(id) }))
			}
			c := catalogtest.Start(t, 3, opts...)
			cmd := catalog.NewPartitionDone(catalog.PartitionRecord{Pipeline: "p", ID: "src/7", Status: catalog.StatusDone, Rows: 8192, Node: "mallory", Time: time.Now()})
			forged, err := json.Marshal(map[string]any{"op": "apply", "commands": []catalog.Command{cmd}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = net.Forwarder("mallory").Request(ctx, c.Leader(t).Status().Leader, forged)
			time.Sleep(200 * time.Millisecond) // let followers apply whatever was committed
			done := c.Leader(t).IsDone("p", "src/7")
			if done == auth {
				t.Errorf("authenticated %v: forged partition_done applied = %v", auth, done)
			}
			n := 0
			rejected.Range(func(_, _ any) bool { n++; return true })
			if auth && n == 0 {
				t.Error("the forged command was not reported as rejected")
			}
		})
	}
}
