package broker_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/pcs-dev/pcs/broker"
)

// Start an embedded broker, provision a pipeline's input stream, consumer and
// claim-check bucket, and provision again: the second run changes nothing.
func Example() {
	dir, err := os.MkdirTemp("", "pcs-broker-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	cfg := broker.DefaultConfig()
	cfg.StoreDir = dir
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Shutdown(ctx)

	nc, err := b.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := b.JetStream(nc)
	if err != nil {
		log.Fatal(err)
	}

	spec := broker.Spec{
		Streams: []broker.StreamSpec{{
			Name:      "ORDERS",
			Subjects:  []string{"orders.>"},
			Retention: broker.RetentionWorkQueue,
			Discard:   broker.DiscardNew, // full stream: publishers get backpressure
			MaxBytes:  1 << 30,
		}},
		Consumers: []broker.ConsumerSpec{{
			Stream:        "ORDERS",
			Durable:       "enrich",
			AckWait:       30 * time.Second,
			MaxDeliver:    5,
			MaxAckPending: 256,
		}},
		ObjectStores: []broker.ObjectStoreSpec{{Bucket: "claims"}},
	}
	for range 2 {
		rep, err := broker.Provision(ctx, js, spec)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rep)
	}
	// Output:
	// stream "ORDERS": created
	// object store "claims": created
	// consumer "enrich" on stream "ORDERS": created
	// stream "ORDERS": unchanged
	// object store "claims": unchanged
	// consumer "enrich" on stream "ORDERS": unchanged
}
