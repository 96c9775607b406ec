package ops

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/state"
)

// TotalsState is the component of a RunningTotals checkpoint: the state
// backend's Snapshot (pcs/state's format: key the tuple's encoding, see
// key.go, value the total as 8 bytes big-endian) in column snapshot,
// split into rows of at most 64 MiB, with the value family ("int64" or
// "float64") in column family.
const TotalsState = "totals"

// RunningTotals returns a stateful system that keeps, per key tuple of
// c's keys fields (strings or integers, as Dedupe), the running sum of
// c's value field (any integer type, summed as int64, or float32/float64,
// summed as float64) over every alive row it has seen, in this and
// earlier datasets, and writes each row's total after adding it (out, a field of into, nil meaning c: int64 or float64 by
// the value's family). Rows with a
// null key or value do not count and get a null total. Rows are added in
// row order, datasets in the order they run.
//
// The totals live in a pcs.StateBackend (RunningTotalsWith; in memory
// by default). It implements pcs.Stateful through the backend's Snapshot
// and Restore: pcs-node checkpoints its state (a dataset with component
// "totals", see TotalsState) and restores it after a crash, so every partition counts exactly once (see node's
// checkpointing); Totals reads the state. Runs of one system are
// serialized by a lock (partitions processed concurrently add in some
// order).
//
// Meta: reads the keys and the value, writes out. Errors (*Error, Expr
// "totals(keys) += value"): no key, an unknown field, a key, value or out
// of another type.
func RunningTotals(name string, c pcs.AnyComponent, keys []string, value string, into pcs.AnyComponent, out string) (pcs.System, error) {
	return RunningTotalsWith(name, c, keys, value, into, out, TotalsOptions{})
}

// TotalsOptions are RunningTotalsWith's options.
type TotalsOptions struct {
	// State is where the per-key totals live (key: the tuple's encoding,
	// value: the total as 8 bytes big-endian, an int64 or a float64's
	// bits); nil means a new in-memory backend (state.NewMemory). The
	// system owns it: its Close closes it. It must be empty or hold a
	// state of a system of the same value family.
	State pcs.StateBackend
}

// RunningTotalsWith is RunningTotals with its state in opts.State. The
// system is an io.Closer that closes the backend.
func RunningTotalsWith(name string, c pcs.AnyComponent, keys []string, value string, into pcs.AnyComponent, out string, opts TotalsOptions) (pcs.System, error) {
	if into == nil {
		into = c
	}
	desc := "totals(" + strings.Join(keys, ", ") + ") += " + value
	fail := func(err error) (pcs.System, error) { return nil, &Error{System: name, Expr: desc, Err: err} }
	if len(keys) == 0 {
		return fail(errors.New("no key field"))
	}
	s := &totalsSystem{desc: desc, state: opts.State}
	if s.state == nil {
		s.state = state.NewMemory()
	}
	seen := map[string]bool{}
	var reads []pcs.Ref
	for _, k := range keys {
		f, err := keyField(c, k, seen)
		if err != nil {
			return fail(err)
		}
		s.keys = append(s.keys, f)
		reads = append(reads, f)
	}
	var err error
	if s.value, err = pcs.NewField[arrow.Array](c, value); err != nil {
		return fail(err)
	}
	switch {
	case kindOf(s.value.Type()) == kindInt:
		s.float = false
	case s.value.Type().ID() == arrow.FLOAT64 || s.value.Type().ID() == arrow.FLOAT32:
		s.float = true
	default:
		return fail(fmt.Errorf("%w: value %s is %s, want an integer or float type", pcs.ErrFieldType, s.value, s.value.Type()))
	}
	if s.out, err = pcs.NewField[arrow.Array](into, out); err != nil {
		return fail(err)
	}
	want := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if s.float {
		want = arrow.PrimitiveTypes.Float64
	}
	if !arrow.TypeEqual(s.out.Type(), want) {
		return fail(fmt.Errorf("%w: out %s is %s, want %s", pcs.ErrFieldType, s.out, s.out.Type(), want))
	}
	s.meta = pcs.Meta(name).Read(append(reads, s.value)...).Write(s.out)
	return s, nil
}

type totalsSystem struct {
	meta  pcs.SystemMeta
	desc  string
	keys  []pcs.FieldRef[arrow.Array]
	value pcs.FieldRef[arrow.Array]
	out   pcs.FieldRef[arrow.Array]
	float bool

	mu    sync.Mutex
	state pcs.StateBackend // key encoding -> total (8 bytes big-endian)
}

var _ pcs.Stateful = (*totalsSystem)(nil)

func (s *totalsSystem) Meta() pcs.SystemMeta { return s.meta }

// String returns "totals name: totals(keys) += value".
func (s *totalsSystem) String() string { return "totals " + s.meta.Name + ": " + s.desc }

func (s *totalsSystem) Run(ctx context.Context, ds *pcs.Dataset) error {
	keys, err := keyArrays(ds, s.keys)
	if err != nil {
		return runErr(ctx, err)
	}
	enc, err := keyCols(keys)
	if err != nil {
		return runErr(ctx, err)
	}
	v, err := s.value.Get(ds)
	if err != nil {
		return runErr(ctx, err)
	}
	n := ds.Len()
	// Sums go into a copy first: a failed run must leave the state as it was.
	s.mu.Lock()
	defer s.mu.Unlock()
	changedF, changedI := map[string]float64{}, map[string]int64{}
	var buf []byte
	var arr arrow.Array
	if s.float {
		b := array.NewFloat64Builder(ds.Allocator())
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			k, ok := encodeKey(enc, buf, i)
			buf = k
			if !ok || v.IsNull(i) || !ds.Alive(i) {
				b.AppendNull()
				continue
			}
			key := string(k)
			t, seen := changedF[key]
			if !seen {
				if t, err = s.getFloat(k); err != nil {
					return runErr(ctx, err)
				}
			}
			t += floatAt(v, i)
			changedF[key] = t
			b.UnsafeAppend(t)
		}
		arr = b.NewArray()
	} else {
		b := array.NewInt64Builder(ds.Allocator())
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			k, ok := encodeKey(enc, buf, i)
			buf = k
			if !ok || v.IsNull(i) || !ds.Alive(i) {
				b.AppendNull()
				continue
			}
			key := string(k)
			t, seen := changedI[key]
			if !seen {
				if t, err = s.getInt(k); err != nil {
					return runErr(ctx, err)
				}
			}
			t += intAt(v, i)
			changedI[key] = t
			b.UnsafeAppend(t)
		}
		arr = b.NewArray()
	}
	defer arr.Release()
	if err := s.out.Set(ds, arr); err != nil {
		return runErr(ctx, err)
	}
	// A backend error here leaves some keys updated: the runtime restores
	// the last checkpoint (see pcs.StateBackend).
	var val [8]byte
	for k, t := range changedF {
		binary.BigEndian.PutUint64(val[:], math.Float64bits(t))
		if err := s.state.Put([]byte(k), val[:]); err != nil {
			return runErr(ctx, err)
		}
	}
	for k, t := range changedI {
		binary.BigEndian.PutUint64(val[:], uint64(t))
		if err := s.state.Put([]byte(k), val[:]); err != nil {
			return runErr(ctx, err)
		}
	}
	return nil
}

// get returns key's total as 8 bytes (zero when it has none).
func (s *totalsSystem) get(key []byte) (uint64, error) {
	v, ok, err := s.state.Get(key)
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("ops: %s: state: key %q has a %d-byte total, want 8", s.meta.Name, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (s *totalsSystem) getFloat(key []byte) (float64, error) {
	u, err := s.get(key)
	return math.Float64frombits(u), err
}

func (s *totalsSystem) getInt(key []byte) (int64, error) {
	u, err := s.get(key)
	return int64(u), err
}

// Close closes the state backend.
func (s *totalsSystem) Close() error { return s.state.Close() }

var _ pcs.StatefulFiles = (*totalsSystem)(nil)

// StateFiles reports whether the backend keeps its state as files
// (pcs.StateFiles: the Pebble backend).
func (s *totalsSystem) StateFiles() bool {
	_, ok := s.state.(pcs.StateFiles)
	return ok
}

// SnapshotFiles checkpoints the backend's files; head is the value
// family.
func (s *totalsSystem) SnapshotFiles() ([]byte, string, error) {
	f, ok := s.state.(pcs.StateFiles)
	if !ok {
		return nil, "", fmt.Errorf("ops: %s: the state backend keeps no files", s.meta.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, err := f.CheckpointFiles()
	if err != nil {
		return nil, "", fmt.Errorf("ops: %s: checkpoint: %w", s.meta.Name, err)
	}
	return []byte(s.family()), dir, nil
}

// RestoreFiles restores the backend's files of a checkpoint of a system
// of the same value family (head).
func (s *totalsSystem) RestoreFiles(head []byte, dir string) error {
	f, ok := s.state.(pcs.StateFiles)
	if !ok {
		return fmt.Errorf("ops: %s: the state backend keeps no files", s.meta.Name)
	}
	if string(head) != s.family() {
		return fmt.Errorf("ops: %s: restore: the checkpoint's totals are %q, this system's %s", s.meta.Name, head, s.family())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := f.RestoreFiles(dir); err != nil {
		return fmt.Errorf("ops: %s: restore: %w", s.meta.Name, err)
	}
	return nil
}

func floatAt(a arrow.Array, i int) float64 {
	switch a := a.(type) {
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	}
	return 0
}

func intAt(a arrow.Array, i int) int64 {
	switch a := a.(type) {
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Uint8:
		return int64(a.Value(i))
	case *array.Uint16:
		return int64(a.Value(i))
	case *array.Uint32:
		return int64(a.Value(i))
	case *array.Uint64:
		return int64(a.Value(i))
	}
	return 0
}

// family is the state's value family, as the checkpoint records it.
func (s *totalsSystem) family() string {
	if s.float {
		return "float64"
	}
	return "int64"
}

// snapshotChunk bounds the bytes of one row of a checkpoint's snapshot
// column (a binary array holds at most 2 GiB).
const snapshotChunk = 64 << 20

// stateComponent is the checkpoint's component: rows whose snapshot
// column, concatenated, is the backend's Snapshot (pcs/state's format),
// each row's family the value family ("int64" or "float64").
func stateComponent() *pcs.DynamicComponent {
	return pcs.NewDynamicComponent(TotalsState, arrow.NewSchema([]arrow.Field{
		{Name: "family", Type: arrow.BinaryTypes.String}, {Name: "snapshot", Type: arrow.BinaryTypes.Binary}}, nil))
}

// Checkpoint returns the backend's Snapshot as a dataset (component
// "totals": family, snapshot).
func (s *totalsSystem) Checkpoint(mem memory.Allocator) (*pcs.Dataset, error) {
	s.mu.Lock()
	var buf bytes.Buffer
	err := s.state.Snapshot(&buf)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("ops: %s: checkpoint: %w", s.meta.Name, err)
	}
	comp := stateComponent()
	rb := array.NewRecordBuilder(mem, comp.Schema())
	defer rb.Release()
	fb := rb.Field(0).(*array.StringBuilder)
	sb := rb.Field(1).(*array.BinaryBuilder)
	for b := buf.Bytes(); len(b) > 0; {
		n := min(len(b), snapshotChunk)
		fb.Append(s.family())
		sb.Append(b[:n])
		b = b[n:]
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(comp); err != nil {
		ds.Release()
		return nil, err
	}
	if _, err := ds.Append(map[string]arrow.RecordBatch{TotalsState: rec}); err != nil {
		ds.Release()
		return nil, err
	}
	return ds, nil
}

// Restore replaces the totals with a checkpoint's, through the backend's
// Restore. It also reads the checkpoints of earlier versions (component
// "totals": key binary, total int64 or float64).
func (s *totalsSystem) Restore(ds *pcs.Dataset) error {
	fail := func(err error) error { return fmt.Errorf("ops: %s: restore: %w", s.meta.Name, err) }
	var r io.Reader
	if fam, err := ds.Column(TotalsState, "family"); err == nil {
		snap, err := ds.Column(TotalsState, "snapshot")
		if err != nil {
			return fail(err)
		}
		fs, ok1 := fam.(*array.String)
		sb, ok2 := snap.(*array.Binary)
		if !ok1 || !ok2 {
			return fail(fmt.Errorf("the state has family %s and snapshot %s, want %s", fam.DataType(), snap.DataType(), stateComponent().Schema()))
		}
		var parts []io.Reader
		for i := 0; i < fs.Len(); i++ {
			if fs.Value(i) != s.family() {
				return fail(fmt.Errorf("the state holds %s totals, want %s", fs.Value(i), s.family()))
			}
			parts = append(parts, bytes.NewReader(sb.Value(i)))
		}
		r = io.MultiReader(parts...)
	} else {
		var err error
		if r, err = s.legacy(ds); err != nil {
			return fail(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.state.Restore(r); err != nil {
		return fail(err)
	}
	return nil
}

// legacy converts a checkpoint of key and total columns to a snapshot.
func (s *totalsSystem) legacy(ds *pcs.Dataset) (io.Reader, error) {
	keys, err := ds.Column(TotalsState, "key")
	if err != nil {
		return nil, err
	}
	totals, err := ds.Column(TotalsState, "total")
	if err != nil {
		return nil, err
	}
	want := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if s.float {
		want = arrow.PrimitiveTypes.Float64
	}
	kb, ok := keys.(*array.Binary)
	if !ok || !arrow.TypeEqual(totals.DataType(), want) {
		return nil, fmt.Errorf("the state has key %s and total %s, want binary and %s", keys.DataType(), totals.DataType(), want)
	}
	m := state.NewMemory()
	var val [8]byte
	for i := 0; i < kb.Len(); i++ {
		if s.float {
			binary.BigEndian.PutUint64(val[:], math.Float64bits(totals.(*array.Float64).Value(i)))
		} else {
			binary.BigEndian.PutUint64(val[:], uint64(totals.(*array.Int64).Value(i)))
		}
		m.Put(kb.Value(i), val[:])
	}
	var buf bytes.Buffer
	if err := m.Snapshot(&buf); err != nil {
		return nil, err
	}
	return &buf, nil
}

// Totals returns the current totals by key tuple, each tuple rendered
// with its values separated by "|" (integers in decimal), as float64.
func Totals(s pcs.System) (map[string]float64, error) {
	t, ok := s.(*totalsSystem)
	if !ok {
		return nil, fmt.Errorf("ops: %T is not a RunningTotals system", s)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	err := t.state.Range(nil, func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("ops: %s: state: key %q has a %d-byte total, want 8", t.meta.Name, k, len(v))
		}
		u := binary.BigEndian.Uint64(v)
		if t.float {
			out[decodeKey(string(k))] = math.Float64frombits(u)
		} else {
			out[decodeKey(string(k))] = float64(int64(u))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
