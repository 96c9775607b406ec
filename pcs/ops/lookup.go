package ops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// Table is an immutable lookup table for [Lookup]: a RecordBatch, its key
// columns and a hash index from key to row, built once by [NewTable]. A
// Table is safe for concurrent use. It holds a reference to the
// RecordBatch until Release.
type Table struct {
	rec   arrow.RecordBatch
	keys  []string
	kinds []keyKind
	one   *oneKey          // one key column: by value (probe.go)
	index map[string]int64 // several: by encoded key tuple (key.go)
}

// ErrDuplicateKey: NewTable found two rows with the same key tuple.
var ErrDuplicateKey = errors.New("ops: duplicate key in lookup table")

// NewTable indexes rec by the key columns keys (one or more, of types
// string, large_string or any integer type) and retains rec. Rows with a
// null in any key column are never matched. Errors: no key, an unknown
// column (wrapping pcs.ErrUnknownField), a key column of another type, a
// key named twice, and two rows with the same key tuple
// (ErrDuplicateKey: a lookup finds at most one row).
func NewTable(rec arrow.RecordBatch, keys ...string) (*Table, error) {
	if len(keys) == 0 {
		return nil, errors.New("ops: lookup table without key columns")
	}
	arrs := make([]arrow.Array, len(keys))
	kinds := make([]keyKind, len(keys))
	seen := map[string]bool{}
	for i, k := range keys {
		if seen[k] {
			return nil, fmt.Errorf("ops: lookup table key %q named twice", k)
		}
		seen[k] = true
		idx := rec.Schema().FieldIndices(k)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%w: lookup table has no (single) column %q", pcs.ErrUnknownField, k)
		}
		arrs[i] = rec.Column(idx[0])
		kinds[i] = kindOf(arrs[i].DataType())
	}
	t := &Table{rec: rec, keys: append([]string(nil), keys...), kinds: kinds}
	var err error
	if len(arrs) == 1 {
		t.one, err = newOneKey(arrs[0])
	} else {
		t.index, err = newIndex(arrs)
	}
	if err != nil {
		return nil, fmt.Errorf("ops: lookup table: %w", err)
	}
	rec.Retain()
	return t, nil
}

// newIndex indexes the rows of the key columns arrs by encoded key tuple.
func newIndex(arrs []arrow.Array) (map[string]int64, error) {
	cols, err := keyCols(arrs)
	if err != nil {
		return nil, err
	}
	n := arrs[0].Len()
	index := make(map[string]int64, n)
	var buf []byte
	for i := 0; i < n; i++ {
		var ok bool
		if buf, ok = encodeKey(cols, buf, i); !ok {
			continue
		}
		if j, dup := index[string(buf)]; dup {
			return nil, fmt.Errorf("%w: rows %d and %d", ErrDuplicateKey, j, i)
		}
		index[string(buf)] = int64(i)
	}
	return index, nil
}

// Record returns the table's RecordBatch, borrowed (valid until Release).
func (t *Table) Record() arrow.RecordBatch { return t.rec }

// Keys returns the key column names, in order.
func (t *Table) Keys() []string { return append([]string(nil), t.keys...) }

// Len returns the number of rows of the table.
func (t *Table) Len() int { return int(t.rec.NumRows()) }

// Release releases the table's reference to its RecordBatch. Release it
// once no dataset that holds it as a resource runs any more.
func (t *Table) Release() { t.rec.Release() }

// LookupTable returns t itself: *Table is a [TableResource].
func (t *Table) LookupTable() *Table { return t }

// TableResource is a resource type that holds a lookup table. *Table is
// one; to give a dataset several tables, declare a named type per table
// embedding *Table (type Currencies struct{ *ops.Table }) and use
// [LookupFrom].
type TableResource interface{ LookupTable() *Table }

// LookupOptions configures [Lookup].
type LookupOptions struct {
	// Values are the fields the lookup writes (at least one), of
	// component Into.
	Values []string
	// Into is the component of the Values fields; nil means c, the
	// component of the key fields.
	Into pcs.AnyComponent
	// Columns are the table's columns read into Values, in the same
	// order; nil means the columns of the same names.
	Columns []string
	// Inner deletes the rows whose key is missing or null (an inner
	// join); the default leaves them with null values (a left join).
	Inner bool
	// Stats, if not nil, accumulates counters of every run.
	Stats *LookupStats
}

// LookupStats are the counters of a Lookup system, safe for concurrent
// use. A run adds to them when it succeeds (a run whose stage later fails
// and is retried is counted again).
type LookupStats struct {
	Runs    atomic.Int64 // successful runs
	Rows    atomic.Int64 // alive rows looked up
	Missing atomic.Int64 // of those, rows whose key was null or not in the table
}

// Lookup returns a system that joins the rows of c against the lookup
// table held in the dataset's resource of type *Table: for every row it
// finds the table row whose key columns equal c's fields keys (in order,
// the n-th key field against the table's n-th key column) and writes the
// table's columns opts.Columns into the fields opts.Values (of
// opts.Into, default c).
//
// Matching: keys match by value within a family, integers (any width and
// signedness: int32 7 matches uint64 7) or strings (string and
// large_string); a key field and its table column of different families
// is a run error. A null in any key field never matches (SQL: null = x is
// not true); neither do table rows with a null key.
//
// Missing keys (null or absent) leave nulls in the value fields (left
// join), or with opts.Inner the row is deleted (inner join). Rows already
// deleted are looked up too (their values are written, never seen) but
// neither counted nor deleted again. opts.Stats counts alive rows and
// missing keys.
//
// Types: each value field must have exactly the type of its table column
// (checked at run time, where the table is known). Values are gathered by
// row index with arrow-go's take kernel (compute.TakeArray) over an int64
// index array whose nulls are the missing keys; tested with float64,
// string and bool columns. A field of a type take does not support fails
// the run (permanently). Dictionary-encoded values are gathered as such
// only when field and column have the same dictionary type (untested).
// A value field of type dictionary<int32, T> over a table column of type
// T gets a dictionary of just the table rows the dataset uses, in order
// of first use, and int32 indices into it: each looked-up value is
// stored once per partition instead of once per row.
//
// Meta: reads the key fields and pcs.Resource[*Table](), writes the value
// fields, and pcs.Rows with Inner.
//
// Errors (*Error, Expr "lookup(keys...)"): no key or value, an unknown
// field (wrapping pcs.ErrUnknownField), a key field that is not string,
// large_string or integer, a field both key and value, a field named
// twice, len(Columns) != len(Values). Run errors (permanent): no *Table
// resource (pcs.ErrNoResource), a nil table, a table whose key count or
// key families differ, a missing table column or one of another type.
func Lookup(name string, c pcs.AnyComponent, keys []string, opts LookupOptions) (pcs.System, error) {
	return LookupFrom[*Table](name, c, keys, opts)
}

// LookupFrom is [Lookup] reading the table from the resource of type R,
// so that a dataset can hold several tables:
//
//	type Currencies struct{ *ops.Table }
//	pcs.InsertResource(ds, Currencies{t})
//	s, err := ops.LookupFrom[Currencies]("fx", c, []string{"ccy"}, opts)
func LookupFrom[R TableResource](name string, c pcs.AnyComponent, keys []string, opts LookupOptions) (pcs.System, error) {
	return newLookup(name, c, keys, opts, pcs.Resource[R](), func(ds *pcs.Dataset) (*Table, error) {
		r, err := pcs.GetResource[R](ds)
		if err != nil {
			return nil, err
		}
		return r.LookupTable(), nil
	})
}

// Tables is a resource holding lookup tables by name, for pipelines whose
// tables come from configuration rather than Go types (pcs-node's `table`
// resource fills it). A Tables value is read-only once inserted: add a
// table with With, which returns a copy.
type Tables map[string]*Table

// With returns a copy of ts with t under name.
func (ts Tables) With(name string, t *Table) Tables {
	out := make(Tables, len(ts)+1)
	for k, v := range ts {
		out[k] = v
	}
	out[name] = t
	return out
}

// LookupNamed is [Lookup] reading the table called table from the
// dataset's [Tables] resource. Meta reads pcs.Resource[Tables](). Run
// errors (permanent): no Tables resource (pcs.ErrNoResource), or no table
// of that name (ErrNoTable, listing the names present).
func LookupNamed(name string, c pcs.AnyComponent, table string, keys []string, opts LookupOptions) (pcs.System, error) {
	return newLookup(name, c, keys, opts, pcs.Resource[Tables](), func(ds *pcs.Dataset) (*Table, error) {
		ts, err := pcs.GetResource[Tables](ds)
		if err != nil {
			return nil, err
		}
		t, ok := ts[table]
		if !ok {
			return nil, fmt.Errorf("%w: %q (tables: %v)", ErrNoTable, table, slices.Sorted(maps.Keys(ts)))
		}
		return t, nil
	})
}

// ErrNoTable: the dataset's Tables resource has no table of the name a
// LookupNamed system reads.
var ErrNoTable = errors.New("ops: no such lookup table")

func newLookup(name string, c pcs.AnyComponent, keys []string, opts LookupOptions, res pcs.Ref, get func(*pcs.Dataset) (*Table, error)) (pcs.System, error) {
	desc := "lookup(" + strings.Join(keys, ", ") + ")"
	fail := func(err error) (pcs.System, error) { return nil, &Error{System: name, Expr: desc, Err: err} }
	if len(keys) == 0 {
		return fail(errors.New("no key field"))
	}
	if len(opts.Values) == 0 {
		return fail(errors.New("no value field"))
	}
	cols := opts.Columns
	if cols == nil {
		cols = opts.Values
	}
	if len(cols) != len(opts.Values) {
		return fail(fmt.Errorf("%d value fields but %d table columns", len(opts.Values), len(cols)))
	}
	s := &lookupSystem{opts: opts, cols: append([]string(nil), cols...), desc: desc, get: get}
	seen := map[string]bool{}
	var reads, writes []pcs.Ref
	for _, k := range keys {
		f, err := keyField(c, k, seen)
		if err != nil {
			return fail(err)
		}
		s.keys = append(s.keys, f)
		reads = append(reads, f)
	}
	into := opts.Into
	if into == nil {
		into = c
	}
	if into.Name() != c.Name() {
		seen = map[string]bool{}
	}
	for _, v := range opts.Values {
		if seen[v] {
			return fail(fmt.Errorf("field %q named twice", v))
		}
		seen[v] = true
		f, err := pcs.NewField[arrow.Array](into, v)
		if err != nil {
			return fail(err)
		}
		s.values = append(s.values, f)
		writes = append(writes, f)
	}
	reads = append(reads, res)
	if opts.Inner {
		writes = append(writes, pcs.Rows)
	}
	s.meta = pcs.Meta(name).Read(reads...).Write(writes...)
	return s, nil
}

// keyField returns the handle of key field k of c, checking its type and
// that it is named once.
func keyField(c pcs.AnyComponent, k string, seen map[string]bool) (pcs.FieldRef[arrow.Array], error) {
	var zero pcs.FieldRef[arrow.Array]
	if seen[k] {
		return zero, fmt.Errorf("field %q named twice", k)
	}
	seen[k] = true
	f, err := pcs.NewField[arrow.Array](c, k)
	if err != nil {
		return zero, err
	}
	if kindOf(f.Type()) == kindNone {
		return zero, fmt.Errorf("key field %s is %s: keys must be string, large_string or integer", f, f.Type())
	}
	return f, nil
}

type lookupSystem struct {
	meta   pcs.SystemMeta
	desc   string
	opts   LookupOptions
	keys   []pcs.FieldRef[arrow.Array]
	values []pcs.FieldRef[arrow.Array]
	cols   []string
	get    func(*pcs.Dataset) (*Table, error)
}

func (s *lookupSystem) Meta() pcs.SystemMeta { return s.meta }

// String returns "lookup name: lookup(keys...) -> values".
func (s *lookupSystem) String() string {
	out := "lookup " + s.meta.Name + ": " + s.desc + " -> "
	for i, v := range s.values {
		if i > 0 {
			out += ", "
		}
		out += v.String()
	}
	if s.opts.Inner {
		out += " (inner)"
	}
	return out
}

// keyArrays returns the key columns of ds, borrowed.
func keyArrays(ds *pcs.Dataset, keys []pcs.FieldRef[arrow.Array]) ([]arrow.Array, error) {
	arrs := make([]arrow.Array, len(keys))
	for i, f := range keys {
		a, err := f.Get(ds)
		if err != nil {
			return nil, err
		}
		arrs[i] = a
	}
	return arrs, nil
}

// check validates the table against the system's keys and values and
// returns the table's value columns.
func (s *lookupSystem) check(t *Table, keys []arrow.Array) ([]arrow.Array, error) {
	if t == nil {
		return nil, fmt.Errorf("ops: lookup %s: the table resource is nil", s.meta.Name)
	}
	if len(t.keys) != len(s.keys) {
		return nil, fmt.Errorf("ops: lookup %s: %d key fields, but the table has %d key columns %v",
			s.meta.Name, len(s.keys), len(t.keys), t.keys)
	}
	for i, a := range keys {
		if k := kindOf(a.DataType()); k != t.kinds[i] {
			return nil, fmt.Errorf("ops: lookup %s: key field %s is %s (%s), table key column %q is %s",
				s.meta.Name, s.keys[i], a.DataType(), k, t.keys[i], t.kinds[i])
		}
	}
	out := make([]arrow.Array, len(s.cols))
	for i, name := range s.cols {
		idx := t.rec.Schema().FieldIndices(name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("ops: lookup %s: %w: the table has no (single) column %q", s.meta.Name, pcs.ErrUnknownField, name)
		}
		col := t.rec.Column(idx[0])
		want := s.values[i].Type()
		if d, ok := want.(*arrow.DictionaryType); ok && d.IndexType.ID() == arrow.INT32 && arrow.TypeEqual(d.ValueType, col.DataType()) {
			out[i] = col
			continue
		}
		if !arrow.TypeEqual(want, col.DataType()) {
			return nil, fmt.Errorf("ops: lookup %s: %w: field %s is %s, table column %q is %s",
				s.meta.Name, pcs.ErrFieldType, s.values[i], want, name, col.DataType())
		}
		out[i] = col
	}
	return out, nil
}

func (s *lookupSystem) Run(ctx context.Context, ds *pcs.Dataset) error {
	t, err := s.get(ds)
	if err != nil {
		return runErr(ctx, err)
	}
	keys, err := keyArrays(ds, s.keys)
	if err != nil {
		return runErr(ctx, err)
	}
	vals, err := s.check(t, keys)
	if err != nil {
		return runErr(ctx, err)
	}
	mem := ds.Allocator()
	n := ds.Len()
	rows := make([]int64, n)
	if err := t.probe(keys, rows); err != nil { // cannot happen: check compared the key kinds
		return runErr(ctx, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.Reserve(n)
	var (
		alive, matched int
		missing        int
		deletes        []int
	)
	for i, row := range rows {
		ok := row >= 0
		if ok {
			ib.UnsafeAppend(row)
			matched++
		} else {
			ib.UnsafeAppendBoolToBitmap(false)
		}
		if ds.Alive(i) {
			alive++
			if !ok {
				missing++
				if s.opts.Inner {
					deletes = append(deletes, i)
				}
			}
		}
	}
	idx := ib.NewInt64Array()
	defer idx.Release()
	var dict *dictIndex // built on first use
	defer func() {
		if dict != nil {
			dict.release()
		}
	}()
	for i, f := range s.values {
		var out arrow.Array
		_, isDict := f.Type().(*arrow.DictionaryType)
		switch {
		case matched == 0:
			out = array.MakeArrayOfNull(mem, f.Type(), n)
		case isDict:
			if dict == nil {
				dict = newDictIndex(mem, idx, t.Len())
			}
			if out, err = dict.gather(ctx, mem, f.Type(), vals[i]); err != nil {
				return runErr(ctx, err)
			}
		default:
			if out, err = compute.TakeArray(compute.WithAllocator(ctx, mem), vals[i], idx); err != nil {
				return runErr(ctx, err)
			}
		}
		err := f.Set(ds, out)
		out.Release()
		if err != nil {
			return runErr(ctx, err)
		}
	}
	for _, i := range deletes {
		if err := ds.Delete(i); err != nil {
			return runErr(ctx, err)
		}
	}
	if st := s.opts.Stats; st != nil {
		st.Runs.Add(1)
		st.Rows.Add(int64(alive))
		st.Missing.Add(int64(missing))
	}
	return nil
}

// dictIndex maps the table rows a run matched to dense dictionary ids in
// order of first use: indices[i] is row i's id (null when unmatched), and
// used lists the table row of each id. Value fields of dictionary type
// get these indices over a dictionary of just the used rows, so a
// partition carries each looked-up string once, not once per row.
type dictIndex struct {
	indices *array.Int32
	used    *array.Int64
}

func newDictIndex(mem memory.Allocator, idx *array.Int64, tableRows int) *dictIndex {
	ids := make([]int32, tableRows) // table row -> id + 1; 0: unused
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	ub := array.NewInt64Builder(mem)
	defer ub.Release()
	ib.Reserve(idx.Len())
	rows := idx.Int64Values()
	for i := range rows {
		if idx.IsNull(i) {
			ib.UnsafeAppendBoolToBitmap(false)
			continue
		}
		r := rows[i]
		if ids[r] == 0 {
			ub.Append(r)
			ids[r] = int32(ub.Len())
		}
		ib.UnsafeAppend(ids[r] - 1)
	}
	return &dictIndex{indices: ib.NewInt32Array(), used: ub.NewInt64Array()}
}

// gather returns the dictionary array of type dt over col's used rows;
// the caller releases it.
func (d *dictIndex) gather(ctx context.Context, mem memory.Allocator, dt arrow.DataType, col arrow.Array) (arrow.Array, error) {
	values, err := compute.TakeArray(compute.WithAllocator(ctx, mem), col, d.used)
	if err != nil {
		return nil, err
	}
	defer values.Release()
	return array.NewDictionaryArray(dt, d.indices, values), nil
}

func (d *dictIndex) release() {
	d.indices.Release()
	d.used.Release()
}
