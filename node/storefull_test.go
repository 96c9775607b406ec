package node_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// TestStoreFullReadiness: when JetStream refuses the node's writes for
// lack of store space (here its dead-letter publish of a corrupt
// partition, another stream having filled the store), /readyz
// says so and pcs_store_full is 1, the partition is kept (nak'ed, not
// dropped); once space returns the dead letter is stored and the node is
// ready again, with no restart.
func TestStoreFullReadiness(t *testing.T) {
	const store = 32 << 20
	b := brokertest.Start(t, brokertest.WithListener(), brokertest.WithServerOptions(func(o *server.Options) { o.JetStreamMaxStore = store }))
	cfg := testConfig(t, b.ClientURL())
	pc := &cfg.Pipelines[0]
	pc.Input.MaxBytes, pc.Output.MaxBytes = plan.Size(1<<20), plan.Size(1<<20)
	pc.Delivery.NakDelay = plan.Duration(3 * time.Second) // the refused dead letter is retried after 3 s
	first := startNode(t, cfg, registry(nil))             // provisions
	first.stop(t)
	js := brokertest.JetStream(t, b)
	ctx := context.Background()
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "in.p", Data: []byte("not arrow"), Header: nats.Header{natsjs.HeaderMsgID: {"bad/1"}}}); err != nil {
		t.Fatal(err)
	}
	// Fill what is left of the store (the input and output streams keep
	// their reservations).
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FILL", Subjects: []string{"fill"}}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{512 << 10, 32 << 10, 1 << 10, 64} { // to the last bytes
		chunk := make([]byte, size)
		for i := 0; ; i++ {
			if _, err := js.Publish(ctx, "fill", chunk); err != nil {
				if !strings.Contains(strings.ToLower(err.Error()), "insufficient resources") {
					t.Fatalf("filling the store: %v", err)
				}
				break
			}
			if i > 2*store/size {
				t.Fatal("the store never filled")
			}
		}
	}
	n := startNode(t, cfg, registry(nil))
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + n.HTTPAddr() + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	waitFor(t, func() bool {
		code, body := readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "store full")
	})
	if m := scrape(t, n.HTTPAddr()); !strings.Contains(m, "pcs_store_full 1") {
		t.Error("pcs_store_full is not 1 while writes are refused")
	}
	if err := js.DeleteStream(ctx, "FILL"); err != nil { // space returns
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		s, err := js.Stream(ctx, natsjs.DLQStream(pc.Input.Stream))
		return err == nil && s.CachedInfo().State.Msgs == 1
	})
	waitFor(t, func() bool { code, _ := readyz(); return code == http.StatusOK })
}
