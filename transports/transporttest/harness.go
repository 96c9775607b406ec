package transporttest

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
)

// Harness describes the transport under test to Run.
type Harness struct {
	// Open prepares a fresh, empty place for one sub-test (a file name in
	// t.TempDir(), a subject with its stream) and returns how to write to
	// and read from it. Run calls it once per sub-test, with that
	// sub-test's t; resources are released with t.Cleanup.
	//
	// mem is a memory.CheckedAllocator that also holds every batch the
	// suite builds: pass it to the transport when it takes an allocator.
	// Run asserts that nothing allocated from it is left when the
	// sub-test ends (after the cleanups registered by Open), so a sink
	// that keeps a batch it retained, or a source that leaks a buffer,
	// fails.
	Open func(t *testing.T, mem memory.Allocator) Endpoint

	// Caps says what the transport supports.
	Caps Capabilities

	// IgnoreGoroutines lists substrings of goroutine stacks that the
	// Cancel sub-tests do not count as leaked: the goroutines of an
	// in-process server, which come and go with its own work
	// ("nats-server/v2/server."). Goroutines of the transport's client
	// code must not be listed.
	IgnoreGoroutines []string

	// Skip lists sub-tests not to run, by name below Run (as printed by
	// go test, without the Run test's own name: "RoundTrip/int8",
	// "Cancel/Write", "SchemaMismatch"), each with the reason, which Run
	// passes to t.Skip. A name also skips the sub-tests below it. Use it
	// for known failures of a transport, naming the problem, or to leave
	// out what another run of the suite covers already.
	Skip map[string]string
}

// Endpoint is one place of a transport, as returned by Harness.Open.
type Endpoint struct {
	// NewSink returns a Sink bound to schema that writes to the place,
	// replacing what a previous sink wrote there.
	NewSink func(schema *arrow.Schema) (transports.Sink, error)

	// NewSource returns a Source that reads back what the last sink of
	// the place wrote, after that sink's Close returned nil. schema is
	// the schema that was written: a transport that cannot learn the
	// types from its data (CSV) may read with it as an explicit schema.
	NewSource func(schema *arrow.Schema) (transports.Source, error)

	// NewAckSource is required when the transport's Sources are
	// transports.Ackers (sources with delivery semantics, such as a
	// JetStream consumer), and nil otherwise. It returns a Source, which
	// must be a transports.Acker, over the place's one delivery state
	// (a durable consumer): every Source it returns shares it, so that
	// what one Source acked is not delivered to the next, and what one
	// read and did not ack is delivered again after Caps.AckWait. The
	// Acker sub-tests use it.
	NewAckSource func(schema *arrow.Schema) (transports.Source, error)
}

// Nacker is implemented by a transports.Acker that can also give back
// every batch read since the last Ack, for redelivery at once instead of
// after the ack wait (natsjs.Source). The Acker/Nak sub-test runs for
// sources that implement it.
//
// It lives here until package transports adopts it next to Acker.
type Nacker interface {
	transports.Acker
	Nak(ctx context.Context) error
}

// Capabilities declares what a transport can do; the suite tests exactly
// that.
type Capabilities struct {
	// Types lists the Arrow types the transport round-trips exactly (type
	// and values): one RoundTrip sub-test runs per type, and one with all
	// of them in one schema. Every type must be one the suite can
	// generate data for (see AllTypes); the suite fails otherwise.
	Types []arrow.DataType

	// EmptyIsNull says that empty strings and empty binary values read
	// back as null (CSV cannot tell an empty cell from a missing one).
	// The suite then generates no empty values.
	EmptyIsNull bool

	// Unbound says that the Sink accepts batches of any schema (a subject
	// sink, whose every partition carries its own schema): the
	// SchemaMismatch sub-test is skipped.
	Unbound bool

	// CloseIdempotent says that the transport promises that a second
	// Close of a Source or a Sink returns nil. The Close sub-test checks
	// it only then.
	CloseIdempotent bool

	// AckWait is, for a transport with Endpoint.NewAckSource, the time
	// after which a batch read and neither acked nor given back is
	// delivered again (the consumer's ack wait). Keep it short (1 to 2
	// s): the Acker sub-tests wait for it.
	AckWait time.Duration
}
