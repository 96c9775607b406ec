package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// emitter publishes what the plan's Step made of one partition and waits
// for the publish acks. It releases out and returns the ids published.
// One is chosen per pipeline when it is built: outputs (results and late
// rows) or, for fleet windows, shards (partials by shard, then late rows).
type emitter interface {
	emit(ctx context.Context, p *natsjs.Partition, id string, out plan.Output) ([]string, error)
}

// outputs publishes results to the sink subject (ids <pipeline>/<input>/<j>
// for parts j = 0..n-1, one part unless the output exceeds the server's
// max_payload) and late rows to <pipeline>.late (ids
// <pipeline>/<input>/<1+j>: the late stream holds only late rows, so the
// two numberings never meet in one stream's duplicate window).
type outputs struct {
	pipeline string
	results  *natsjs.Publisher
	late     *natsjs.Publisher // nil without the window system
	m        *Metrics
}

func (o *outputs) emit(ctx context.Context, _ *natsjs.Partition, id string, out plan.Output) ([]string, error) {
	return o.publishParts(ctx,
		func(j int) string { return natsjs.OutputID(o.pipeline, id, j) },
		func(j int) string { return natsjs.OutputID(o.pipeline, id, 1+j) },
		id, out.Results, out.Late)
}

// publish publishes results and late rows under their ids (the parts of
// an output too large for one message get natsjs.PartID ids), each
// unless nil or empty, with lineage, waits for their acks, releases both
// and returns the ids published.
func (o *outputs) publish(ctx context.Context, resultsID, lateID, lineage string, results, late arrow.RecordBatch) ([]string, error) {
	return o.publishParts(ctx,
		func(j int) string { return natsjs.PartID(resultsID, j) },
		func(j int) string { return natsjs.PartID(lateID, j) },
		lineage, results, late)
}

// publishParts is publish with the id of each part j of the results and
// of the late rows given by resultsID(j) and lateID(j).
func (o *outputs) publishParts(ctx context.Context, resultsID, lateID func(int) string, lineage string, results, late arrow.RecordBatch) ([]string, error) {
	var done []string
	for _, rec := range []arrow.RecordBatch{results, late} {
		if rec != nil {
			defer rec.Release()
		}
	}
	for _, b := range []struct {
		id  func(int) string
		rec arrow.RecordBatch
		pub *natsjs.Publisher
	}{{resultsID, results, o.results}, {lateID, late, o.late}} {
		if b.rec == nil || b.rec.NumRows() == 0 {
			continue
		}
		pds, err := b.pub.PublishParts(ctx, []arrow.RecordBatch{b.rec}, natsjs.Meta{Lineage: []string{lineage}}, b.id)
		if err = waitParts(ctx, pds, err); err != nil {
			return nil, fmt.Errorf("publish %s: %w", b.id(0), err)
		}
		for _, pd := range pds {
			done = append(done, pd.ID())
		}
		if b.pub == o.late {
			o.m.lateRows.WithLabelValues(o.pipeline).Add(float64(b.rec.NumRows()))
		}
	}
	return done, nil
}

// Fence kinds: every output a node publishes is fenced (natsjs.WithFence)
// under natsjs.FencePrefix(pipeline, kind), so it is stored once, ever:
// a node that lost its claim on a partition (paused past ack_wait, cut
// off) and publishes its outputs after another node did is rejected by
// the server, whenever it wakes up, not only within the duplicate window.
const (
	fenceOut      = "out"      // the sink's results (and fleet windows' results)
	fenceLate     = "late"     // <pipeline>.late
	fencePartials = "partials" // fleet windows' partials
)

// waitParts waits for the parts PublishParts returned. An output fenced
// before (natsjs.ErrFenced: this partition's outputs were stored by an
// earlier attempt) counts as published: its rows are in the stream.
func waitParts(ctx context.Context, pds []*natsjs.Pending, err error) error {
	for _, pd := range pds {
		if _, werr := pd.Wait(ctx); werr != nil && err == nil {
			err = werr
		}
	}
	if errors.Is(err, natsjs.ErrFenced) {
		return nil
	}
	return err
}

// shards routes a partition's partial aggregates to the shard subjects
// <pipeline>.partials.<s> (ids <pipeline>/<input>/<2+s>, parts of a
// large one natsjs.PartID of it, every shard, empty ones too, each
// carrying the rows' event-time bound in Pcs-Watermark so each owner's
// watermark moves), then publishes its late rows as outputs does.
type shards struct {
	pipeline string
	partials []*natsjs.Publisher // index = shard
	late     *outputs
	cat      *catalog.Catalog
}

func (s *shards) emit(ctx context.Context, p *natsjs.Partition, id string, out plan.Output) ([]string, error) {
	defer func() {
		for _, b := range out.Partials {
			b.Release()
		}
	}()
	wm := out.Bound
	if m, _ := p.Meta(); m.IsEndOfInput() {
		if err := s.awaitEarlier(ctx, id); err != nil {
			if out.Late != nil {
				out.Late.Release()
			}
			return nil, err
		}
		wm = natsjs.EndOfInput
	}
	var ids []string
	for sh, batch := range out.Partials {
		outID := natsjs.OutputID(s.pipeline, id, 2+sh)
		pds, err := s.partials[sh].PublishParts(ctx, []arrow.RecordBatch{batch}, natsjs.Meta{Lineage: []string{id}, Watermark: wm},
			func(j int) string { return natsjs.PartID(outID, j) })
		if err = waitParts(ctx, pds, err); err != nil {
			if out.Late != nil {
				out.Late.Release()
			}
			return nil, fmt.Errorf("publish %s: %w", outID, err)
		}
		ids = append(ids, outID)
	}
	late, err := s.late.publishParts(ctx, nil, func(j int) string { return natsjs.OutputID(s.pipeline, id, 1+j) }, id, nil, out.Late)
	return append(ids, late...), err
}

// awaitEarlier waits until the catalog has every earlier partition of the
// producer of partition id ("<source>/<seq>", sequences from 1) as done,
// so that a producer's final watermark reaches the shards after all its
// partials: the fleet processes partitions concurrently, and a final
// watermark that overtook earlier partitions would fire their windows
// before their rows arrived. The partition stays alive meanwhile
// (InProgress).
func (s *shards) awaitEarlier(ctx context.Context, id string) error {
	i := strings.LastIndexByte(id, '/')
	n, err := strconv.ParseUint(id[i+1:], 10, 64)
	if i <= 0 || err != nil {
		return nil // not a producer's "<source>/<seq>" id: nothing to order against
	}
	source := id[:i]
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for k := uint64(1); k < n; {
		if s.cat.IsDone(s.pipeline, natsjs.PartitionID(source, k)) {
			k++
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
