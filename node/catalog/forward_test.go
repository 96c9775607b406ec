package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/node/catalog"
)

// forwarders makes node id's Forwarder of one network (all share it).
type forwarders func(t *testing.T, id string) catalog.Forwarder

// TestForwarders runs the same cases against NATSForwarder on a real
// broker and the MemoryNetwork, so that the in-memory one behaves like
// NATS where catalogs can tell.
func TestForwarders(t *testing.T) {
	impls := map[string]func(t *testing.T) forwarders{
		"nats": func(t *testing.T) forwarders {
			b := brokertest.Start(t)
			return func(t *testing.T, _ string) catalog.Forwarder {
				return catalog.NewNATSForwarder(brokertest.Conn(t, b), "fwd")
			}
		},
		"memory": func(*testing.T) forwarders {
			net := catalog.NewMemoryNetwork()
			return func(_ *testing.T, id string) catalog.Forwarder { return net.Forwarder(id) }
		},
	}
	for name, impl := range impls {
		t.Run(name, func(t *testing.T) {
			for _, tc := range forwarderCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, impl(t)) })
			}
		})
	}
}

// listen makes node id answer "<id>:<request>" until the test ends.
func listen(t *testing.T, f catalog.Forwarder, id string) func() error {
	t.Helper()
	stop, err := f.Listen(id, func(_ context.Context, req []byte) []byte {
		return []byte(id + ":" + string(req))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func request(t *testing.T, f catalog.Forwarder, to, req string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rep, err := f.Request(ctx, to, []byte(req))
	return string(rep), err
}

var forwarderCases = []struct {
	name string
	run  func(t *testing.T, fw forwarders)
}{
	{"named node", func(t *testing.T, fw forwarders) {
		listen(t, fw(t, "a"), "a")
		listen(t, fw(t, "b"), "b")
		c := fw(t, "c")
		for _, to := range []string{"a", "b"} {
			if rep, err := request(t, c, to, "x"); err != nil || rep != to+":x" {
				t.Fatalf("request to %s: %q %v", to, rep, err)
			}
		}
	}},
	{"any member", func(t *testing.T, fw forwarders) {
		listen(t, fw(t, "a"), "a")
		listen(t, fw(t, "b"), "b")
		c := fw(t, "c")
		seen := map[string]int{}
		for range 100 {
			rep, err := request(t, c, catalog.AnyMember, "x")
			if err != nil {
				t.Fatal(err)
			}
			seen[rep]++
		}
		if len(seen) != 2 || seen["a:x"] == 0 || seen["b:x"] == 0 {
			t.Fatalf("replies %v, want both members", seen)
		}
	}},
	{"nobody listening", func(t *testing.T, fw forwarders) {
		c := fw(t, "c")
		for _, to := range []string{"zz", catalog.AnyMember} {
			if _, err := request(t, c, to, "x"); !errors.Is(err, catalog.ErrNotDelivered) {
				t.Fatalf("request to %q: %v, want ErrNotDelivered", to, err)
			}
		}
	}},
	{"stopped listener", func(t *testing.T, fw forwarders) {
		stop := listen(t, fw(t, "a"), "a")
		c := fw(t, "c")
		if _, err := request(t, c, "a", "x"); err != nil {
			t.Fatal(err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		// Over NATS the unsubscription reaches the server a moment later.
		for deadline := time.Now().Add(5 * time.Second); ; {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := c.Request(ctx, "a", []byte("x"))
			cancel()
			if errors.Is(err, catalog.ErrNotDelivered) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("request after stop: %v, want ErrNotDelivered", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}},
	{"stop ends and waits for handlers", func(t *testing.T, fw forwarders) {
		started := make(chan struct{})
		var finished atomic.Bool
		stop, err := fw(t, "a").Listen("a", func(ctx context.Context, _ []byte) []byte {
			close(started)
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond)
			finished.Store(true)
			return []byte("stopped")
		})
		if err != nil {
			t.Fatal(err)
		}
		c := fw(t, "c")
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = c.Request(ctx, "a", []byte("x"))
		}()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("handler not called")
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if !finished.Load() {
			t.Fatal("stop returned before the running handler")
		}
	}},
	{"concurrent requests", func(t *testing.T, fw forwarders) {
		listen(t, fw(t, "a"), "a")
		c := fw(t, "c")
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Go(func() {
				req := fmt.Sprint(i)
				if rep, err := request(t, c, "a", req); err != nil || rep != "a:"+req {
					errs <- fmt.Errorf("request %d: %q %v", i, rep, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}},
	{"request bytes are the sender's", func(t *testing.T, fw forwarders) {
		stop, err := fw(t, "a").Listen("a", func(_ context.Context, req []byte) []byte {
			for i := range req {
				req[i] = 'z'
			}
			return req
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		req := []byte("abc")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		rep, err := fw(t, "c").Request(ctx, "a", req)
		if err != nil || string(rep) != "zzz" || string(req) != "abc" {
			t.Fatalf("reply %q err %v, request now %q", rep, err, req)
		}
	}},
}

// TestMemoryNetworkIsolate: a cut-off node neither sends nor receives; a
// reply crossing a cut made meanwhile is lost; Heal restores both ways.
func TestMemoryNetworkIsolate(t *testing.T) {
	net := catalog.NewMemoryNetwork()
	a, b := net.Forwarder("a"), net.Forwarder("b")
	listen(t, a, "a")
	listen(t, b, "b")

	net.Isolate("a")
	if _, err := request(t, b, "a", "x"); !errors.Is(err, catalog.ErrNotDelivered) {
		t.Fatalf("to an isolated node: %v, want ErrNotDelivered", err)
	}
	if _, err := request(t, a, "b", "x"); !errors.Is(err, catalog.ErrNotDelivered) {
		t.Fatalf("from an isolated node: %v, want ErrNotDelivered", err)
	}
	for range 20 {
		if rep, err := request(t, b, catalog.AnyMember, "x"); err != nil || rep != "b:x" {
			t.Fatalf("any member with a isolated: %q %v, want b only", rep, err)
		}
	}
	net.Heal("a")
	if rep, err := request(t, b, "a", "x"); err != nil || rep != "a:x" {
		t.Fatalf("after heal: %q %v", rep, err)
	}

	// A reply lost to a cut: the outcome is unknown (ctx's error), not
	// ErrNotDelivered.
	release := make(chan struct{})
	inHandler := make(chan struct{})
	c := net.Forwarder("c")
	stop, err := c.Listen("c", func(context.Context, []byte) []byte {
		close(inHandler)
		<-release
		return []byte("late")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := b.Request(ctx, "c", []byte("x"))
		res <- err
	}()
	<-inHandler
	net.Isolate("c")
	close(release)
	if err := <-res; !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, catalog.ErrNotDelivered) {
		t.Fatalf("reply across a cut: %v, want the deadline", err)
	}
	net.Heal("c")
}

// TestMemoryNetworkListen: a forwarder listens for its own node only, once
// at a time; a restarted node listens again.
func TestMemoryNetworkListen(t *testing.T) {
	net := catalog.NewMemoryNetwork()
	f := net.Forwarder("a")
	h := func(context.Context, []byte) []byte { return nil }
	if _, err := f.Listen("b", h); err == nil {
		t.Fatal("listened for another node")
	}
	stop, err := f.Listen("a", h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Forwarder("a").Listen("a", h); err == nil {
		t.Fatal("two listeners for one node")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop, err = net.Forwarder("a").Listen("a", h)
	if err != nil {
		t.Fatalf("listen again after stop: %v", err)
	}
	_ = stop()
}
