package window

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/pcs-dev/pcs/pcs"
	pcsstate "github.com/pcs-dev/pcs/pcs/state"
)

// DefaultMaxResident is Spec.MaxResident's default: the keyed entries an
// operator with a state backend keeps in memory between flushes.
const DefaultMaxResident = 256 << 10

// Spilled state. With Spec.State the in-memory structures (pane tables,
// sessions) are a write-back cache of the state, which lives in the
// backend: when they hold more than MaxResident keyed entries after a
// batch, every entry is written to the backend and the cache starts
// empty, like an LSM's memtable. An entry is either in memory or in the
// backend, never both: a key the operator meets again is read back
// (faulted in) and deleted from the backend. Keys in the backend:
//
//	's' key                  a key's sessions: uvarint n, then per session
//	                         varint start, varint end, flags (1 fired,
//	                         2 dirty), its states (codec.go)
//	't' due key              index of the above by due time (ordered
//	                         int64): the first end at which a session of
//	                         the key fires or expires; fire reads the due
//	                         keys back, at most MaxResident at a time
//	'p' pane key             one (pane, key) entry's states
//	'P' pane                 the pane has entries in the backend
//
// where pane and due are ordered int64s (big endian, sign bit flipped).
// Panes are read back whole when one of their windows fires (a firing
// window's panes are in memory at once) and entry by entry when a batch
// updates a key of a spilled pane.
type spill struct {
	be     pcs.StateBackend
	max    int
	panes  map[int64]bool // panes with entries in the backend
	filter keyFilter      // the 's' and 'p' keys that may be in the backend
	key    []byte         // scratch: a backend key
	val    []byte         // scratch: a value
	err    error          // the first backend error: the state is unknown
}

// errStop ends a Range early.
var errStop = errors.New("window: stop")

func ordered(b []byte, t int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(t)^1<<63) }

func unordered(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ 1<<63) }

func (sp *spill) fail(op string, err error) {
	if err != nil && sp.err == nil {
		sp.err = fmt.Errorf("window: state backend: %s: %w", op, err)
	}
}

// take reads key's value and deletes it; nil if none.
func (sp *spill) take(key []byte) []byte {
	if !sp.mayHave(key) {
		return nil
	}
	v, ok, err := sp.be.Get(key)
	if err != nil || !ok {
		sp.fail("get", err)
		return nil
	}
	sp.fail("delete", sp.be.Delete(key))
	return v
}

func (sp *spill) put(key, val []byte) {
	sp.noteWrite(key)
	sp.fail("put", sp.be.Put(key, val))
}

// --- sessions -------------------------------------------------------------

// due is when something happens to a key's sessions: the earliest end of
// one to fire, or end + lateness of a fired one to expire.
func due(l []sess, late int64) int64 {
	d := int64(math.MaxInt64)
	for _, x := range l {
		if !x.fired || x.dirty {
			d = min(d, x.end)
		} else {
			d = min(d, satAdd(x.end, late))
		}
	}
	return d
}

// faultSession reads the sessions of key (new in memory, id gid) back from
// the backend, if it has any.
func (o *Operator) faultSession(key []byte, gid int32) {
	sp, s := o.spill, o.sess
	sp.key = append(append(sp.key[:0], 's'), key...)
	v := sp.take(sp.key)
	if v == nil {
		return
	}
	d := &decoder{b: v}
	n := d.uvarint()
	l := make([]sess, 0, min(n, 64))
	for i := uint64(0); i < n && d.err == nil; i++ {
		x := sess{start: d.varint(), end: d.varint()}
		f := d.byte()
		x.fired, x.dirty = f&1 != 0, f&2 != 0
		x.slot = s.alloc()
		s.store.decode(d, x.slot)
		l = append(l, x)
	}
	if d.err != nil {
		sp.fail(fmt.Sprintf("key %q", key), d.err)
		return
	}
	s.list[gid] = l
	sp.key = ordered(append(sp.key[:0], 't'), due(l, o.late))
	sp.fail("delete", sp.be.Delete(append(sp.key, key...)))
}

// flushSessions writes every key's sessions to the backend and empties
// the memory.
func (o *Operator) flushSessions() {
	sp, s := o.spill, o.sess
	for g, l := range s.list {
		if len(l) == 0 {
			continue
		}
		key := s.keys.key(int32(g))
		v := binary.AppendUvarint(sp.val[:0], uint64(len(l)))
		for _, x := range l {
			v = binary.AppendVarint(binary.AppendVarint(v, x.start), x.end)
			v = append(v, boolByte(x.fired)|boolByte(x.dirty)<<1)
			v = s.store.encode(v, x.slot)
		}
		sp.val = v
		sp.put(append(append(sp.key[:0], 's'), key...), v)
		sp.put(append(ordered(append(sp.key[:0], 't'), due(l, o.late)), key...), nil)
	}
	o.sess = o.newSessions()
}

// faultDue reads back the keys whose sessions are due by w, at most
// sp.max of them, and reports whether more are due.
func (o *Operator) faultDue(w int64) bool {
	sp := o.spill
	var keys [][]byte
	more := false
	err := sp.be.Range([]byte{'t'}, func(k, _ []byte) error {
		if len(k) < 9 || unordered(k[1:9]) > w {
			return errStop
		}
		if len(keys) == sp.max {
			more = true
			return errStop
		}
		keys = append(keys, bytes.Clone(k[9:]))
		return nil
	})
	if !errors.Is(err, errStop) {
		sp.fail("range", err)
	}
	single := singleString(o.keys)
	for _, k := range keys {
		o.sess.gid(k, keyHash(single, k)) // not in memory: faulted in
	}
	return more && sp.err == nil
}

// sessFireSpilled is sessFire over the sessions in memory and those due
// in the backend, read back in rounds of at most MaxResident keys.
func (o *Operator) sessFireSpilled(newW int64, em *emitter) {
	for {
		more := o.faultDue(newW)
		o.sessFire(newW, em)
		if !more {
			return
		}
		o.flushSessions()
	}
}

// --- panes ----------------------------------------------------------------

func (sp *spill) paneKey(ps int64, key []byte) []byte {
	sp.key = append(ordered(append(sp.key[:0], 'p'), ps), key...)
	return sp.key
}

// faultPane folds the spilled entry of key in pane ps, if any, into slot
// g of t (new in memory).
func (o *Operator) faultPane(ps int64, t *table, key []byte, g int32) {
	sp := o.spill
	if !sp.panes[ps] {
		return
	}
	if v := sp.take(sp.paneKey(ps, key)); v != nil {
		d := &decoder{b: v}
		t.decode(d, g)
		sp.fail(fmt.Sprintf("pane %d key %q", ps, key), d.err)
	}
}

// spillSlot is t.slot (t the table of pane ps) with a state backend: a
// key new in memory is read back from the backend first.
func (o *Operator) spillSlot(ps int64, t *table, key []byte, h uint64) int32 {
	n := t.idx.len()
	g := t.slot(key, h)
	if int(g) == n {
		o.faultPane(ps, t, key, g)
	}
	return g
}

// loadPane reads every spilled entry of pane ps back into memory.
func (o *Operator) loadPane(ps int64) {
	sp := o.spill
	prefix := ordered([]byte{'p'}, ps)
	t := o.paneTable(ps)
	single := singleString(o.keys)
	var done [][]byte
	err := sp.be.Range(prefix, func(k, v []byte) error {
		key := k[len(prefix):]
		d := &decoder{b: v}
		t.decode(d, t.slot(key, keyHash(single, key)))
		done = append(done, bytes.Clone(k))
		return d.err
	})
	sp.fail(fmt.Sprintf("pane %d", ps), err)
	for _, k := range done {
		sp.fail("delete", sp.be.Delete(k))
	}
	sp.fail("delete", sp.be.Delete(ordered([]byte{'P'}, ps)))
	delete(sp.panes, ps)
}

// loadFiring reads back the spilled panes a window of which fires or has
// fired by w (fired windows re-fire with late rows, and expired panes
// are dropped from memory).
func (o *Operator) loadFiring(w int64) {
	for ps := range o.spill.panes {
		if o.windowEnd(o.firstWindowStart(ps)) <= w {
			o.loadPane(ps)
		}
	}
}

// flushPanes writes every pane entry to the backend and empties the
// memory.
func (o *Operator) flushPanes() {
	sp := o.spill
	for ps, t := range o.panes {
		for id := range t.idx.len() {
			sp.val = t.encode(sp.val[:0], int32(id))
			sp.put(sp.paneKey(ps, t.idx.key(int32(id))), sp.val)
		}
		if t.idx.len() > 0 && !sp.panes[ps] {
			sp.put(ordered([]byte{'P'}, ps), nil)
			sp.panes[ps] = true
		}
	}
	o.panes, o.spare = map[int64]*table{}, nil
}

// --- both -------------------------------------------------------------------

// resident is the number of keyed entries in memory: keys met since the
// last flush (sessions), or (pane, key) entries.
func (o *Operator) resident() int {
	if o.session {
		return o.sess.keys.len()
	}
	n := 0
	for _, t := range o.panes {
		n += t.idx.len()
	}
	return n
}

// spillIfFull flushes the memory to the backend when it holds more than
// MaxResident entries; it returns the backend's first error.
func (o *Operator) spillIfFull() error {
	if o.spill == nil {
		return nil
	}
	if o.resident() > o.spill.max {
		o.flush()
	}
	return o.spill.err
}

// flush writes all state in memory to the backend.
func (o *Operator) flush() {
	if o.session {
		o.flushSessions()
	} else {
		o.flushPanes()
	}
}

// Close closes the state backend (Spec.State), if any; the operator is
// unusable afterwards. Without a backend it does nothing.
func (o *Operator) Close() error {
	if o.spill == nil {
		return nil
	}
	return o.spill.be.Close()
}

// restoreSpilled replaces the state with a version 2 snapshot: meta, then
// the backend's snapshot in data. Errors of data's format wrap
// ErrSnapshot (the state is then unchanged).
func (o *Operator) restoreSpilled(meta snapMeta, data []byte) error {
	if err := o.spill.be.Restore(bytes.NewReader(data)); err != nil {
		if errors.Is(err, pcsstate.ErrSnapshot) {
			return fmt.Errorf("%w: state: %v", ErrSnapshot, err)
		}
		return fmt.Errorf("window: state backend: restore: %w", err)
	}
	return o.afterBackendRestore(meta)
}

// afterBackendRestore empties the memory after the backend's state was
// replaced, finds its spilled panes and sets the snapshot's meta.
func (o *Operator) afterBackendRestore(meta snapMeta) error {
	sp := o.spill
	o.panes, o.spare = map[int64]*table{}, nil
	o.sess = o.newSessions()
	clear(sp.panes)
	sp.err = nil
	sp.rebuild()
	if err := sp.be.Range([]byte{'P'}, func(k, _ []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: pane marker %q", ErrSnapshot, k)
		}
		sp.panes[unordered(k[1:])] = true
		return nil
	}); err != nil {
		return err
	}
	o.loadMeta(meta)
	return nil
}

// StateFiles reports whether the operator's state backend keeps its
// state as files (pcs.StateFiles), for SnapshotFiles and RestoreFiles.
func (o *Operator) StateFiles() bool {
	if o.spill == nil {
		return false
	}
	_, ok := o.spill.be.(pcs.StateFiles)
	return ok
}

// SnapshotFiles is Snapshot for an operator whose backend keeps files
// (StateFiles): the memory is written to the backend, the backend's
// checkpoint goes to a new directory, dir (the caller's, to remove; see
// pcs.StateFiles.CheckpointFiles), and head holds the rest (watermarks,
// counters: Snapshot's header, version 3, without state). RestoreFiles
// reads both back.
func (o *Operator) SnapshotFiles() (head []byte, dir string, err error) {
	if !o.StateFiles() {
		return nil, "", fmt.Errorf("window: SnapshotFiles: the state backend keeps no files")
	}
	o.flush()
	if o.spill.err != nil {
		return nil, "", o.spill.err
	}
	if head, err = o.header(snapVersionFiles); err != nil {
		return nil, "", err
	}
	if dir, err = o.spill.be.(pcs.StateFiles).CheckpointFiles(); err != nil {
		return nil, "", fmt.Errorf("window: state backend: %w", err)
	}
	return head, dir, nil
}

// RestoreFiles replaces the operator's state with what SnapshotFiles
// returned (head) and wrote (dir, which stays the caller's). Errors of
// head wrap ErrSnapshot, and the operator is then unchanged; a backend
// error leaves the state unknown.
func (o *Operator) RestoreFiles(head []byte, dir string) error {
	if !o.StateFiles() {
		return fmt.Errorf("window: RestoreFiles: the state backend keeps no files")
	}
	meta, rest, err := o.readHeader(head, snapVersionFiles)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes after the header", ErrSnapshot, len(rest))
	}
	if err := o.spill.be.(pcs.StateFiles).RestoreFiles(dir); err != nil {
		return fmt.Errorf("window: state backend: %w", err)
	}
	return o.afterBackendRestore(meta)
}
