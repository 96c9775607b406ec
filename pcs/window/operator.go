package window

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// Spec configures an Operator.
type Spec struct {
	Time     TimeSpec
	Assigner Assigner
	// OutOfOrderness is the bound on event-time disorder: a source's
	// watermark is its max event time minus this.
	OutOfOrderness time.Duration
	// AllowedLateness keeps a window's state for this long after it fired
	// (watermark >= end): rows arriving in that time re-fire it with
	// is_update = true. Rows later than end + AllowedLateness go to the
	// late output.
	AllowedLateness time.Duration
	// IdleTimeout: a source that delivered nothing for this long (by
	// Clock) stops holding the watermark back. 0: sources never go idle.
	IdleTimeout time.Duration
	// Keys name the group-by columns (none: one global group per window).
	Keys []string
	// Aggs are the aggregates, in output order; at least one.
	Aggs []Agg
	// Clock returns the processing time for idleness; nil: time.Now.
	Clock func() time.Time
	// Parallelism is the most goroutines Process uses on one batch of
	// tumbling or sliding windows (calendar ones included): a batch is cut
	// into up to Parallelism contiguous chunks of at least 16384 rows
	// whose partials (event-time range, late rows, key ids, aggregate
	// states) are computed concurrently, then merged into the window
	// state in row order, so results, late rows and counters are those
	// of one goroutine (up to the float rounding of sums). 0 or 1: one
	// goroutine, the default: on the 2-vCPU machine the benchmarks ran on,
	// shared with other work, the split was no faster
	// (BenchmarkKeyedAgg pcs-par2 vs pcs), the group-by being bound by
	// memory bandwidth; try 2 to 8 on a dedicated multi-core host. Session
	// windows, Partials and MergePartials use one goroutine.
	Parallelism int
	// State, if not nil, opens the backend where the keyed state lives
	// beyond MaxResident entries (a Pebble store for state larger than
	// memory, see spill.go); New calls it once and the operator owns the
	// backend (Close closes it), which must be empty. nil: the state lives
	// in Go memory only, the fastest path.
	State func() (pcs.StateBackend, error)
	// MaxResident bounds the keyed entries (a session key, or a pane and
	// key) kept in memory with State: past it, after a batch, they are
	// all written to the backend. 0: DefaultMaxResident.
	MaxResident int
}

// Output is what Process, Tick, Flush and MergePartials return. Either
// batch may be nil; the caller releases the non-nil ones.
type Output struct {
	// Results holds the rows of windows that fired (ResultSchema): one row
	// per key and window. Re-fired windows (late rows within the allowed
	// lateness) carry their full updated values with is_update = true.
	// Order: for tumbling and sliding windows the updates first, then the
	// windows that fired, each by window_start then first-seen key; for
	// sessions by window_start, then key.
	Results arrow.RecordBatch
	// Late holds the rows that were too late for every window they belong
	// to, and rows with a null event time, unchanged, with the input
	// schema (for MergePartials: late partial rows, PartialSchema).
	Late arrow.RecordBatch
}

// Release releases both batches (nil-safe).
func (o Output) Release() {
	if o.Results != nil {
		o.Results.Release()
	}
	if o.Late != nil {
		o.Late.Release()
	}
}

// Stats are the operator's counters since New (kept across Snapshot and
// Restore).
type Stats struct {
	Rows         int64 // input rows given to Process
	LateRows     int64 // rows sent to the late output (including null times)
	NullTimeRows int64 // rows with a null event time (also in LateRows)
	PartialRows  int64 // partial rows given to MergePartials
	LatePartials int64 // partial rows sent to the late output
	Results      int64 // result rows emitted with is_update = false
	Updates      int64 // result rows emitted with is_update = true
	Watermark    int64 // effective watermark, ms since the epoch (NoWatermark before any)
}

// Operator computes keyed window aggregates over a stream of
// RecordBatches. It is not safe for concurrent use: one goroutine drives
// it (a pipeline stage or a shard owner). Its state lives in Go memory,
// or with Spec.State in a backend with Go memory as its cache; the
// allocator given to New allocates only the batches it returns.
type Operator struct {
	spec    Spec
	in      *arrow.Schema
	mem     memory.Allocator
	timeIdx int
	time    timeReader
	keys    []keyCol
	defs    []*aggDef // the user's aggregates, then the hidden max time
	out     *arrow.Schema
	part    *arrow.Schema
	snap    *arrow.Schema

	session                     bool
	size, slide, pane, off, gap int64 // ms (0 for calendar windows)
	months                      int64 // calendar windows: months per window (Assigner.Months); 0: fixed
	late                        int64 // allowed lateness, ms
	wm                          *watermarks
	stats                       Stats
	batchPartial                                // the batch at hand (chunk 0 when split)
	share                       []int           // per aggregate: an earlier one whose batch state it copies, or -1
	par                         int             // goroutines per large batch (Spec.Parallelism resolved)
	aux                         []*batchPartial // chunks 1.. of a split batch
	withMaxTime                 bool            // fold the hidden max event time (Partials)
	tmp                         *table          // a window merged from its panes
	panes                       map[int64]*table
	spare                       []*table                  // tables of expired panes, reset, for reuse
	dirty                       map[int64]map[string]bool // window start -> keys to re-fire
	sess                        *sessions
	spill                       *spill // nil: the state is in memory only
}

// batchPartial is the partial aggregate of one batch (or of one chunk of
// rows of a batch) and the scratch space that computes it.
type batchPartial struct {
	bk                        batchKeys // key ids of the batch at hand
	lst                       stateSet  // the batch partial: slot -> states
	slotPane                  []int64   // the batch partial: slot -> pane start
	slotKid                   []int32   // the batch partial: slot -> key id in bk
	dense                     []int32   // paneSlots: (pane, key) -> slot
	prefix                    []int64
	lateBuf, keepBuf, slotBuf []int32
	keepRows, keepSlots       []int32 // of the batch at hand: folded rows and their local slots
	inputs                    []input
	nullTimes                 int64 // rows with a null event time (counted by partial)
	hi                        int64 // the largest event time (partialSplit)
}

func newBatchPartial(defs []*aggDef) *batchPartial {
	return &batchPartial{lst: newStateSet(defs), inputs: make([]input, len(defs))}
}

// New checks spec against the input schema (every column exists and has a
// usable type; errors name the column) and returns an operator with empty
// state. mem allocates the returned batches (nil: memory.DefaultAllocator).
func New(spec Spec, schema *arrow.Schema, mem memory.Allocator) (*Operator, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if err := spec.Assigner.Validate(); err != nil {
		return nil, err
	}
	if len(spec.Aggs) == 0 {
		return nil, fmt.Errorf("%w: no aggregate", ErrSpec)
	}
	o := &Operator{spec: spec, in: schema, mem: mem, panes: map[int64]*table{}, dirty: map[int64]map[string]bool{}}
	var err error
	if o.timeIdx, o.time, err = compileTime(spec.Time, schema); err != nil {
		return nil, err
	}
	ooo, err := msDuration("out_of_orderness", spec.OutOfOrderness)
	if err != nil {
		return nil, err
	}
	if o.late, err = msDuration("allowed_lateness", spec.AllowedLateness); err != nil {
		return nil, err
	}
	a := spec.Assigner
	o.size, o.slide, o.off, o.gap = int64(a.Size/time.Millisecond), int64(a.Slide/time.Millisecond), int64(a.Offset/time.Millisecond), int64(a.Gap/time.Millisecond)
	o.session = a.Kind == KindSession
	o.months = int64(a.Months)
	if !o.session && o.months == 0 {
		o.pane = gcd(o.size, o.slide)
	}
	clock := spec.Clock
	if clock == nil {
		clock = time.Now
	}
	o.wm = newWatermarks(ooo, spec.IdleTimeout, clock)
	o.stats.Watermark = NoWatermark

	names := map[string]bool{"window_start": true, "window_end": true, "is_update": true}
	var outF, partF []arrow.Field
	for _, k := range spec.Keys {
		kc, err := keyColumn(schema, k)
		if err != nil {
			return nil, err
		}
		if names[k] {
			return nil, fmt.Errorf("%w: key column %q repeats or collides with an output column", ErrSpec, k)
		}
		names[k] = true
		o.keys = append(o.keys, kc)
		f := arrow.Field{Name: k, Type: kc.out, Nullable: true}
		outF, partF = append(outF, f), append(partF, f)
	}
	ts := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	bounds := []arrow.Field{{Name: "window_start", Type: ts}, {Name: "window_end", Type: ts}}
	outF, partF = append(outF, bounds...), append(partF, bounds...)
	for _, ag := range spec.Aggs {
		d, err := compileAgg(ag, schema)
		if err != nil {
			return nil, err
		}
		if names[d.As] {
			return nil, fmt.Errorf("%w: aggregate %s: output name %q repeats or collides with another column", ErrSpec, ag, d.As)
		}
		names[d.As] = true
		o.defs = append(o.defs, d)
		outF = append(outF, arrow.Field{Name: d.As, Type: d.out, Nullable: true})
		partF = append(partF, d.pfields...)
	}
	o.defs = append(o.defs, maxTimeDef())
	partF = append(partF, o.defs[len(o.defs)-1].pfields...)
	outF = append(outF, arrow.Field{Name: "is_update", Type: arrow.FixedWidthTypes.Boolean})
	o.out = arrow.NewSchema(outF, nil)
	o.part = arrow.NewSchema(partF, nil)
	o.snap = arrow.NewSchema(append(partF[:len(partF):len(partF)],
		arrow.Field{Name: "_fired", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "_dirty", Type: arrow.FixedWidthTypes.Boolean}), nil)
	o.batchPartial = *newBatchPartial(o.defs)
	o.share = shareSources(o.defs)
	o.par = max(1, spec.Parallelism)
	if spec.MaxResident < 0 {
		return nil, fmt.Errorf("%w: max resident %d < 0", ErrSpec, spec.MaxResident)
	}
	if spec.State != nil {
		be, err := spec.State()
		if err != nil {
			return nil, fmt.Errorf("window: state backend: %w", err)
		}
		o.spill = &spill{be: be, max: spec.MaxResident, panes: map[int64]bool{}, filter: newKeyFilter(0)}
		if o.spill.max == 0 {
			o.spill.max = DefaultMaxResident
		}
	}
	o.sess = o.newSessions()
	return o, nil
}

// newSessions returns empty sessions that read spilled keys back.
func (o *Operator) newSessions() *sessions {
	s := newSessions(o.defs)
	if o.spill != nil {
		s.fault = o.faultSession
	}
	return s
}

// InputSchema is the schema Process accepts.
func (o *Operator) InputSchema() *arrow.Schema { return o.in }

// ResultSchema is the schema of Output.Results: the key columns (input
// names and types; dictionary<string> keys become plain strings),
// window_start and window_end (timestamp[ms, UTC], end exclusive), one
// column per aggregate named by its As, and is_update (bool).
func (o *Operator) ResultSchema() *arrow.Schema { return o.out }

// PartialSchema is the schema of Partials and MergePartials: the key
// columns, window_start and window_end (of the pane for tumbling and
// sliding windows, of the session for session windows), then per
// aggregate its state columns named "<as>.<part>": count -> .count;
// sum, avg -> .sum, .n; min, max -> .min/.max; first, last ->
// .first/.last and .first_time/.last_time (ms); count_distinct -> .set (a
// list of the distinct values); and _max_time (ms), the latest event time
// in the group, which advances watermarks where partials are merged.
func (o *Operator) PartialSchema() *arrow.Schema { return o.part }

// Stats returns the counters.
func (o *Operator) Stats() Stats {
	s := o.stats
	s.Watermark = o.wm.current
	return s
}

// Watermark returns the effective watermark (ms since the epoch), or
// NoWatermark.
func (o *Operator) Watermark() int64 { return o.wm.current }

// Process folds rec (from source, a name for watermark tracking) into the
// window state, advances the watermark and fires the windows it passed.
// rec is borrowed for the call; the caller releases the Output.
//
// Late rows (see the package doc) come back in Output.Late. Errors:
// ErrSchema if rec's schema is not the input schema, ErrEventTime for an
// unreadable time string, ctx's error; these are found before the batch
// changes any state, so the batch can be retried or dead-lettered.
func (o *Operator) Process(ctx context.Context, source string, rec arrow.RecordBatch) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	if !rec.Schema().Equal(o.in) {
		return Output{}, fmt.Errorf("%w: Process got %s, want %s", ErrSchema, rec.Schema(), o.in)
	}
	n := int(rec.NumRows())
	tcol := rec.Column(o.timeIdx)
	times, err := o.time(tcol)
	if err != nil {
		return Output{}, err
	}
	o.stats.Rows += int64(n)
	prevW := o.wm.current
	var late []int32
	var maxT int64
	if k := o.chunks(n); k > 1 {
		late, maxT = o.partialSplit(rec, times, k, prevW)
		o.paneMergeLocal(&o.batchPartial, prevW) // in chunk (row) order
		for _, bp := range o.aux[:k-1] {
			o.paneMergeLocal(bp, prevW)
		}
	} else {
		var lo int64
		lo, maxT = timeRange(times, tcol)
		late = o.partial(&o.batchPartial, rec, times, lo, maxT, prevW)
		o.stats.NullTimeRows += o.nullTimes
		if o.session {
			late = o.sessMergeLocal(prevW, late)
		} else {
			o.paneMergeLocal(&o.batchPartial, prevW)
		}
	}
	o.stats.LateRows += int64(len(late))
	var out Output
	if len(late) > 0 {
		if out.Late, err = takeRows(ctx, o.mem, rec, late); err != nil {
			return Output{}, err
		}
	}
	o.wm.observe(source, maxT)
	res, err := o.fire(prevW, o.wm.advance())
	if err != nil {
		out.Release()
		return Output{}, err
	}
	out.Results = res
	return out, nil
}

// Tick re-evaluates idle sources by the clock and fires the windows the
// watermark passed, without input. Call it periodically when sources may
// go quiet.
func (o *Operator) Tick(ctx context.Context) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	prevW := o.wm.current
	res, err := o.fire(prevW, o.wm.advance())
	return Output{Results: res}, err
}

// Flush is the final watermark (end of input): it fires every window still
// open, as if the watermark were +inf, and drops all window state. Rows
// given to Process afterwards are late.
func (o *Operator) Flush(ctx context.Context) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	prevW := o.wm.current
	o.wm.current = math.MaxInt64
	res, err := o.fire(prevW, math.MaxInt64)
	return Output{Results: res}, err
}

// lateThreshold returns the time before which a row is late for every
// tumbling or sliding window at watermark prevW (MinInt64 for sessions
// and before any watermark).
func (o *Operator) lateThreshold(prevW int64) int64 {
	if o.session || prevW == NoWatermark {
		return math.MinInt64
	}
	if o.months > 0 {
		if prevW == math.MaxInt64 {
			return math.MaxInt64 // after Flush
		}
		return o.paneStart(satAdd(prevW, -o.late))
	}
	return satAdd(align(satAdd(prevW, -(o.size+o.late)), o.slide, o.off), o.slide)
}

// partial computes the partial aggregate of rec into bp.lst and returns
// the rows that are late (null time, or for tumbling and sliding windows
// too late for every window). lo and hi are timeRange(times, time
// column). It leaves the folded rows and their local slots in
// bp.keepRows and bp.keepSlots (sessions map late local sessions back to
// rows with them).
func (o *Operator) partial(bp *batchPartial, rec arrow.RecordBatch, times []int64, lo, hi, prevW int64) []int32 {
	n := int(rec.NumRows())
	tcol := rec.Column(o.timeIdx)
	thr := o.lateThreshold(prevW) // rows with t < thr are late
	late := bp.lateBuf[:0]
	bp.nullTimes = 0
	var keep []int32 // rows to fold; nil: all
	tnull := tcol.NullN() > 0
	if tnull || (n > 0 && lo < thr) {
		keep = bp.keepBuf[:0]
		for i, t := range times {
			if tnull && tcol.IsNull(i) {
				bp.nullTimes++
				late = append(late, int32(i))
			} else if t < thr {
				late = append(late, int32(i))
			} else {
				keep = append(keep, int32(i))
			}
		}
		bp.keepBuf = keep
		if len(late) == 0 {
			keep = nil
		}
	}
	bp.lateBuf = late
	kids := bp.bk.assign(o.keys, o.keyArrays(rec, true), n)
	bp.lst.clear()
	m := n
	if keep != nil {
		m = len(keep)
	}
	slots := grow(bp.slotBuf, m)
	bp.slotBuf = slots
	var nslots int
	if o.session {
		for j := range slots {
			slots[j] = kids[rowOf(keep, j)]
		}
		nslots = o.sess.local(times, keep, slots, o.gap)
	} else {
		slots, nslots = o.paneSlots(bp, times, lo, hi, keep, kids, slots)
	}
	bp.lst.ensure(nslots)
	for a, d := range o.defs {
		if d.hidden && !o.withMaxTime {
			continue
		}
		in := &bp.inputs[a]
		in.load(d, rec, times)
		if src := o.share[a]; src >= 0 && copyState(bp.lst.st[a], bp.lst.st[src], &bp.inputs[src], nslots) {
			continue
		}
		bp.lst.st[a].update(in, keep, slots)
	}
	bp.keepRows, bp.keepSlots = keep, slots
	return late
}

// minChunk is the fewest rows Process gives one goroutine when it splits
// a batch (a variable for tests).
var minChunk = 16 << 10

// chunks returns into how many contiguous row ranges Process splits a
// batch of n rows (1: no split): tumbling and sliding windows only.
func (o *Operator) chunks(n int) int {
	if o.session {
		return 1
	}
	return max(1, min(o.par, n/minChunk))
}

// partialSplit computes the partials of k contiguous chunks of rec, chunk
// 0 into o.batchPartial and chunk c into o.aux[c-1], chunks 1.. on their
// own goroutines, each from reading its event times on. It returns the
// late rows (row order) and the largest event time, and counts null
// times. Merging the chunk partials in chunk order keeps first/last ties
// in arrival order.
func (o *Operator) partialSplit(rec arrow.RecordBatch, times []int64, k int, prevW int64) ([]int32, int64) {
	for len(o.aux) < k-1 {
		o.aux = append(o.aux, newBatchPartial(o.defs))
	}
	n := len(times)
	bounds := func(c int) (int, int) { return c * n / k, (c + 1) * n / k }
	lates := make([][]int32, k)
	var wg sync.WaitGroup
	for c := k - 1; c >= 0; c-- {
		lo, hi := bounds(c)
		bp := &o.batchPartial
		if c > 0 {
			bp = o.aux[c-1]
		}
		run := func() {
			sub := rec.NewSlice(int64(lo), int64(hi))
			defer sub.Release()
			ts := times[lo:hi]
			tlo, thi := timeRange(ts, sub.Column(o.timeIdx))
			lates[c] = o.partial(bp, sub, ts, tlo, thi, prevW)
			bp.hi = thi
		}
		if c == 0 {
			run()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
	var late []int32
	maxT := int64(math.MinInt64)
	for c := range k {
		bp := &o.batchPartial
		if c > 0 {
			bp = o.aux[c-1]
		}
		o.stats.NullTimeRows += bp.nullTimes
		maxT = max(maxT, bp.hi)
		lo, _ := bounds(c)
		for _, r := range lates[c] {
			late = append(late, r+int32(lo))
		}
	}
	return late, maxT
}

// timeRange returns the smallest and largest non-null time (MaxInt64 and
// NoWatermark if none).
func timeRange(times []int64, col arrow.Array) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	if col.NullN() == 0 {
		// four independent min/max chains (branch-free CMOVs)
		lo1, hi1, lo2, hi2, lo3, hi3 := lo, hi, lo, hi, lo, hi
		i := 0
		for ; i+4 <= len(times); i += 4 {
			t := times[i : i+4 : i+4]
			lo, hi = min(lo, t[0]), max(hi, t[0])
			lo1, hi1 = min(lo1, t[1]), max(hi1, t[1])
			lo2, hi2 = min(lo2, t[2]), max(hi2, t[2])
			lo3, hi3 = min(lo3, t[3]), max(hi3, t[3])
		}
		for _, t := range times[i:] {
			lo, hi = min(lo, t), max(hi, t)
		}
		return min(lo, lo1, lo2, lo3), max(hi, hi1, hi2, hi3)
	}
	for i, t := range times {
		if col.IsValid(i) {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	return lo, hi
}

// fire emits the windows the watermark passed from prevW to newW, the
// updates of re-fired windows, and expires state past the lateness.
// With a state backend it reads back what fires and afterwards spills
// the memory if full; a backend error fails the call (the state is then
// unknown: restore a snapshot).
func (o *Operator) fire(prevW, newW int64) (arrow.RecordBatch, error) {
	em := newEmitter(o)
	defer em.release()
	switch {
	case o.session && o.spill != nil:
		o.sessFireSpilled(newW, em)
	case o.session:
		o.sessFire(newW, em)
	default:
		if o.spill != nil {
			o.loadFiring(newW)
		}
		o.paneFire(prevW, newW, em)
	}
	o.stats.Watermark = newW
	if err := o.spillIfFull(); err != nil {
		return nil, err
	}
	return em.batch(), nil
}

// takeRows returns the rows idx of rec as a new batch.
func takeRows(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	b := array.NewInt32Builder(mem)
	b.AppendValues(idx, nil)
	ind := b.NewInt32Array()
	b.Release()
	defer ind.Release()
	ctx = exec.WithAllocator(ctx, mem)
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range rec.Columns() {
		t, err := compute.TakeArray(ctx, c, ind)
		if err != nil {
			return nil, err
		}
		cols[i] = t
	}
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(idx))), nil
}

// emitter builds Output.Results.
type emitter struct {
	o    *Operator
	b    *array.RecordBuilder
	rows int
}

func newEmitter(o *Operator) *emitter { return &emitter{o: o} }

func (e *emitter) add(key []byte, ws, we int64, t *stateSet, slot int32, update bool) {
	if e.b == nil {
		e.b = array.NewRecordBuilder(e.o.mem, e.o.out)
	}
	fs := e.b.Fields()
	nk := len(e.o.keys)
	decodeKey(e.o.keys, key, fs[:nk])
	fs[nk].(*array.TimestampBuilder).Append(arrow.Timestamp(ws))
	fs[nk+1].(*array.TimestampBuilder).Append(arrow.Timestamp(we))
	for a, d := range e.o.defs {
		if !d.hidden {
			t.st[a].result(fs[nk+2+a], slot)
		}
	}
	fs[len(fs)-1].(*array.BooleanBuilder).Append(update)
	e.rows++
	if update {
		e.o.stats.Updates++
	} else {
		e.o.stats.Results++
	}
}

func (e *emitter) batch() arrow.RecordBatch {
	if e.b == nil || e.rows == 0 {
		return nil
	}
	return e.b.NewRecordBatch()
}

func (e *emitter) release() {
	if e.b != nil {
		e.b.Release()
	}
}
