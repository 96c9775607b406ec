package pcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Source produces a pipeline's input datasets for a Scheduler, one per
// call; it returns io.EOF when exhausted. Ownership of a returned dataset
// passes to the scheduler. It is called on the pipeline's goroutine.
type Source func(ctx context.Context) (*Dataset, error)

// Sink receives a pipeline's output after each run (and after a skip,
// with the empty input). ds is borrowed for the call; Clone it to keep it.
// An error stops the scheduler.
type Sink func(ctx context.Context, ds *Dataset) error

// ScheduleMode says how a Scheduler runs its pipelines.
type ScheduleMode int

const (
	// Sequential runs ticks on one goroutine: in each tick every pipeline
	// runs once, in dependency order.
	Sequential ScheduleMode = iota
	// Concurrent runs each pipeline on its own goroutine; edges synchronize
	// them, and a full queue blocks its producer.
	Concurrent
)

// Scheduler drives several pipelines in one process. A pipeline's input
// is its Source or the output of the pipeline feeding it (Feed). Edges:
//
//   - order (After): B's k-th run starts after A's k-th run ended;
//   - data (Feed): A's outputs go to B through a bounded queue; when the
//     queue is full, A blocks (backpressure: nothing is dropped); when A's
//     output has no live rows, B is skipped for that tick and the empty
//     dataset flows on.
//
// A pipeline stops when its source returns io.EOF or an upstream pipeline
// stopped; Run returns when all have stopped, or at the first error.
type Scheduler struct {
	mode  ScheduleMode
	nodes map[string]*schedNode
	order []string // Add order
}

type schedNode struct {
	p     *Pipeline
	src   Source
	sink  Sink
	in    []*schedEdge
	out   []*schedEdge
	done  bool
	stats PipelineStats
	mu    sync.Mutex // guards stats during Concurrent runs
}

type schedEdge struct {
	from, to string
	data     bool
	ch       chan *Dataset // data: the dataset; order: nil tokens
}

// PipelineStats counts what a Scheduler did with one pipeline.
type PipelineStats struct {
	Runs        int           // pipeline runs
	Skipped     int           // ticks skipped because the data input had no live rows
	Rows        int           // input rows over all runs
	Blocked     int           // sends that found a downstream queue full and waited
	BlockedTime time.Duration // total time spent waiting on full queues
}

// NewScheduler returns an empty scheduler.
func NewScheduler(mode ScheduleMode) *Scheduler {
	return &Scheduler{mode: mode, nodes: map[string]*schedNode{}}
}

// Add registers pipeline p under p.Name() with an optional source (nil for
// a pipeline fed by Feed) and an optional sink.
func (s *Scheduler) Add(p *Pipeline, src Source, sink Sink) error {
	if _, dup := s.nodes[p.Name()]; dup {
		return fmt.Errorf("%w: scheduler: pipeline %q added twice", ErrBuild, p.Name())
	}
	s.nodes[p.Name()] = &schedNode{p: p, src: src, sink: sink}
	s.order = append(s.order, p.Name())
	return nil
}

// After adds an order edge: b runs after a in every tick.
func (s *Scheduler) After(b, a string) error { return s.edge(a, b, false, 1) }

// Feed adds a data edge: a's outputs become b's inputs through a queue of
// capacity datasets (>= 1).
func (s *Scheduler) Feed(a, b string, capacity int) error {
	if capacity < 1 {
		return fmt.Errorf("%w: scheduler: queue %s -> %s: capacity %d < 1", ErrBuild, a, b, capacity)
	}
	return s.edge(a, b, true, capacity)
}

func (s *Scheduler) edge(a, b string, data bool, capacity int) error {
	na, nb := s.nodes[a], s.nodes[b]
	if na == nil || nb == nil || a == b {
		return fmt.Errorf("%w: scheduler: edge %q -> %q needs two distinct added pipelines", ErrBuild, a, b)
	}
	if data && (nb.src != nil || nb.dataIn() != nil) {
		return fmt.Errorf("%w: scheduler: pipeline %q already has an input", ErrBuild, b)
	}
	e := &schedEdge{from: a, to: b, data: data, ch: make(chan *Dataset, capacity)}
	na.out = append(na.out, e)
	nb.in = append(nb.in, e)
	return nil
}

func (n *schedNode) dataIn() *schedEdge {
	for _, e := range n.in {
		if e.data {
			return e
		}
	}
	return nil
}

// Stats returns the counters of pipeline name (zero if unknown). Safe to
// call during Run.
func (s *Scheduler) Stats(name string) PipelineStats {
	n := s.nodes[name]
	if n == nil {
		return PipelineStats{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Run drives the pipelines until every one has stopped. It returns the
// first error (a source, pipeline or sink error, or ctx's), after which
// queued datasets are released. A scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	topo, err := s.plan()
	if err != nil {
		return err
	}
	defer s.drain()
	if s.mode == Concurrent {
		g, gctx := errgroup.WithContext(ctx)
		for _, n := range topo {
			g.Go(func() error {
				defer n.closeOut()
				for !n.done {
					if err := s.step(gctx, n); err != nil {
						return err
					}
				}
				return nil
			})
		}
		return g.Wait()
	}
	for {
		running := false
		for _, n := range topo {
			if n.done {
				continue
			}
			if err := s.step(ctx, n); err != nil {
				return err
			}
			if n.done {
				n.closeOut()
			}
			running = running || !n.done
		}
		if !running {
			return nil
		}
	}
}

// plan checks inputs and cycles and returns the pipelines in dependency
// order (ties in Add order).
func (s *Scheduler) plan() ([]*schedNode, error) {
	var topo []*schedNode
	indeg := map[string]int{}
	for _, name := range s.order {
		n := s.nodes[name]
		if n.src == nil && n.dataIn() == nil {
			return nil, fmt.Errorf("%w: scheduler: pipeline %q has no source and no Feed", ErrBuild, name)
		}
		indeg[name] = len(n.in)
	}
	for len(topo) < len(s.order) {
		progressed := false
		for _, name := range s.order {
			if indeg[name] != 0 {
				continue
			}
			indeg[name] = -1
			n := s.nodes[name]
			topo = append(topo, n)
			for _, e := range n.out {
				indeg[e.to]--
			}
			progressed = true
		}
		if !progressed {
			return nil, fmt.Errorf("%w: scheduler: the edges form a cycle", ErrBuild)
		}
	}
	return topo, nil
}

// step is one tick of pipeline n: take the input, run (or skip), sink, and
// pass the output on. It sets n.done when an input is exhausted.
func (s *Scheduler) step(ctx context.Context, n *schedNode) error {
	var ds *Dataset
	if n.src != nil {
		in, err := n.src(ctx)
		if errors.Is(err, io.EOF) {
			n.done = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("pcs: scheduler: source of %q: %w", n.p.Name(), err)
		}
		ds = in
	}
	for _, e := range n.in {
		var got *Dataset
		var ok bool
		select {
		case got, ok = <-e.ch:
		case <-ctx.Done():
			ok = false
		}
		if !ok {
			n.done = true
			if ds != nil {
				ds.Release()
			}
			return ctx.Err()
		}
		if e.data {
			ds = got
		}
	}
	skip := n.dataIn() != nil && ds.Live() == 0
	if !skip {
		if _, err := n.p.Run(ctx, ds); err != nil {
			ds.Release()
			return err
		}
	}
	n.mu.Lock()
	if skip {
		n.stats.Skipped++
	} else {
		n.stats.Runs++
		n.stats.Rows += ds.Len()
	}
	n.mu.Unlock()
	if n.sink != nil {
		if err := n.sink(ctx, ds); err != nil {
			ds.Release()
			return fmt.Errorf("pcs: scheduler: sink of %q: %w", n.p.Name(), err)
		}
	}
	return s.send(ctx, n, ds)
}

// send passes ds to every out-edge (clones for all data edges but the
// last, which takes ds), blocking on full queues.
func (s *Scheduler) send(ctx context.Context, n *schedNode, ds *Dataset) error {
	last := -1
	for i, e := range n.out {
		if e.data {
			last = i
		}
	}
	if last < 0 {
		ds.Release()
	}
	for i, e := range n.out {
		var item *Dataset
		switch {
		case i == last:
			item = ds
		case e.data:
			item = ds.Clone()
		}
		select {
		case e.ch <- item:
			continue
		default:
		}
		t0 := time.Now()
		select {
		case e.ch <- item:
		case <-ctx.Done():
			if item != nil {
				item.Release()
			}
			return ctx.Err()
		}
		n.mu.Lock()
		n.stats.Blocked++
		n.stats.BlockedTime += time.Since(t0)
		n.mu.Unlock()
	}
	return nil
}

func (n *schedNode) closeOut() {
	for _, e := range n.out {
		close(e.ch)
	}
	n.out = nil
}

// drain releases datasets left in queues after an error.
func (s *Scheduler) drain() {
	for _, n := range s.nodes {
		for _, e := range n.in {
			for {
				select {
				case ds, ok := <-e.ch:
					if !ok {
						goto next
					}
					if ds != nil {
						ds.Release()
					}
				default:
					goto next
				}
			}
		next:
		}
	}
}
