package window

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
)

// Session windows: per key, a sorted list of sessions [start, end) with
// end = last row + gap. A row (or a partial session) whose interval
// [t, t + gap) intersects sessions merges with them. As in Flink
// (TimeWindow.intersects: start <= other.end && end >= other.start),
// intervals that only touch (one ends where the other starts) intersect,
// so rows exactly Gap apart are one session and a session closes only
// after more than Gap without rows. The state of a session is a slot of
// one shared stateSet, recycled through a free list.

type sess struct {
	start, end int64
	slot       int32
	fired      bool // emitted at least once
	dirty      bool // changed since it was last emitted
}

type lsess struct {
	start, end int64
	slot       int32
}

type sessions struct {
	keys  keyIndex
	list  [][]sess // per key id, sorted by start
	store stateSet
	free  []int32

	// fault, if set, is called with a key new in memory (before its
	// sessions are touched) to read them back from a state backend.
	fault func(key []byte, gid int32)

	// the batch at hand
	llist  [][]lsess // per local key id
	parent []int32   // union-find over local session slots
}

// gid returns the id of key (hash h), adding it (and reading its spilled
// sessions back) if new.
func (s *sessions) gid(key []byte, h uint64) int32 {
	gid := s.keys.find(key, h)
	if int(gid) >= len(s.list) {
		for int(gid) >= len(s.list) {
			s.list = append(s.list, nil)
		}
		if s.fault != nil {
			s.fault(key, gid)
		}
	}
	return gid
}

func newSessions(defs []*aggDef) *sessions {
	return &sessions{store: newStateSet(defs)}
}

func (s *sessions) alloc() int32 {
	if n := len(s.free); n > 0 {
		id := s.free[n-1]
		s.free = s.free[:n-1]
		return id
	}
	id := int32(s.store.n)
	s.store.ensure(s.store.n + 1)
	return id
}

func (s *sessions) release(slot int32) {
	s.store.resetSlot(slot)
	s.free = append(s.free, slot)
}

func (s *sessions) find(x int32) int32 {
	for s.parent[x] != x {
		s.parent[x] = s.parent[s.parent[x]]
		x = s.parent[x]
	}
	return x
}

// local groups the batch's rows into sessions per key: slots holds the
// local key id of row rowOf(keep, j) and is overwritten with its local
// session slot. It returns the number of local session slots.
func (s *sessions) local(times []int64, keep, slots []int32, gap int64) int {
	s.parent = s.parent[:0]
	for i := range s.llist {
		s.llist[i] = s.llist[i][:0]
	}
	for j, k := range slots {
		for int(k) >= len(s.llist) {
			s.llist = append(s.llist, nil)
		}
		t := times[rowOf(keep, j)]
		start, end := t, satAdd(t, gap)
		l := s.llist[k]
		hit := -1
		for i := 0; i < len(l); i++ {
			if intersects(l[i].start, l[i].end, start, end) {
				if hit < 0 {
					hit = i
					l[i].start, l[i].end = min(l[i].start, start), max(l[i].end, end)
					start, end = l[i].start, l[i].end
					i = -1 // the grown session may now reach others: rescan
					continue
				}
				if i == hit {
					continue
				}
				l[hit].start, l[hit].end = min(l[hit].start, l[i].start), max(l[hit].end, l[i].end)
				start, end = l[hit].start, l[hit].end
				s.parent[l[i].slot] = l[hit].slot
				l = slices.Delete(l, i, i+1)
				if i < hit {
					hit--
				}
				i = -1
			}
		}
		if hit < 0 {
			id := int32(len(s.parent))
			s.parent = append(s.parent, id)
			l = append(l, lsess{start, end, id})
			hit = len(l) - 1
		}
		s.llist[k] = l
		slots[j] = l[hit].slot
	}
	for j, v := range slots {
		slots[j] = s.find(v)
	}
	return len(s.parent)
}

// insert folds the interval [start, end) of key (hash h) into the global
// sessions, merging its state with mergeInto(dst). It returns false, and
// changes nothing, if the interval overlaps no session and is too late
// (end + lateness <= watermark w).
func (s *sessions) insert(key []byte, h uint64, start, end, lateness, w int64, mergeInto func(dst int32)) bool {
	gid := s.gid(key, h)
	l := s.list[gid]
	var hits []int
	for i := range l {
		if intersects(l[i].start, l[i].end, start, end) {
			hits = append(hits, i)
		}
	}
	if len(hits) == 0 {
		if w != NoWatermark && satAdd(end, lateness) <= w {
			return false
		}
		slot := s.alloc()
		mergeInto(slot)
		i, _ := slices.BinarySearchFunc(l, start, func(x sess, t int64) int { return cmpInt(x.start, t) })
		s.list[gid] = slices.Insert(l, i, sess{start: start, end: end, slot: slot})
		return true
	}
	// overlapping sessions are contiguous in the sorted list
	// (older state first, the new interval last: first/last ties go by
	// arrival order)
	t := &l[hits[0]]
	for _, i := range hits[1:] {
		o := l[i]
		s.store.mergeSlot(t.slot, &s.store, o.slot)
		t.end = max(t.end, o.end)
		t.fired = t.fired || o.fired
		s.release(o.slot)
	}
	mergeInto(t.slot)
	t.start, t.end = min(t.start, start), max(t.end, end)
	t.dirty = true
	if len(hits) > 1 {
		l = slices.Delete(l, hits[1], hits[len(hits)-1]+1)
	}
	s.list[gid] = l
	return true
}

// intersects reports whether the session intervals [s1, e1) and [s2, e2)
// merge: they overlap or touch, as Flink's TimeWindow.intersects.
func intersects(s1, e1, s2, e2 int64) bool {
	return s1 <= e2 && e1 >= s2
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sessMergeLocal folds the batch's local sessions into the global ones and
// returns late extended by the rows of local sessions that were too late.
func (o *Operator) sessMergeLocal(prevW int64, late []int32) []int32 {
	s := o.sess
	lateSlot := map[int32]bool{}
	for k, l := range s.llist {
		if k >= o.bk.idx.len() {
			break
		}
		key := o.bk.idx.key(int32(k))
		h := o.bk.idx.hashes[k]
		for _, ls := range l {
			ok := s.insert(key, h, ls.start, ls.end, o.late, prevW, func(dst int32) {
				s.store.mergeSlot(dst, &o.lst, ls.slot)
			})
			if !ok {
				lateSlot[ls.slot] = true
			}
		}
	}
	if len(lateSlot) > 0 {
		for j, sl := range o.keepSlots {
			if lateSlot[sl] {
				late = append(late, int32(rowOf(o.keepRows, j)))
			}
		}
		slices.Sort(late)
	}
	return late
}

// sessFire emits the sessions that ended by newW and have not been
// emitted since they last changed (re-emissions are updates), in order of
// start then key, and drops sessions past end + lateness.
func (o *Operator) sessFire(newW int64, em *emitter) {
	s := o.sess
	type ref struct {
		start int64
		gid   int32
		i     int
	}
	var due []ref
	for g, l := range s.list {
		for i := range l {
			if x := &l[i]; x.end <= newW && (!x.fired || x.dirty) {
				due = append(due, ref{x.start, int32(g), i})
			}
		}
	}
	slices.SortFunc(due, func(a, b ref) int {
		if c := cmpInt(a.start, b.start); c != 0 {
			return c
		}
		return int(a.gid - b.gid)
	})
	for _, r := range due {
		x := &s.list[r.gid][r.i]
		em.add(s.keys.key(r.gid), x.start, x.end, &s.store, x.slot, x.fired)
		x.fired, x.dirty = true, false
	}
	for g, l := range s.list {
		kept := l[:0]
		for _, x := range l {
			if satAdd(x.end, o.late) <= newW {
				s.release(x.slot)
			} else {
				kept = append(kept, x)
			}
		}
		s.list[g] = kept
	}
}

// sessMergePartialRow folds one partial (or snapshot) row into the
// sessions; it returns false if the row is too late.
func (o *Operator) sessMergePartialRow(key []byte, h uint64, start, end, w int64, cols []arrow.Array, row int) bool {
	return o.sess.insert(key, h, start, end, o.late, w, func(dst int32) {
		o.sess.store.mergePartialRow(o.defs, cols, row, dst)
	})
}
