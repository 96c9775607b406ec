package window

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
)

// Snapshot format, version 1 (state in memory), 2 (with Spec.State) or 3
// (SnapshotFiles):
//
//	"PCSWIN" | uint16 version | uint32 n | n bytes of JSON meta | state
//
// where state is, in version 1, an Arrow IPC stream (below), in version
// 2 the backend's Snapshot (package pcs/state's format) of the keys of
// spill.go, and in version 3 nothing (the state is the backend's files);
// all integers little endian. The meta holds the spec fingerprint, the
// effective watermark, each source's max event time and last delivery
// time, and the counters. The IPC stream holds one schema and zero or one
// batch: the open state in PartialSchema plus two bool columns, _fired
// and _dirty (session windows' emission flags; false for panes). A pane
// or session per row, in a deterministic order.

const (
	snapMagic        = "PCSWIN"
	snapVersion      = 1
	snapVersionSpill = 2
	snapVersionFiles = 3
)

type snapMeta struct {
	Spec      string       `json:"spec"`
	Watermark int64        `json:"watermark"`
	Sources   []snapSource `json:"sources"`
	Stats     Stats        `json:"stats"`
}

type snapSource struct {
	Name string `json:"name"`
	Max  int64  `json:"max"`
	Last int64  `json:"last_unix_nano"`
}

// fingerprint identifies what a snapshot's state means: the spec (window,
// lateness, keys, aggregates, time column) and the partial schema.
func (o *Operator) fingerprint() string {
	aggs := make([]string, 0, len(o.defs))
	for _, d := range o.defs {
		aggs = append(aggs, d.Agg.String())
	}
	return fmt.Sprintf("%s|ooo=%v|late=%v|time=%s/%v/%s|keys=%s|aggs=%s|%s", o.spec.Assigner, o.spec.OutOfOrderness,
		o.spec.AllowedLateness, o.spec.Time.Column, o.spec.Time.Unit, o.spec.Time.Format,
		strings.Join(o.spec.Keys, ","), strings.Join(aggs, ","), o.part)
}

// header returns a snapshot's header of version v: magic, version, meta.
func (o *Operator) header(v uint16) ([]byte, error) {
	meta := snapMeta{Spec: o.fingerprint(), Watermark: o.wm.current, Stats: o.Stats()}
	for _, n := range o.wm.names() {
		s := o.wm.sources[n]
		meta.Sources = append(meta.Sources, snapSource{Name: n, Max: s.max, Last: s.last.UnixNano()})
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	b := append([]byte(snapMagic), 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint16(b[len(snapMagic):], v)
	binary.LittleEndian.PutUint32(b[len(snapMagic)+2:], uint32(len(js)))
	return append(b, js...), nil
}

// readHeader parses a snapshot's header, which must be of version want
// and of this operator's spec, and returns the meta and the bytes after.
func (o *Operator) readHeader(b []byte, want uint16) (snapMeta, []byte, error) {
	var meta snapMeta
	bad := func(format string, args ...any) (snapMeta, []byte, error) {
		return meta, nil, fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
	if len(b) < len(snapMagic)+6 || string(b[:len(snapMagic)]) != snapMagic {
		return bad("no %s header", snapMagic)
	}
	b = b[len(snapMagic):]
	if v := binary.LittleEndian.Uint16(b); v != want {
		return bad("version %d, want %d (%s)", v, want, versionNames[want])
	}
	n := binary.LittleEndian.Uint32(b[2:])
	b = b[6:]
	if uint64(n) > uint64(len(b)) {
		return bad("truncated meta")
	}
	if err := json.Unmarshal(b[:n], &meta); err != nil {
		return bad("meta: %v", err)
	}
	if meta.Spec != o.fingerprint() {
		return bad("taken with spec %q, this operator has %q", meta.Spec, o.fingerprint())
	}
	return meta, b[n:], nil
}

// versionNames say which operators write each version.
var versionNames = map[uint16]string{
	snapVersion:      "Snapshot of an operator without a state backend",
	snapVersionSpill: "Snapshot of an operator with a state backend",
	snapVersionFiles: "SnapshotFiles",
}

// snapshotVersion is the version Snapshot writes.
func (o *Operator) snapshotVersion() uint16 {
	if o.spill != nil {
		return snapVersionSpill
	}
	return snapVersion
}

// Snapshot serializes the operator's whole state (open panes or sessions
// with their partial aggregates, per-source watermarks, counters) to
// bytes, for a checkpoint. The operator's state is unchanged (with a
// state backend, the memory is first written to the backend). Restore
// reads it.
func (o *Operator) Snapshot() ([]byte, error) {
	head, err := o.header(o.snapshotVersion())
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(head)
	if o.spill != nil {
		o.flush()
		if o.spill.err != nil {
			return nil, o.spill.err
		}
		if err := o.spill.be.Snapshot(buf); err != nil {
			return nil, fmt.Errorf("window: state backend: snapshot: %w", err)
		}
		return buf.Bytes(), nil
	}
	w := newStateWriter(o, o.snap)
	defer w.release()
	flags := func(fs []array.Builder, fired, dirty bool) {
		fs[0].(*array.BooleanBuilder).Append(fired)
		fs[1].(*array.BooleanBuilder).Append(dirty)
	}
	if o.session {
		s := o.sess
		for g, l := range s.list {
			for _, x := range l {
				flags(w.add(s.keys.key(int32(g)), x.start, x.end, &s.store, x.slot), x.fired, x.dirty)
			}
		}
	} else {
		for _, ps := range o.sortedPanes() {
			t := o.panes[ps]
			for id := 0; id < t.idx.len(); id++ {
				flags(w.add(t.idx.key(int32(id)), ps, o.paneEnd(ps), &t.stateSet, int32(id)), false, false)
			}
		}
	}
	iw := ipc.NewWriter(buf, ipc.WithSchema(o.snap), ipc.WithAllocator(o.mem))
	if rec := w.batch(); rec != nil {
		err = iw.Write(rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	if err := iw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Restore replaces the operator's state with a snapshot taken by Snapshot
// of an operator with the same spec and input schema and, like it, with
// or without a state backend. Errors wrap ErrSnapshot (bad bytes, unknown
// version, another spec); on error the operator is unchanged, unless the
// state backend itself fails (the error then does not wrap ErrSnapshot).
// Source idleness continues from the recorded last delivery times.
func (o *Operator) Restore(b []byte) error {
	meta, rest, err := o.readHeader(b, o.snapshotVersion())
	if err != nil {
		return err
	}
	if o.spill != nil {
		return o.restoreSpilled(meta, rest)
	}
	recs, err := readState(rest, o.mem)
	if err != nil {
		return fmt.Errorf("%w: state: %v", ErrSnapshot, err)
	}
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	for _, rec := range recs {
		if !rec.Schema().Equal(o.snap) {
			return fmt.Errorf("%w: state schema %s", ErrSnapshot, rec.Schema())
		}
	}
	return o.load(meta, recs)
}

// readState decodes the IPC stream of a snapshot defensively: the
// metadata is checked first (ipcguard.CheckStream), message sizes are
// bounded by the input, allocations by ipcguard.LimitAllocator, and
// panics of arrow-go on corrupt input become errors.
func readState(data []byte, mem memory.Allocator) (recs []arrow.RecordBatch, err error) {
	la := ipcguard.NewLimitAllocator(mem, ipcguard.MaxExpansion*int64(len(data))+1<<20)
	defer func() { la.Finish(err != nil) }()
	defer func() {
		if p := recover(); p != nil {
			for _, r := range recs {
				r.Release()
			}
			recs, err = nil, fmt.Errorf("arrow/ipc panicked: %v", p)
		}
	}()
	if _, err := ipcguard.CheckStream(data); err != nil {
		return nil, err
	}
	mr := ipc.NewMessageReader(bytes.NewReader(data), ipc.WithAllocator(la),
		ipc.WithMetadataSizeLimit(int64(len(data))+1), ipc.WithBodySizeLimit(int64(len(data))+1))
	r, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(la))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			for _, r := range recs {
				r.Release()
			}
			return nil, err
		}
		rec.Retain()
		recs = append(recs, rec)
	}
}

// load replaces the state by the snapshot's. A panic on inconsistent
// state columns (bytes that passed the IPC checks but not Snapshot's
// invariants) leaves the operator as it was and returns ErrSnapshot.
func (o *Operator) load(meta snapMeta, recs []arrow.RecordBatch) (err error) {
	oldPanes, oldSess := o.panes, o.sess
	defer func() {
		if p := recover(); p != nil {
			o.panes, o.sess = oldPanes, oldSess
			err = fmt.Errorf("%w: state: %v", ErrSnapshot, p)
		}
	}()
	o.panes = map[int64]*table{}
	o.sess = newSessions(o.defs)
	nk := len(o.keys)
	for _, rec := range recs {
		nrows := int(rec.NumRows())
		ws := rec.Column(nk).(*array.Timestamp).TimestampValues()
		we := rec.Column(nk + 1).(*array.Timestamp).TimestampValues()
		ncols := int(rec.NumCols())
		cols := rec.Columns()[nk+2 : ncols-2]
		fired := rec.Column(ncols - 2).(*array.Boolean)
		dirty := rec.Column(ncols - 1).(*array.Boolean)
		kids := o.bk.assign(o.keys, o.keyArrays(rec, false), nrows)
		for r := range nrows {
			key, h := o.bk.idx.key(kids[r]), o.bk.idx.hashes[kids[r]]
			if o.session {
				s := o.sess
				gid := s.keys.find(key, h)
				for int(gid) >= len(s.list) {
					s.list = append(s.list, nil)
				}
				slot := s.alloc()
				s.store.mergePartialRow(o.defs, cols, r, slot)
				s.list[gid] = append(s.list[gid], sess{start: int64(ws[r]), end: int64(we[r]), slot: slot,
					fired: fired.Value(r), dirty: dirty.Value(r)})
			} else {
				t := o.paneTable(int64(ws[r]))
				t.mergePartialRow(o.defs, cols, r, t.slot(key, h))
			}
		}
	}
	o.loadMeta(meta)
	return nil
}

// loadMeta sets the watermarks and counters of a snapshot.
func (o *Operator) loadMeta(meta snapMeta) {
	clear(o.dirty)
	o.wm.sources = map[string]*source{}
	for _, s := range meta.Sources {
		o.wm.sources[s.Name] = &source{max: s.Max, last: time.Unix(0, s.Last)}
	}
	o.wm.current = meta.Watermark
	o.stats = meta.Stats
}
