package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// TotalsState is the component of a RunningTotals checkpoint: one row per
// key tuple, key the tuple's encoding (see key.go), total its sum (int64
// or float64, the value field's family).
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
// It implements pcs.Stateful: pcs-node checkpoints its state (a dataset
// with component "totals": key binary, total) and restores it after a
// crash, so every partition counts exactly once (see node's
// checkpointing); Totals reads the state. Runs of one system are
// serialized by a lock (partitions processed concurrently add in some
// order).
//
// Meta: reads the keys and the value, writes out. Errors (*Error, Expr
// "totals(keys) += value"): no key, an unknown field, a key, value or out
// of another type.
func RunningTotals(name string, c pcs.AnyComponent, keys []string, value string, into pcs.AnyComponent, out string) (pcs.System, error) {
	if into == nil {
		into = c
	}
	desc := "totals(" + strings.Join(keys, ", ") + ") += " + value
	fail := func(err error) (pcs.System, error) { return nil, &Error{System: name, Expr: desc, Err: err} }
	if len(keys) == 0 {
		return fail(errors.New("no key field"))
	}
	s := &totalsSystem{desc: desc, totals: map[string]float64{}, ints: map[string]int64{}}
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

	mu     sync.Mutex
	totals map[string]float64 // float values
	ints   map[string]int64   // integer values
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
				t = s.totals[key]
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
				t = s.ints[key]
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
	for k, t := range changedF {
		s.totals[k] = t
	}
	for k, t := range changedI {
		s.ints[k] = t
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

// stateComponent is the checkpoint's component for a value family.
func (s *totalsSystem) stateComponent() *pcs.DynamicComponent {
	t := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if s.float {
		t = arrow.PrimitiveTypes.Float64
	}
	return pcs.NewDynamicComponent(TotalsState, arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.BinaryTypes.Binary}, {Name: "total", Type: t}}, nil))
}

// Checkpoint returns the totals as a dataset (component "totals").
func (s *totalsSystem) Checkpoint(mem memory.Allocator) (*pcs.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	comp := s.stateComponent()
	rb := array.NewRecordBuilder(mem, comp.Schema())
	defer rb.Release()
	kb := rb.Field(0).(*array.BinaryBuilder)
	if s.float {
		tb := rb.Field(1).(*array.Float64Builder)
		for k, t := range s.totals {
			kb.AppendString(k)
			tb.Append(t)
		}
	} else {
		tb := rb.Field(1).(*array.Int64Builder)
		for k, t := range s.ints {
			kb.AppendString(k)
			tb.Append(t)
		}
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

// Restore replaces the totals with a checkpoint's.
func (s *totalsSystem) Restore(ds *pcs.Dataset) error {
	comp := s.stateComponent()
	keys, err := ds.Column(TotalsState, "key")
	if err != nil {
		return fmt.Errorf("ops: %s: restore: %w", s.meta.Name, err)
	}
	totals, err := ds.Column(TotalsState, "total")
	if err != nil {
		return fmt.Errorf("ops: %s: restore: %w", s.meta.Name, err)
	}
	kb, ok := keys.(*array.Binary)
	if !ok || !arrow.TypeEqual(totals.DataType(), comp.Schema().Field(1).Type) {
		return fmt.Errorf("ops: %s: restore: the state has key %s and total %s, want %s", s.meta.Name, keys.DataType(), totals.DataType(), comp.Schema())
	}
	f, in := map[string]float64{}, map[string]int64{}
	for i := 0; i < kb.Len(); i++ {
		if s.float {
			f[string(kb.Value(i))] = totals.(*array.Float64).Value(i)
		} else {
			in[string(kb.Value(i))] = totals.(*array.Int64).Value(i)
		}
	}
	s.mu.Lock()
	s.totals, s.ints = f, in
	s.mu.Unlock()
	return nil
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
	for k, v := range t.totals {
		out[decodeKey(k)] = v
	}
	for k, v := range t.ints {
		out[decodeKey(k)] = float64(v)
	}
	return out, nil
}
