package window

import (
	"math"
	"slices"
)

// Tumbling and sliding windows share one engine: state is kept per pane,
// [ps, ps + pane) with pane = gcd(size, slide), as one keyed table per
// pane. A row updates the one pane it falls in; a window [ws, ws + size)
// is the merge of its size/pane panes, computed when it fires. A tumbling
// window is a sliding window with one pane.

// lastWindowEnd is the end of the last window that contains pane ps.
func (o *Operator) lastWindowEnd(ps int64) int64 {
	if o.months > 0 {
		return o.paneEnd(ps)
	}
	return satAdd(align(ps, o.slide, o.off), o.size)
}

// firstWindowStart is the start of the first window that contains pane ps.
func (o *Operator) firstWindowStart(ps int64) int64 {
	if o.months > 0 {
		return ps
	}
	return align(ps-o.size, o.slide, o.off) + o.slide
}

// paneLate reports whether every window of pane ps expired at watermark w.
func (o *Operator) paneLate(ps, w int64) bool {
	return w != NoWatermark && satAdd(o.lastWindowEnd(ps), o.late) <= w
}

// paneTable returns the table of pane ps, creating it (from a table of
// an expired pane if there is one: its memory is reused).
func (o *Operator) paneTable(ps int64) *table {
	t := o.panes[ps]
	if t == nil {
		if n := len(o.spare); n > 0 {
			t, o.spare = o.spare[n-1], o.spare[:n-1]
		} else {
			t = newTable(o.defs)
		}
		o.panes[ps] = t
	}
	return t
}

// maxSpareTables bounds the expired pane tables kept for reuse.
const maxSpareTables = 16

// paneMergeLocal folds a batch partial (bp.lst with bp.slotPane and
// bp.slotKid) into the pane tables, and marks windows that already fired
// (watermark prevW) and whose state is still kept for re-firing.
func (o *Operator) paneMergeLocal(bp *batchPartial, prevW int64) {
	var cur *table
	curPS := int64(math.MinInt64)
	for s, ps := range bp.slotPane {
		kid := bp.slotKid[s]
		k, h := bp.bk.idx.key(kid), bp.bk.idx.hashes[kid]
		if cur == nil || ps != curPS {
			cur, curPS = o.paneTable(ps), ps
		}
		var g int32
		if o.spill == nil {
			g = cur.slot(k, h)
		} else {
			g = o.spillSlot(ps, cur, k, h)
		}
		cur.mergeSlot(g, &bp.lst, int32(s))
		o.markDirty(ps, k, prevW)
	}
}

// markDirty records that key k of pane ps changed after some of the
// pane's windows fired at watermark prevW.
func (o *Operator) markDirty(ps int64, k []byte, prevW int64) {
	if prevW == NoWatermark {
		return
	}
	first := o.firstWindowStart(ps)
	if o.windowEnd(first) > prevW {
		return // no window of this pane has fired
	}
	for ws := first; ws <= ps; ws = o.nextWindow(ws) {
		end := o.windowEnd(ws)
		if end > prevW {
			break
		}
		if satAdd(end, o.late) <= prevW {
			continue // expired
		}
		d := o.dirty[ws]
		if d == nil {
			d = map[string]bool{}
			o.dirty[ws] = d
		}
		d[string(k)] = true
	}
}

// paneFire emits updates of re-fired windows, then the windows whose end
// is in (prevW, newW], and drops panes all of whose windows expired.
func (o *Operator) paneFire(prevW, newW int64, em *emitter) {
	if o.tmp == nil {
		o.tmp = newTable(o.defs)
	}
	tmp := o.tmp
	if len(o.dirty) > 0 {
		starts := make([]int64, 0, len(o.dirty))
		for ws := range o.dirty {
			starts = append(starts, ws)
		}
		slices.Sort(starts)
		for _, ws := range starts {
			keys := o.dirty[ws]
			w := o.windowTable(ws, tmp)
			for id := 0; id < w.idx.len(); id++ {
				if k := w.idx.key(int32(id)); keys[string(k)] {
					em.add(k, ws, o.windowEnd(ws), &w.stateSet, int32(id), true)
				}
			}
		}
		clear(o.dirty)
	}
	if newW > prevW {
		seen := map[int64]bool{}
		var starts []int64
		for ps := range o.panes {
			for ws := o.firstWindowStart(ps); ws <= ps; ws = o.nextWindow(ws) {
				if end := o.windowEnd(ws); end > prevW && end <= newW && !seen[ws] {
					seen[ws] = true
					starts = append(starts, ws)
				}
			}
		}
		slices.Sort(starts)
		for _, ws := range starts {
			w := o.windowTable(ws, tmp)
			for id := 0; id < w.idx.len(); id++ {
				em.add(w.idx.key(int32(id)), ws, o.windowEnd(ws), &w.stateSet, int32(id), false)
			}
		}
	}
	for ps := range o.panes {
		if o.paneLate(ps, newW) {
			if t := o.panes[ps]; len(o.spare) < maxSpareTables {
				t.reset()
				o.spare = append(o.spare, t)
			}
			delete(o.panes, ps)
		}
	}
}

// windowTable returns the state of window ws: its pane table for
// tumbling windows, else tmp filled with the merge of its panes.
func (o *Operator) windowTable(ws int64, tmp *table) *table {
	if o.months > 0 || o.pane == o.size { // tumbling: the window is its pane
		if t := o.panes[ws]; t != nil {
			return t
		}
		return tmp
	}
	tmp.reset()
	for ps := ws; ps < ws+o.size; ps += o.pane {
		t := o.panes[ps]
		if t == nil {
			continue
		}
		for id := 0; id < t.idx.len(); id++ {
			g := tmp.slot(t.idx.key(int32(id)), t.idx.hashes[id])
			tmp.mergeSlot(g, &t.stateSet, int32(id))
		}
	}
	return tmp
}

// sortedPanes returns the pane starts in order.
func (o *Operator) sortedPanes() []int64 {
	ps := make([]int64, 0, len(o.panes))
	for p := range o.panes {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}
