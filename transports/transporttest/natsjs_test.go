package transporttest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/broker/brokertest"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/natsjs"
	"github.com/pcs-dev/pcs/transports/transporttest"
)

// natsAckWait is the ack wait of the Acker sub-tests' consumers.
const natsAckWait = 2 * time.Second

// TestNatsJS runs the suite against natsjs.Publisher (Sink) and
// natsjs.Source over one in-process JetStream server; each sub-test gets
// its own stream and subject.
func TestNatsJS(t *testing.T) {
	js := startJetStream(t)
	warmUp(t, js)
	n := 0
	transporttest.Run(t, transporttest.Harness{
		Open: func(t *testing.T, mem memory.Allocator) transporttest.Endpoint {
			n++
			name, subject := fmt.Sprintf("S%d", n), fmt.Sprintf("conformance.%d", n)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name:       name,
				Subjects:   []string{subject},
				Storage:    jetstream.FileStorage,
				Duplicates: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { js.DeleteStream(context.Background(), name) })
			return transporttest.Endpoint{
				NewSink: func(*arrow.Schema) (transports.Sink, error) {
					if err := st.Purge(context.Background()); err != nil {
						return nil, err
					}
					return natsjs.NewPublisher(js, subject, natsjs.WithSourceID(name))
				},
				NewSource: func(*arrow.Schema) (transports.Source, error) {
					cons, err := st.CreateOrUpdateConsumer(context.Background(), jetstream.ConsumerConfig{
						AckPolicy: jetstream.AckExplicitPolicy,
						AckWait:   30 * time.Second,
					})
					if err != nil {
						return nil, err
					}
					return natsjs.NewSource(cons, js, natsjs.WithAllocator(mem))
				},
				// One durable consumer per place: its delivery state
				// outlives each Source.
				NewAckSource: func(*arrow.Schema) (transports.Source, error) {
					cons, err := st.CreateOrUpdateConsumer(context.Background(), jetstream.ConsumerConfig{
						Durable:   "acker",
						AckPolicy: jetstream.AckExplicitPolicy,
						AckWait:   natsAckWait,
					})
					if err != nil {
						return nil, err
					}
					return natsjs.NewSource(cons, js, natsjs.WithAllocator(mem))
				},
			}
		},
		// The server's goroutines come and go with its streams and
		// consumers; the client's are counted.
		IgnoreGoroutines: []string{"nats-server/v2/server."},

		Caps: transporttest.Capabilities{
			Types:           transporttest.AllTypes(),
			Unbound:         true, // every partition carries its own schema
			CloseIdempotent: true,
			AckWait:         natsAckWait,
		},
	})
}

// startJetStream starts an in-process nats-server with JetStream (file
// store in a temp dir) and returns a JetStream context on an in-process
// connection; both are closed by t.Cleanup.
func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	return brokertest.JetStream(t, brokertest.Start(t))
}

// warmUp makes the JetStream context set up what it keeps for the life
// of the connection (the async publish reply subscription and its
// reconnect listener), so that the Cancel sub-tests do not count them
// as leaked.
func warmUp(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WARMUP", Subjects: []string{"warmup"}}); err != nil {
		t.Fatal(err)
	}
	paf, err := js.PublishAsync("warmup", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-paf.Ok():
	case err := <-paf.Err():
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}
