package window

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Two-phase aggregation. Process itself runs in two steps: the batch is
// aggregated into a partial (one row per key and pane, or per key and
// session), which is then merged into the window state. Partials and
// MergePartials expose the two steps for a fleet: any node computes
// Partials of its input; partials are routed by ShardOf to the node that
// owns the shard, which calls MergePartials. Both operators must be built
// from the same Spec and input schema. Merging is associative and
// commutative except for first/last ties on equal event times, which go
// by merge order.

// Partials returns the partial aggregate of rec as Output.Results, in
// PartialSchema (nil if rec has no rows with an event time), and the rows
// with a null event time as Output.Late. It reads no watermark and
// changes no state or counter of o. rec is borrowed; the caller releases
// the output.
func (o *Operator) Partials(ctx context.Context, rec arrow.RecordBatch) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	if !rec.Schema().Equal(o.in) {
		return Output{}, fmt.Errorf("%w: Partials got %s, want %s", ErrSchema, rec.Schema(), o.in)
	}
	tcol := rec.Column(o.timeIdx)
	times, err := o.time(tcol)
	if err != nil {
		return Output{}, err
	}
	saved := o.stats
	o.withMaxTime = true
	lo, hi := timeRange(times, tcol)
	late := o.partial(&o.batchPartial, rec, times, lo, hi, NoWatermark)
	o.withMaxTime = false
	o.stats = saved
	var out Output
	if len(late) > 0 {
		if out.Late, err = takeRows(ctx, o.mem, rec, late); err != nil {
			return Output{}, err
		}
	}
	w := newStateWriter(o, o.part)
	defer w.release()
	if o.session {
		for k, l := range o.sess.llist {
			if k >= o.bk.idx.len() {
				break
			}
			for _, ls := range l {
				w.add(o.bk.idx.key(int32(k)), ls.start, ls.end, &o.lst, ls.slot)
			}
		}
	} else {
		for s, ps := range o.slotPane {
			w.add(o.bk.idx.key(o.slotKid[s]), ps, o.paneEnd(ps), &o.lst, int32(s))
		}
	}
	out.Results = w.batch()
	return out, nil
}

// Observe advances source's watermark as if it had delivered a row at
// event time t (ms since the epoch; math.MaxInt64 is its final watermark)
// and fires what the effective watermark passed, like Process. A shard
// owner calls it with the event-time bound of every input partition, so
// its watermark moves even when a partition had no rows for its shard.
// The caller releases the output.
func (o *Operator) Observe(ctx context.Context, source string, t int64) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	prevW := o.wm.current
	o.wm.observe(source, t)
	res, err := o.fire(prevW, o.wm.advance())
	return Output{Results: res}, err
}

// MergePartials folds a partial batch (PartialSchema, from Partials of an
// operator with the same spec) from source into the window state,
// advances source's watermark to the latest _max_time of the batch and
// fires what the watermark passed, like Process. Partial rows too late for
// every window they cover come back unchanged as Output.Late. part is
// borrowed; the caller releases the output. Errors: ErrSchema for a batch
// of another schema or a pane start not aligned to this spec.
func (o *Operator) MergePartials(ctx context.Context, source string, part arrow.RecordBatch) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	if !part.Schema().Equal(o.part) {
		return Output{}, fmt.Errorf("%w: MergePartials got %s, want %s", ErrSchema, part.Schema(), o.part)
	}
	n := int(part.NumRows())
	nk := len(o.keys)
	ws := part.Column(nk).(*array.Timestamp).TimestampValues()
	we := part.Column(nk + 1).(*array.Timestamp).TimestampValues()
	if !o.session {
		for i := range n {
			if p := int64(ws[i]); o.paneStart(p) != p || int64(we[i]) != o.paneEnd(p) {
				return Output{}, fmt.Errorf("%w: partial row %d: pane [%d, %d) is not a pane of %s", ErrSchema, i, p, we[i], o.spec.Assigner)
			}
		}
	}
	cols := part.Columns()[nk+2:]
	prevW := o.wm.current
	maxT := int64(NoWatermark)
	for _, t := range part.Column(int(part.NumCols()) - 1).(*array.Int64).Int64Values() {
		maxT = max(maxT, t)
	}
	var late []int32
	kids := o.bk.assign(o.keys, o.keyArrays(part, false), n)
	if o.session {
		for r, kid := range kids {
			if !o.sessMergePartialRow(o.bk.idx.key(kid), o.bk.idx.hashes[kid], int64(ws[r]), int64(we[r]), prevW, cols, r) {
				late = append(late, int32(r))
			}
		}
	} else {
		pst := grow(o.prefix, n)
		o.prefix = pst
		keep := o.keepBuf[:0]
		for r := range pst {
			pst[r] = int64(ws[r])
			if o.paneLate(pst[r], prevW) {
				late = append(late, int32(r))
			} else {
				keep = append(keep, int32(r))
			}
		}
		o.keepBuf = keep
		if len(late) == 0 {
			keep = nil
		}
		m := n - len(late)
		slots := grow(o.slotBuf, m)
		o.slotBuf = slots
		o.lst.clear()
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, p := range pst {
			lo, hi = min(lo, p), max(hi, p)
		}
		slots, nslots := o.paneSlots(&o.batchPartial, pst, lo, hi, keep, kids, slots)
		o.lst.ensure(nslots)
		for j, s := range slots {
			o.lst.mergePartialRow(o.defs, cols, rowOf(keep, j), s)
		}
		o.paneMergeLocal(&o.batchPartial, prevW)
	}
	o.stats.PartialRows += int64(n)
	o.stats.LatePartials += int64(len(late))
	var out Output
	var err error
	if len(late) > 0 {
		if out.Late, err = takeRows(ctx, o.mem, part, late); err != nil {
			return Output{}, err
		}
	}
	o.wm.observe(source, maxT)
	out.Results, err = o.fire(prevW, o.wm.advance())
	if err != nil {
		out.Release()
		return Output{}, err
	}
	return out, nil
}

// ShardOf returns, for each row of rec, the shard in [0, shards) its key
// belongs to: the hash of its key modulo shards. rec is any
// batch with the key columns by name (an input batch or a partial); a
// dictionary<string> key hashes like the plain string, so input rows and
// their partials land on the same shard. The hash reads bytes in little
// endian order, so every node of a fleet (same PCS version) agrees on it.
// dst is reused if large enough.
// Errors: ErrUnknownColumn, ErrType (a key of another kind), ErrSpec for
// shards < 1.
func (o *Operator) ShardOf(rec arrow.RecordBatch, shards int, dst []int32) ([]int32, error) {
	if shards < 1 || shards > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d shards", ErrSpec, shards)
	}
	var bk batchKeys
	arrs := make([]arrow.Array, len(o.keys))
	for c, k := range o.keys {
		kc, err := keyColumn(rec.Schema(), k.name)
		if err != nil {
			return nil, err
		}
		if kc.kind != k.kind {
			return nil, fmt.Errorf("%w: key column %q is %s, the operator's is %s", ErrType, k.name, kc.in, k.in)
		}
		arrs[c] = rec.Column(kc.idx)
	}
	kids := bk.assign(o.keys, arrs, int(rec.NumRows()))
	dst = grow(dst, len(kids))
	for i, k := range kids {
		dst[i] = int32(bk.idx.hashes[k] % uint64(shards))
	}
	return dst, nil
}

// stateWriter writes keyed states as partial (or snapshot) rows.
type stateWriter struct {
	o    *Operator
	b    *array.RecordBuilder
	rows int
}

func newStateWriter(o *Operator, schema *arrow.Schema) *stateWriter {
	return &stateWriter{o: o, b: array.NewRecordBuilder(o.mem, schema)}
}

// add appends one row and returns the builders after the state columns
// (the snapshot's flags).
func (w *stateWriter) add(key []byte, ws, we int64, st *stateSet, slot int32) []array.Builder {
	fs := w.b.Fields()
	nk := len(w.o.keys)
	decodeKey(w.o.keys, key, fs[:nk])
	fs[nk].(*array.TimestampBuilder).Append(arrow.Timestamp(ws))
	fs[nk+1].(*array.TimestampBuilder).Append(arrow.Timestamp(we))
	st.appendPartial(w.o.defs, fs[nk+2:], slot)
	w.rows++
	return fs[len(w.o.part.Fields()):]
}

func (w *stateWriter) batch() arrow.RecordBatch {
	if w.rows == 0 {
		return nil
	}
	return w.b.NewRecordBatch()
}

func (w *stateWriter) release() { w.b.Release() }
