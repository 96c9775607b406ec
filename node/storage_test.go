package node

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/plan"
)

// TestOutputMaxBytesFitsSmallStore: on a 64 MiB store the default
// output.max_bytes (1GiB) is refused by the server (10047); lowered by
// fitOutputMaxBytes it is accepted, a value the config chose is kept, and
// the refusal of one that does not fit is a one-line reason naming the
// settings.
func TestOutputMaxBytesFitsSmallStore(t *testing.T) {
	const store = 64 << 20
	b := brokertest.Start(t, func(c *broker.Config) { c.MaxStore = store })
	js := brokertest.JetStream(t, b)
	n := &Node{js: js, broker: b}
	ctx := context.Background()
	if got := n.storeLimit(ctx); got != store {
		t.Fatalf("storeLimit = %d, want %d", got, store)
	}

	pipes := []plan.Pipeline{{Name: "a"}, {Name: "b"}, {Name: "c", Output: plan.OutputConfig{MaxBytes: 8 << 20}}}
	for i := range pipes {
		pipes[i].SetDefaults()
	}
	streams := func(name string, maxBytes plan.Size) error {
		_, err := broker.Provision(ctx, js, broker.Spec{Streams: []broker.StreamSpec{{Name: name, Subjects: []string{strings.ToLower(name)}, MaxBytes: int64(maxBytes), Discard: broker.DiscardNew}}})
		return err
	}
	// Today's default does not fit.
	err := streams("DEFAULT", pipes[0].Output.MaxBytes)
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10047 {
		t.Fatalf("1GiB stream on a 64 MiB store: %v, want API error 10047", err)
	}
	msg := storageError(err, store).Error()
	if !errors.Is(storageError(err, store), ErrConfig) || !strings.Contains(msg, "output.max_bytes") || !strings.Contains(msg, "64 MiB") || strings.Contains(msg, "\n") {
		t.Errorf("storage error %q: want one line naming output.max_bytes and the store", msg)
	}

	fitOutputMaxBytes(pipes, n.storeLimit(ctx), slog.New(slog.DiscardHandler))
	if got := pipes[0].Output.MaxBytes; got != store/2/2 {
		t.Errorf("fitted default = %d, want %d (half the store over two defaulted pipelines)", got, store/2/2)
	}
	if got := pipes[2].Output.MaxBytes; got != 8<<20 {
		t.Errorf("a configured max_bytes changed to %d", got)
	}
	for i, p := range pipes {
		if err := streams("OUT"+string(rune('A'+i)), p.Output.MaxBytes); err != nil {
			t.Fatalf("pipeline %s, max_bytes %d: %v", p.Name, p.Output.MaxBytes, err)
		}
	}
	if err := storageError(errors.New("other"), store); err.Error() != "other" {
		t.Errorf("other errors pass unchanged: %v", err)
	}
}
