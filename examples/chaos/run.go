package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Workload of one run: partitions of rows, published at a steady pace in
// the background while the fault plays out.
const (
	partitions = 60
	rowsPer    = 500
	pace       = 60 * time.Millisecond
	faultAt    = partitions / 3 // published partitions before the fault
)

// outcome is what one run of one fault measured.
type outcome struct {
	Lost, Duplicated, Unexpected int64
	Divergent                    int           // nodes whose catalog disagrees with the input
	DeadLettered                 int64         // partitions in the DLQ
	Recovery                     time.Duration // fault injected until everything published before it was done
	Err                          error
}

// run is one repetition of one scenario: a fresh broker and fleet.
type run struct {
	f         *fleet
	published atomic.Int64
	malformed int64 // partitions the scenario published that must be dead-lettered
	injected  time.Time
	pubAt     int64
	recovered chan time.Duration // the recovery, once measured
	release   chan struct{}      // if set before inject: closed when the fault ends; the recovery target is taken a second later
}

// inject records the moment of the fault and starts measuring the
// recovery while the fault plays out: the time until the fleet's catalog
// has done every partition published up to one second after the fault
// (with the fleet unharmed, about that second: the baseline).
func (r *run) inject(ctx context.Context) {
	r.injected = time.Now()
	r.pubAt = r.published.Load()
	r.recovered = make(chan time.Duration, 1)
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(recoveryWindow):
		}
		if r.release != nil {
			select {
			case <-ctx.Done():
				return
			case <-r.release:
			}
			time.Sleep(recoveryWindow)
		}
		target := r.published.Load()
		for ctx.Err() == nil {
			if r.f.done(ctx) >= target {
				r.recovered <- time.Since(r.injected)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

// recoveryWindow: the recovery is measured on the partitions published
// up to this long after the fault.
const recoveryWindow = time.Second

// scenario is one row of the table.
type scenario struct {
	name  string
	fault func(ctx context.Context, r *run) error
	// net: each node runs in its own network namespace (a lab);
	// storeMiB: the broker's store is a tmpfs this big.
	net      bool
	storeMiB int
	// skip says why the row cannot run on this machine ("" if it can).
	skip func() string
}

func runOnce(ctx context.Context, o options, sc scenario) (res outcome) {
	ctx, cancel := context.WithCancel(ctx) // ends the run's background pollers
	defer cancel()
	work, err := os.MkdirTemp(o.work, "run-")
	if err != nil {
		return outcome{Err: err}
	}
	defer func() {
		if res.Err == nil && !o.keep {
			os.RemoveAll(work)
		} else if res.Err != nil {
			res.Err = fmt.Errorf("%w (logs in %s)", res.Err, work)
		}
	}()
	r := &run{f: &fleet{bin: o.bin, work: work, config: filepath.Join(o.repo, "examples", "chaos", "chaos.toml"), storeMiB: sc.storeMiB}}
	if sc.net {
		l, err := newLab(3)
		defer l.close() // after stop: the processes go first
		if err != nil {
			return outcome{Err: fmt.Errorf("network namespaces: %w", err)}
		}
		r.f.lab = l
	}
	defer r.f.stop()
	if err := r.f.start(ctx); err != nil {
		return outcome{Err: err}
	}
	if err := r.f.startNodes(ctx); err != nil {
		return outcome{Err: err}
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	pubErr := make(chan error, 1)
	go func() { pubErr <- r.publish(pubCtx) }()
	if err := waitUntil(ctx, time.Minute, "the first partitions published", func() bool { return r.published.Load() >= faultAt }); err != nil {
		return outcome{Err: err}
	}
	if err := sc.fault(ctx, r); err != nil {
		return outcome{Err: fmt.Errorf("fault: %w", err)}
	}
	if r.injected.IsZero() {
		return outcome{Err: errors.New("the fault did not say when it was injected")}
	}
	select {
	case res.Recovery = <-r.recovered:
	case <-time.After(3 * time.Minute):
		return outcome{Err: errors.New("the partitions published before the fault were not done within 3 minutes")}
	}
	if err := <-pubErr; err != nil {
		return outcome{Err: fmt.Errorf("publish: %w", err)}
	}
	if err := waitUntil(ctx, 3*time.Minute, "every partition done", func() bool { return r.f.done(ctx) >= partitions }); err != nil {
		return outcome{Err: err}
	}
	res.Lost, res.Duplicated, res.Unexpected, err = r.checkSink(ctx)
	if err != nil {
		return outcome{Err: err}
	}
	res.DeadLettered, res.Divergent, err = r.checkCatalog(ctx)
	if err != nil {
		return outcome{Err: err}
	}
	if res.DeadLettered != r.malformed {
		res.Err = fmt.Errorf("%d partitions dead-lettered, want the %d malformed ones", res.DeadLettered, r.malformed)
	}
	return res
}

var schema = arrow.NewSchema([]arrow.Field{{Name: "row_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

// publish writes partitions src/1..src/N, each with the deterministic id
// of its sequence, retrying a failed one (a broker restart) with the same
// id until it is stored.
func (r *run) publish(ctx context.Context) error {
	for k := int64(1); k <= partitions; k++ {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := range int64(rowsPer) {
			rb.Field(0).(*array.Int64Builder).Append((k-1)*rowsPer + i)
			rb.Field(1).(*array.Int64Builder).Append(i)
		}
		rec := rb.NewRecordBatch()
		rb.Release()
		for attempt := 0; ; attempt++ {
			err := func() error {
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				pub, err := natsjs.NewPublisher(r.f.js, inSubject, natsjs.WithSourceID("src"), natsjs.WithStartSeq(uint64(k)))
				if err != nil {
					return err
				}
				if err := pub.Write(pctx, rec); err != nil {
					_ = pub.Close(pctx)
					return err
				}
				return pub.Close(pctx)
			}()
			if err == nil {
				break
			}
			if ctx.Err() != nil || attempt > 600 {
				rec.Release()
				return fmt.Errorf("partition %d: %w", k, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rec.Release()
		r.published.Store(k)
		time.Sleep(pace)
	}
	return nil
}

// checkSink reads the whole sink and counts row ids: lost (expected, never
// seen), duplicated (seen more than once: extra copies) and unexpected
// (not an input row id).
func (r *run) checkSink(ctx context.Context) (lost, dup, unexpected int64, err error) {
	js := r.f.js
	s, err := js.Stream(ctx, outStream)
	if err != nil {
		return 0, 0, 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	last := info.State.LastSeq
	cons, err := js.OrderedConsumer(ctx, outStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{outSubject}})
	if err != nil {
		return 0, 0, 0, err
	}
	seen := make([]int32, partitions*rowsPer)
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			break
		}
		if err != nil {
			return 0, 0, 0, err
		}
		recs, err := natsjs.NewPartition(msg).Decode(ctx, js, nil)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("decode a sink message: %w", err)
		}
		for _, rec := range recs {
			idx := rec.Schema().FieldIndices("row_id")
			if len(idx) == 0 {
				rec.Release()
				return 0, 0, 0, errors.New("a sink message without row_id")
			}
			ids := rec.Column(idx[0]).(*array.Int64)
			for i := range ids.Len() {
				id := ids.Value(i)
				if id < 0 || id >= int64(len(seen)) {
					unexpected++
					continue
				}
				seen[id]++
			}
			rec.Release()
		}
		if md, err := msg.Metadata(); err == nil && md.Sequence.Stream >= last {
			break
		}
	}
	for _, n := range seen {
		switch {
		case n == 0:
			lost++
		case n > 1:
			dup += int64(n - 1)
		}
	}
	return lost, dup, unexpected, nil
}

// checkCatalog compares every node's catalog with the input (partitions
// done, rows) once they converged, and counts the dead letters.
func (r *run) checkCatalog(ctx context.Context) (dead int64, divergent int, err error) {
	want := func(ps catalog.PipelineStatus) bool {
		return ps.Counters.Done == partitions && ps.Counters.Rows == partitions*rowsPer
	}
	_ = waitUntil(ctx, 20*time.Second, "the catalogs to converge", func() bool {
		for _, m := range r.f.nodes {
			st, err := status(ctx, m)
			if err != nil || st.Catalog == nil {
				return false
			}
			if ps, ok := st.Catalog.Pipeline(pipeline); !ok || !want(ps) {
				return false
			}
		}
		return true
	})
	for _, m := range r.f.nodes {
		st, err := status(ctx, m)
		if err != nil || st.Catalog == nil {
			divergent++
			continue
		}
		if ps, ok := st.Catalog.Pipeline(pipeline); !ok || !want(ps) {
			divergent++
		}
	}
	s, err := r.f.js.Stream(ctx, natsjs.DLQStream(inStream))
	if err != nil {
		return 0, divergent, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, divergent, err
	}
	return int64(info.State.Msgs), divergent, nil
}

// restart starts a stopped member again (same directory: it keeps its
// Raft state) and waits until it is ready.
func (r *run) restart(ctx context.Context, m *member) error { return r.f.startNode(ctx, m) }

// restartAll starts every stopped member at once (a node is ready only
// once the catalog has a leader, which takes two of them).
func (r *run) restartAll(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(r.f.nodes))
	for i, m := range r.f.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.f.startNode(ctx, m) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// forge sends, without the fleet key, partition_done for the partitions
// not yet published: an open catalog would apply them and the fleet would
// ack those partitions unprocessed.
func (r *run) forge() error {
	for k := r.published.Load() + 1; k <= partitions; k++ {
		cmd := catalog.NewPartitionDone(catalog.PartitionRecord{Pipeline: pipeline, ID: natsjs.PartitionID("src", uint64(k)),
			Status: catalog.StatusDone, Rows: rowsPer, Node: "mallory", Time: time.Now()})
		body, err := json.Marshal(map[string]any{"op": "apply", "commands": []catalog.Command{cmd}})
		if err != nil {
			return err
		}
		if _, err := r.f.nc.Request("pcs.catalog.chaos._any", body, 5*time.Second); err != nil {
			return fmt.Errorf("forged request: %w", err)
		}
	}
	return nil
}

// stop pauses or resumes members.
func signalAll(s syscall.Signal, ms ...*member) {
	for _, m := range ms {
		m.p().Signal(s)
	}
}
