package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// defaultReconnectWait is how long pcs publish waits for a server that
// went away (--reconnect-wait): long enough for a broker restart or a
// cluster electing a new leader, short enough that a dead server ends
// the run.
const defaultReconnectWait = 2 * time.Minute

// reconnectEvery is the pause between two reconnect attempts.
const reconnectEvery = 250 * time.Millisecond

// outage is the reconnect policy of pcs publish: reconnect without a
// count limit, buffer nothing while disconnected (the publisher retries
// under the same ids, which JetStream deduplicates), tell the user, and
// close the connection once it has been down for longer than wait, so
// that the run fails with one clear line instead of hanging.
type outage struct {
	wait   time.Duration
	server string // redacted, for messages
	log    io.Writer

	mu      sync.Mutex
	since   time.Time // when the connection went down; zero while up
	gaveUp  bool
	outages int
	stop    chan struct{}
	nc      *nats.Conn
}

func newOutage(wait time.Duration, server string, log io.Writer) *outage {
	return &outage{wait: wait, server: redactURL(server), log: log, stop: make(chan struct{})}
}

// options are the connection options of the policy.
func (o *outage) options() []nats.Option {
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectEvery),
		nats.ReconnectJitter(50*time.Millisecond, 50*time.Millisecond),
		// Publishes while disconnected fail at once (and are retried)
		// rather than filling a buffer whose overflow is fatal.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			if err == nil || c.IsClosed() {
				return // closed by pcs, not lost
			}
			o.mu.Lock()
			defer o.mu.Unlock()
			if !o.since.IsZero() || o.gaveUp {
				return
			}
			o.since = time.Now()
			o.outages++
			fmt.Fprintf(o.log, "pcs: lost the connection to %s (%v); waiting up to %s for it (--reconnect-wait), then resuming\n", o.server, err, o.wait)
		}),
		// Socket errors of a lost connection are told by the disconnect
		// line above; others are printed as one line.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			var ne net.Error
			if err == nil || errors.As(err, &ne) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) {
				return
			}
			fmt.Fprintf(o.log, "pcs: NATS: %v\n", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.since.IsZero() {
				return
			}
			fmt.Fprintf(o.log, "pcs: reconnected to %s after %s; resuming\n", o.server, roundDuration(time.Since(o.since)))
			o.since = time.Time{}
		}),
	}
}

// watch closes nc once it has been disconnected for longer than wait;
// it returns at once, and stops with close.
func (o *outage) watch(nc *nats.Conn) {
	o.nc = nc
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-o.stop:
				return
			case <-t.C:
			}
			o.mu.Lock()
			expired := !o.since.IsZero() && time.Since(o.since) > o.wait
			if expired {
				o.gaveUp = true
			}
			o.mu.Unlock()
			if expired {
				nc.Close()
				return
			}
		}
	}()
}

// close stops the watch.
func (o *outage) close() {
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
}

// err returns the error that says the server stayed away, or nil when
// the policy did not give up.
func (o *outage) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.gaveUp {
		return nil
	}
	return fmt.Errorf("the NATS server %s was unreachable for %s (--reconnect-wait)", o.server, o.wait)
}
