package plan

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// Finisher is an optional interface of a pcs.System that needs all of its
// input before it can answer (a graph algorithm: pcs/graph.System). Its
// Run absorbs each partition's rows into its own state (usually
// checkpointed: pcs.Stateful); at the end of input the plan calls Finish
// and outputs its batch in place of the pipeline's rows. A Finisher must
// be the pipeline's last system (and excludes the window system); the
// plan's OutputSchema is then ResultSchema.
//
// The end of input is the same signal windows flush on: `pcs run`
// (package local) calls Plan.Flush after its last file; pcs-node steps
// a partition with Input.Final set (the producer's final watermark,
// natsjs end of input) and publishes the result with that partition's
// outputs. Partitions before it yield no rows. Finish may be called
// more than once (several producers' final watermarks); each call
// answers over everything seen so far.
//
// Finish is called on the goroutine of Step or Flush, never
// concurrently with Checkpoint or Restore (the node excludes them) but
// possibly with Run of another partition: a Finisher locks its state.
// The batch returned is the caller's to release. An error marked
// pcs.Permanent fails the partition for good.
type Finisher interface {
	pcs.System
	// ResultSchema is the schema of Finish's batches.
	ResultSchema() *arrow.Schema
	// Finish computes the result over every row Run absorbed, allocated
	// from mem.
	Finish(ctx context.Context, mem memory.Allocator) (arrow.RecordBatch, error)
}

// finisherOf returns the pipeline's Finisher (its last system), nil if
// none; a Finisher before the last system, or with a window system, is
// an ErrConfig.
func finisherOf(systems []pcs.System, withWindow bool) (Finisher, error) {
	for i, s := range systems {
		f, ok := s.(Finisher)
		if !ok {
			continue
		}
		if i != len(systems)-1 || withWindow {
			return nil, fmt.Errorf("%w: system %d (%q) answers at the end of input and must be the pipeline's last (and cannot be followed by a window)", ErrConfig, i+1, s.Meta().Name)
		}
		return f, nil
	}
	return nil, nil
}

// finish puts the Finisher's result in out at the end of input.
func (p *Plan) finish(ctx context.Context, final bool, out *Output) error {
	if !final {
		return nil
	}
	rec, err := p.finisher.Finish(ctx, p.mem)
	if err != nil {
		return err
	}
	out.Results = rec
	return nil
}
