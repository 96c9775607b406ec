package plan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/window"
)

// Plan is one [[pipeline]] section resolved against a Registry and ready
// to run: its components, the built pcs.Pipeline, the loaded resources,
// the output columns and, when the pipeline ends with the window system,
// the window operator and its state. `pcs run` (package local) and
// pcs-node (package node) both build a Plan from the same section and
// call Step once per partition, so one section means the same in both.
//
// Step may be called concurrently; the window operator (shared state) is
// driven by one Step at a time.
type Plan struct {
	name      string
	mem       memory.Allocator
	pipeline  *pcs.Pipeline // nil when the window system is the only one
	comps     []pcs.AnyComponent
	input     pcs.AnyComponent
	outSchema *arrow.Schema
	outCols   []colRef
	resources []func(*pcs.Dataset) error
	// window, when the pipeline ends with the window system: its spec and
	// the schema of the rows it gets (the pipeline's output columns);
	// outSchema is then the window results' schema.
	window   *window.Spec
	windowIn *arrow.Schema
	// shards > 0: fleet windows; Step returns partial aggregates by shard.
	shards int
	winMu  sync.Mutex       // win is driven by one Step at a time
	win    *window.Operator // nil without the window system
	// finisher, when the last system answers at the end of input (see
	// finish.go): outSchema is its ResultSchema.
	finisher Finisher
}

type colRef struct{ component, field string }

// Option configures Build.
type Option func(*Plan)

// WithoutShards computes windows in this process even when the window
// system has shards > 0 (`pcs run`: one process sees every row, so there
// is nothing to route).
func WithoutShards() Option { return func(p *Plan) { p.shards = 0 } }

// WithAllocator sets the allocator of datasets and outputs (default
// memory.DefaultAllocator).
func WithAllocator(mem memory.Allocator) Option { return func(p *Plan) { p.mem = mem } }

// Build resolves pc against reg: declared components, systems (built in
// order; they may define components), the pipeline's components, output
// columns, the window operator, and resources (loaded now, which may read
// files). Errors wrap ErrConfig or ErrUnknownName and say which system,
// resource or key is wrong.
func Build(ctx context.Context, pc Pipeline, reg *Registry, opts ...Option) (*Plan, error) {
	p := &Plan{name: pc.Name, mem: memory.DefaultAllocator}
	sc := &scope{reg: reg}
	for i, d := range pc.Declared {
		c, err := declare(d)
		if err != nil {
			return nil, fmt.Errorf("component %d (%q): %w", i+1, d.Name, err)
		}
		if err := sc.define(c); err != nil {
			return nil, err
		}
	}
	var systems []pcs.System
	var windowOpts *Options
	for i, u := range pc.Systems {
		if u.Use == WindowSystem {
			if i != len(pc.Systems)-1 {
				return nil, fmt.Errorf("%w: system %d (%q): the window system must be the pipeline's last", ErrConfig, i+1, u.Use)
			}
			windowOpts = &Options{where: fmt.Sprintf("system %d (%q)", i+1, u.Use), dir: pc.Dir, raw: u.Options, scope: sc, pipeline: pc.Name, state: pc.State}
			break
		}
		f, err := reg.system(u.Use)
		if err != nil {
			return nil, err
		}
		s, err := f(Options{where: fmt.Sprintf("system %d (%q)", i+1, u.Use), dir: pc.Dir, raw: u.Options, scope: sc, pipeline: pc.Name, state: pc.State})
		if err != nil {
			return nil, fmt.Errorf("system %q: %w", u.Use, err)
		}
		systems = append(systems, s)
	}
	listed := map[string]bool{}
	for _, name := range pc.Components {
		c, err := sc.component(name)
		if err != nil {
			return nil, err
		}
		listed[name] = true
		p.comps = append(p.comps, c)
	}
	for _, c := range sc.order {
		if !listed[c.Name()] {
			p.comps = append(p.comps, c)
		}
	}
	for _, c := range p.comps {
		if c.Name() == pc.Input.Component {
			p.input = c
		}
	}
	if p.input == nil {
		return nil, fmt.Errorf("%w: input.component %q is not a component of the pipeline (%v)", ErrConfig, pc.Input.Component, compNames(p.comps))
	}
	if err := p.planOutput(pc, sc); err != nil {
		return nil, err
	}
	var err error
	if p.finisher, err = finisherOf(systems, windowOpts != nil); err != nil {
		return nil, err
	} else if p.finisher != nil {
		p.outSchema = p.finisher.ResultSchema()
	}
	if windowOpts != nil {
		spec, out, shards, err := windowSpec(*windowOpts, p.outSchema)
		if err != nil {
			return nil, err
		}
		p.window, p.windowIn, p.outSchema, p.shards = &spec, p.outSchema, out, shards
	}
	if len(systems) > 0 { // none: a pipeline of only the window system
		var err error
		if p.pipeline, err = pcs.NewPipeline(pc.Name).Components(p.comps...).Retry(pc.RetryPolicy()).Add(systems...).Build(); err != nil {
			return nil, err
		}
	}
	for _, o := range opts {
		o(p)
	}
	if p.window != nil {
		var err error
		if p.win, err = p.NewWindow(); err != nil {
			return nil, err
		}
	}
	for i, u := range pc.Resources {
		f, err := reg.resource(u.Use)
		if err != nil {
			return nil, err
		}
		load, err := f(ctx, Options{where: fmt.Sprintf("resource %d (%q)", i+1, u.Use), dir: pc.Dir, raw: u.Options, scope: sc})
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", u.Use, err)
		}
		p.resources = append(p.resources, load)
	}
	return p, nil
}

// Name returns the pipeline's name.
func (p *Plan) Name() string { return p.name }

// OutputSchema is the schema of Output.Results: the output components'
// columns, or the window results (keys, window_start, window_end,
// aggregates, is_update) when the pipeline ends with the window system.
func (p *Plan) OutputSchema() *arrow.Schema { return p.outSchema }

// LateSchema is the schema of Output.Late (the rows the window system
// gets), or nil without the window system.
func (p *Plan) LateSchema() *arrow.Schema { return p.windowIn }

// InputSchema is the input component's schema: the columns a partition
// must have (others are dropped; see Step).
func (p *Plan) InputSchema() *arrow.Schema { return p.input.Schema() }

// Shards is the number of window shards Step routes partial aggregates
// to (0: none; the window, if any, is computed in Step).
func (p *Plan) Shards() int { return p.shards }

// Stages lists the systems of each stage in run order (the window
// system, if any, as a last stage of its own).
func (p *Plan) Stages() [][]string {
	var stages [][]string
	if p.pipeline != nil {
		stages = p.pipeline.Stages()
	}
	if p.window != nil {
		stages = append(stages, []string{WindowSystem})
	}
	return stages
}

// Systems returns the pipeline's systems in registration order (their
// Meta declares the fields each reads and writes), without the window
// system; nil for a pipeline of the window system alone.
func (p *Plan) Systems() []pcs.System {
	if p.pipeline == nil {
		return nil
	}
	return p.pipeline.Systems()
}

// Close releases what the plan's systems and window operator hold
// outside the Go heap (a Pebble state store: io.Closer systems,
// window.Operator.Close) and returns their errors joined. The plan must
// not Step afterwards.
func (p *Plan) Close() error {
	var errs []error
	for _, s := range p.Systems() {
		if c, ok := s.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	if p.win != nil {
		errs = append(errs, p.win.Close())
	}
	return errors.Join(errs...)
}

// WindowState reports the plan's window operator (computed in Step; none
// with shards or without a window system: ok false): its effective
// watermark (Unix ms, window.NoWatermark before any), the windows holding
// state and the keyed entries of that state (window.Operator.OpenWindows,
// Keys). It waits for a Step in progress to finish with the operator.
func (p *Plan) WindowState() (watermark int64, windows, keys int, ok bool) {
	if p.win == nil || p.shards > 0 {
		return 0, 0, 0, false
	}
	p.winMu.Lock()
	defer p.winMu.Unlock()
	return p.win.Watermark(), p.win.OpenWindows(), p.win.Keys(), true
}

// NewWindow returns a window operator with empty state for the plan's
// window system (fleet windows' shard owners each run one), or nil
// without a window system.
func (p *Plan) NewWindow() (*window.Operator, error) {
	if p.window == nil {
		return nil, nil
	}
	return window.New(*p.window, p.windowIn, p.mem)
}

// Input is one partition handed to Step.
type Input struct {
	// ID is the partition's id, inserted as the pcs.PartitionID resource
	// (systems that remember partitions, like dedupe across, key on it).
	ID string
	// Source is the producer the partition comes from: the window's
	// watermark is tracked per source (the minimum over sources counts).
	Source string
	// Batches are the partition's record batches; Step releases them.
	Batches []arrow.RecordBatch
	// Final marks the producer's end of input (its final watermark):
	// every window fires (with shards, Output.Bound is left to the
	// caller, who knows the end-of-input marker of its wire format).
	Final bool
}

// Output is what Step returns for one partition. The caller releases it
// (Release); any batch may be nil.
type Output struct {
	// RowsIn counts the partition's rows before the pipeline ran (set
	// even when Step fails after decoding them).
	RowsIn int64
	// Results are the output rows (OutputSchema): the pipeline's output
	// columns, or the windows that fired. nil with shards.
	Results arrow.RecordBatch
	// Late are rows too late for every window they belong to (LateSchema).
	Late arrow.RecordBatch
	// Partials (with shards) holds one batch of partial aggregates per
	// shard, index = shard, empty batches included (each shard's owner
	// must see every partition's event-time bound).
	Partials []arrow.RecordBatch
	// Bound (with shards) is the largest event time of the partials'
	// rows, zero when there is none.
	Bound time.Time
	// Stats are the pipeline's per-system run statistics.
	Stats pcs.RunStats
}

// Release releases every batch of o (nil-safe).
func (o Output) Release() {
	for _, b := range append([]arrow.RecordBatch{o.Results, o.Late}, o.Partials...) {
		if b != nil {
			b.Release()
		}
	}
}

// Step runs one partition through the plan: its batches become the input
// component of a new dataset (columns matched by name and cast: see
// conform), the resources and the partition id are inserted, the
// pipeline runs (with its retry policy), the dataset is compacted and the
// output columns are taken; a window system then takes them (or, with
// shards, their partial aggregates are split by shard).
//
// Errors: a partition that does not fit the input component wraps
// ErrSchema (nothing ran); a pipeline failure is returned as the pipeline
// returned it (pcs.IsPermanent tells whether a retry can help); a window
// failure (an event time that cannot be read, say) is permanent
// (pcs.Permanent). On error Output holds only RowsIn and Stats.
func (p *Plan) Step(ctx context.Context, in Input) (Output, error) {
	var out Output
	ds, err := p.dataset(ctx, p.mem, in.ID, in.Batches)
	if err != nil {
		return out, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	defer ds.Release()
	out.RowsIn = int64(ds.Len())
	if p.pipeline != nil {
		out.Stats, err = p.pipeline.Run(ctx, ds)
		if err != nil {
			return out, err
		}
	}
	if err := ds.Compact(ctx); err != nil {
		return out, err
	}
	if p.finisher != nil { // no rows until the end of input (finish.go)
		return out, p.finish(ctx, in.Final, &out)
	}
	rows := p.output(ds)
	switch {
	case p.win == nil:
		out.Results = rows
	case p.shards > 0:
		err = p.partials(ctx, rows, &out)
	default:
		err = p.windowed(ctx, in.Source, in.Final, rows, &out)
	}
	if err != nil {
		out.Release()
		return Output{RowsIn: out.RowsIn, Stats: out.Stats}, pcs.Permanent(fmt.Errorf("window: %w", err))
	}
	return out, nil
}

// Flush fires every window (the end of all input: `pcs run` after its
// last file) and returns the results, or a Finisher's result (see
// Finisher); nothing without either.
func (p *Plan) Flush(ctx context.Context) (Output, error) {
	if p.finisher != nil { // a Finisher's result (finish.go)
		var out Output
		return out, p.finish(ctx, true, &out)
	}
	if p.win == nil {
		return Output{}, nil
	}
	p.winMu.Lock()
	defer p.winMu.Unlock()
	fired, err := p.win.Flush(ctx)
	if err != nil {
		return Output{}, fmt.Errorf("window: %w", err)
	}
	return Output{Results: fired.Results, Late: fired.Late}, nil
}

// windowed feeds rows (released here) to the window operator and puts
// the windows that fired and the late rows in out.
func (p *Plan) windowed(ctx context.Context, source string, final bool, rows arrow.RecordBatch, out *Output) error {
	p.winMu.Lock()
	defer p.winMu.Unlock()
	fired, err := p.win.Process(ctx, source, rows)
	rows.Release()
	if err == nil && final {
		// The producer's end of input: every window fires.
		var flushed window.Output
		if flushed, err = p.win.Flush(ctx); err == nil {
			fired.Results, err = concatBatches(p.mem, p.outSchema, fired.Results, flushed.Results)
			if flushed.Late != nil {
				flushed.Late.Release()
			}
		}
	}
	if err != nil {
		fired.Release()
		return err
	}
	out.Results, out.Late = fired.Results, fired.Late
	return nil
}

// partials computes the partial aggregates of rows (released here), one
// batch per shard (by key hash), and their event-time bound.
func (p *Plan) partials(ctx context.Context, rows arrow.RecordBatch, out *Output) error {
	p.winMu.Lock()
	part, err := p.win.Partials(ctx, rows)
	var shard []int32
	if err == nil && part.Results != nil {
		shard, err = p.win.ShardOf(part.Results, p.shards, nil)
	}
	p.winMu.Unlock()
	rows.Release()
	if err != nil {
		part.Release()
		return err
	}
	out.Late = part.Late
	all := part.Results
	if all == nil {
		all = emptyBatch(p.mem, p.win.PartialSchema())
	}
	defer all.Release()
	if all.NumRows() > 0 { // the partials' last column is the rows' largest event time (ms)
		maxT := slices.Max(all.Column(int(all.NumCols()) - 1).(*array.Int64).Int64Values())
		out.Bound = time.UnixMilli(maxT).UTC()
	}
	idx := make([][]int32, p.shards)
	for i, s := range shard {
		idx[s] = append(idx[s], int32(i))
	}
	for s := range p.shards {
		b, err := takeRows(ctx, p.mem, all, idx[s])
		if err != nil {
			return err
		}
		out.Partials = append(out.Partials, b)
	}
	return nil
}

// takeRows returns rows idx of rec (the caller releases it).
func takeRows(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	if len(idx) == int(rec.NumRows()) {
		rec.Retain()
		return rec, nil
	}
	b := array.NewInt32Builder(mem)
	b.AppendValues(idx, nil)
	ind := b.NewInt32Array()
	b.Release()
	defer ind.Release()
	out, err := compute.Take(compute.WithAllocator(ctx, mem), compute.TakeOptions{BoundsCheck: false}, compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(ind))
	if err != nil {
		return nil, err
	}
	return out.(*compute.RecordDatum).Value, nil
}

// concatBatches returns a and b (either may be nil; both released here)
// as one RecordBatch of schema, or nil when both are nil.
func concatBatches(mem memory.Allocator, schema *arrow.Schema, a, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	switch {
	case a == nil:
		return b, nil
	case b == nil:
		return a, nil
	}
	defer a.Release()
	defer b.Release()
	cols := make([]arrow.Array, 0, schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i := 0; i < schema.NumFields(); i++ {
		c, err := array.Concatenate([]arrow.Array{a.Column(i), b.Column(i)}, mem)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return array.NewRecordBatch(schema, cols, a.NumRows()+b.NumRows()), nil
}

// emptyBatch returns a RecordBatch of schema with no rows.
func emptyBatch(mem memory.Allocator, schema *arrow.Schema) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	return b.NewRecordBatch()
}

// declare makes the component a [[pipeline.component]] table declares.
func declare(d ComponentConfig) (pcs.AnyComponent, error) {
	if d.Name == "" {
		return nil, fmt.Errorf("%w: name is empty", ErrConfig)
	}
	if len(d.Fields) == 0 {
		return nil, fmt.Errorf("%w: no fields", ErrConfig)
	}
	fields := make([]arrow.Field, len(d.Fields))
	seen := map[string]bool{}
	for i, s := range d.Fields {
		f, err := parseField(s)
		if err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%w: field %q declared twice", ErrConfig, f.Name)
		}
		seen[f.Name] = true
		fields[i] = f
	}
	return pcs.NewDynamicComponent(d.Name, arrow.NewSchema(fields, nil)), nil
}

func compNames(cs []pcs.AnyComponent) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name()
	}
	return out
}

// planOutput resolves output.components (default: all the pipeline's
// components) into the output schema.
func (p *Plan) planOutput(pc Pipeline, sc *scope) error {
	comps := p.comps
	if names := pc.Output.Components; len(names) > 0 {
		comps = nil
		for _, name := range names {
			c, err := sc.component(name)
			if err != nil {
				return fmt.Errorf("output.components: %w", err)
			}
			comps = append(comps, c)
		}
	}
	seen := map[string]string{}
	var fields []arrow.Field
	for _, c := range comps {
		for _, f := range c.Schema().Fields() {
			if prev, dup := seen[f.Name]; dup {
				return fmt.Errorf("%w: output field %q is in components %q and %q", ErrConfig, f.Name, prev, c.Name())
			}
			seen[f.Name] = c.Name()
			fields = append(fields, f)
			p.outCols = append(p.outCols, colRef{component: c.Name(), field: f.Name})
		}
	}
	p.outSchema = arrow.NewSchema(fields, nil)
	return nil
}

// dataset builds the dataset of one input partition, id: the input
// component from recs (released here, matched by column name, see
// conform), the other components empty-filled, the resources and the
// pcs.PartitionID id inserted. The caller releases it.
func (p *Plan) dataset(ctx context.Context, mem memory.Allocator, id string, recs []arrow.RecordBatch) (*pcs.Dataset, error) {
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(p.comps...); err != nil {
		ds.Release()
		return nil, err
	}
	for _, rec := range recs {
		c, err := conform(ctx, mem, rec, p.input.Schema())
		if err != nil {
			ds.Release()
			return nil, fmt.Errorf("input component %q: %w", p.input.Name(), err)
		}
		_, err = ds.Append(map[string]arrow.RecordBatch{p.input.Name(): c})
		c.Release()
		if err != nil {
			ds.Release()
			return nil, err
		}
	}
	if err := pcs.InsertResource(ds, pcs.PartitionID(id)); err != nil {
		ds.Release()
		return nil, err
	}
	for _, load := range p.resources {
		if err := load(ds); err != nil {
			ds.Release()
			return nil, err
		}
	}
	return ds, nil
}

// output assembles the output batch from the output components' columns
// (compact ds first): the pipeline's result, or the window system's input
// when it ends the pipeline. The caller releases it.
func (p *Plan) output(ds *pcs.Dataset) arrow.RecordBatch {
	cols := make([]arrow.Array, len(p.outCols))
	for i, c := range p.outCols {
		cols[i], _ = ds.Column(c.component, c.field) // resolved in planOutput
	}
	schema := p.outSchema
	if p.window != nil {
		schema = p.windowIn
	}
	return array.NewRecordBatch(schema, cols, int64(ds.Len()))
}
