package pcs

import (
	"context"
	"fmt"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Dataset is a set of rows stored column-wise: one RecordBatch's worth of
// columns per registered component, every component with the same row
// count, an alive bitmap for soft deletes, and resources (typed singletons,
// see InsertResource).
//
// Row i of every component describes the same entity. Deleted rows keep
// their place (and row numbers) until Compact.
//
// Ownership: the Dataset owns its columns and releases them in Release.
// Arrays it returns are borrowed: valid until the column is replaced
// (FieldRef.Set, the end of a pipeline stage, Compact, Append) or the
// dataset is released; Retain them to keep them longer. Arrays and batches
// passed in are retained, never taken over.
//
// Concurrency: any number of goroutines may read a Dataset at once; a
// write must not run concurrently with anything else. Within a pipeline
// this holds by construction: systems of a stage only read the dataset and
// buffer their writes.
type Dataset struct {
	st *store
	sc *scope // non-nil when the dataset is handed to a running system
}

type store struct {
	mem       memory.Allocator
	comps     []*compData
	byName    map[string]int
	rows      int
	alive     []byte // validity-style bitmap, 1 = alive; nil = all alive
	deleted   int
	resources map[reflect.Type]any // values are *T
}

type compData struct {
	name   string
	schema *arrow.Schema
	cols   []arrow.Array
}

// RowRange is the half-open row interval [Lo, Hi).
type RowRange struct{ Lo, Hi int }

// Len returns Hi - Lo.
func (r RowRange) Len() int { return r.Hi - r.Lo }

// NewDataset returns an empty dataset whose columns are allocated from mem
// (memory.DefaultAllocator if nil).
func NewDataset(mem memory.Allocator) *Dataset {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	return &Dataset{st: &store{mem: mem, byName: map[string]int{}, resources: map[reflect.Type]any{}}}
}

// Allocator returns the allocator the dataset allocates columns from.
func (ds *Dataset) Allocator() memory.Allocator { return ds.st.mem }

// Register adds components. Registering a component already present with
// an equal schema does nothing; with a different schema it fails with
// ErrSchemaMismatch. A component added to a dataset that has rows gets
// empty columns: nulls in nullable fields, zero values in the others
// (fixed-width, string and binary types; others fail).
func (ds *Dataset) Register(cs ...AnyComponent) error {
	if ds.sc != nil {
		return &AccessError{System: ds.sc.system, Op: "write", What: "dataset components (Register)"}
	}
	st := ds.st
	for _, c := range cs {
		if i, ok := st.byName[c.Name()]; ok {
			if !st.comps[i].schema.Equal(c.Schema()) {
				return fmt.Errorf("%w: component %q registered with schema %s, now %s", ErrSchemaMismatch, c.Name(), st.comps[i].schema, c.Schema())
			}
			continue
		}
		cols, err := emptyColumns(st.mem, c.Name(), c.Schema(), st.rows)
		if err != nil {
			return err
		}
		st.byName[c.Name()] = len(st.comps)
		st.comps = append(st.comps, &compData{name: c.Name(), schema: c.Schema(), cols: cols})
	}
	return nil
}

// emptyColumns returns n rows for every field of a component that got
// no data (see emptyColumn).
func emptyColumns(mem memory.Allocator, comp string, s *arrow.Schema, n int) ([]arrow.Array, error) {
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		col, err := emptyColumn(mem, f, n)
		if err != nil {
			releaseAll(cols)
			return nil, fmt.Errorf("%w: component %q: field %q: %v", ErrSchemaMismatch, comp, f.Name, err)
		}
		cols[i] = col
	}
	return cols, nil
}

// emptyColumn returns n rows of field f: nulls when f is nullable, zero
// values (0, false, "", the epoch) when it is not and its type is
// fixed-width, string or binary. Other non-nullable types have no empty
// value: an error.
func emptyColumn(mem memory.Allocator, f arrow.Field, n int) (arrow.Array, error) {
	arr := array.MakeArrayOfNull(mem, f.Type, n)
	if f.Nullable || n == 0 {
		return arr, nil
	}
	defer arr.Release()
	switch f.Type.(type) {
	case arrow.FixedWidthDataType, arrow.BinaryDataType:
	default:
		return nil, fmt.Errorf("not nullable, and %s has no zero value to fill %d rows with", f.Type, n)
	}
	// MakeArrayOfNull's buffers are zeroed: drop the validity bitmap.
	d := arr.Data()
	bufs := append([]*memory.Buffer{nil}, d.Buffers()[1:]...)
	zd := array.NewData(f.Type, n, bufs, nil, 0, 0)
	defer zd.Release()
	return array.MakeFromData(zd), nil
}

// Components returns the registered component names in registration order.
func (ds *Dataset) Components() []string {
	out := make([]string, len(ds.st.comps))
	for i, c := range ds.st.comps {
		out[i] = c.name
	}
	return out
}

// Schema returns the schema of a registered component, or an error
// wrapping ErrUnknownComponent.
func (ds *Dataset) Schema(component string) (*arrow.Schema, error) {
	c, err := ds.st.comp(component)
	if err != nil {
		return nil, err
	}
	return c.schema, nil
}

func (st *store) comp(name string) (*compData, error) {
	i, ok := st.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownComponent, name)
	}
	return st.comps[i], nil
}

// Len returns the number of rows, deleted ones included.
func (ds *Dataset) Len() int { return ds.st.rows }

// Live returns the number of rows not deleted.
func (ds *Dataset) Live() int { return ds.st.rows - ds.st.deleted }

// Append appends one batch per component, keyed by component name, all with
// the same row count n, and returns the new rows' range. A registered
// component missing from batches gets n empty rows: nulls in nullable
// fields, zero values (0, false, "", the epoch) in the others. Errors (nothing is appended): ErrUnknownComponent,
// ErrSchemaMismatch, ErrRowCount. The batches are retained or copied; the
// caller keeps ownership of them.
func (ds *Dataset) Append(batches map[string]arrow.RecordBatch) (RowRange, error) {
	if ds.sc != nil {
		return RowRange{}, &AccessError{System: ds.sc.system, Op: "write", What: "dataset rows (Append)"}
	}
	st := ds.st
	n := -1
	for name, b := range batches {
		c, err := st.comp(name)
		if err != nil {
			return RowRange{}, err
		}
		if !b.Schema().Equal(c.schema) {
			return RowRange{}, fmt.Errorf("%w: component %q: batch schema %s, want %s", ErrSchemaMismatch, name, b.Schema(), c.schema)
		}
		if n >= 0 && int(b.NumRows()) != n {
			return RowRange{}, fmt.Errorf("%w: component %q: batch has %d rows, others %d", ErrRowCount, name, b.NumRows(), n)
		}
		n = int(b.NumRows())
	}
	if n <= 0 {
		return RowRange{Lo: st.rows, Hi: st.rows}, nil
	}
	added := make([][]arrow.Array, len(st.comps))
	for i, c := range st.comps {
		if b, ok := batches[c.name]; ok {
			added[i] = b.Columns()
			continue
		}
		cols, err := emptyColumns(st.mem, c.name, c.schema, n)
		if err != nil {
			return RowRange{}, err
		}
		defer releaseAll(cols)
		added[i] = cols
	}
	next := make([][]arrow.Array, len(st.comps))
	for i, c := range st.comps {
		next[i] = make([]arrow.Array, len(c.cols))
		for j, old := range c.cols {
			if st.rows == 0 {
				added[i][j].Retain()
				next[i][j] = added[i][j]
				continue
			}
			cat, err := array.Concatenate([]arrow.Array{old, added[i][j]}, st.mem)
			if err != nil {
				for _, cols := range next {
					releaseAll(cols)
				}
				return RowRange{}, fmt.Errorf("pcs: append %s.%s: %w", c.name, c.schema.Field(j).Name, err)
			}
			next[i][j] = cat
		}
	}
	for i, c := range st.comps {
		releaseAll(c.cols)
		c.cols = next[i]
	}
	r := RowRange{Lo: st.rows, Hi: st.rows + n}
	st.rows += n
	if st.alive != nil {
		st.alive = growBitmap(st.alive, r.Lo, r.Hi)
	}
	return r, nil
}

// AppendRows appends rows of component c (see Component.Batch and
// Dataset.Append; other components get empty rows), registering c first
// if the dataset does not have it, and returns the rows' range.
func AppendRows[T any](ds *Dataset, c *Component[T], rows []T) (RowRange, error) {
	if _, err := ds.Schema(c.Name()); err != nil {
		if err := ds.Register(c); err != nil {
			return RowRange{}, err
		}
	}
	b, err := c.Batch(ds.st.mem, rows)
	if err != nil {
		return RowRange{}, err
	}
	defer b.Release()
	return ds.Append(map[string]arrow.RecordBatch{c.Name(): b})
}

// growBitmap extends an alive bitmap from lo to hi rows, new rows alive.
func growBitmap(bm []byte, lo, hi int) []byte {
	need := int(bitutil.BytesForBits(int64(hi)))
	if need > len(bm) {
		bm = append(bm, make([]byte, need-len(bm))...)
	}
	bitutil.SetBitsTo(bm, int64(lo), int64(hi-lo), true)
	return bm
}

// Column returns the column of component.field: ds.Len() rows, borrowed
// (see Dataset). Errors: ErrUnknownComponent, ErrUnknownField,
// ErrUndeclaredAccess.
func (ds *Dataset) Column(component, field string) (arrow.Array, error) {
	return ds.column(component, field, -1)
}

// column resolves component.field; idx is the field index when the caller
// knows it (FieldRef) or -1.
func (ds *Dataset) column(component, field string, idx int) (arrow.Array, error) {
	c, err := ds.st.comp(component)
	if err != nil {
		return nil, err
	}
	idx, err = c.resolve(field, idx)
	if err != nil {
		return nil, err
	}
	if ds.sc != nil {
		return ds.sc.read(c, idx)
	}
	return c.cols[idx], nil
}

func (c *compData) resolve(field string, idx int) (int, error) {
	if idx >= 0 && idx < c.schema.NumFields() && c.schema.Field(idx).Name == field {
		return idx, nil
	}
	if idx = fieldIndex(c.schema, field); idx < 0 {
		return -1, fmt.Errorf("%w: component %q has no field %q (fields: %s)", ErrUnknownField, c.name, field, fieldNames(schemaNames(c.schema)))
	}
	return idx, nil
}

func (ds *Dataset) setColumn(component, field string, idx int, arr arrow.Array) error {
	c, err := ds.st.comp(component)
	if err != nil {
		return err
	}
	if idx, err = c.resolve(field, idx); err != nil {
		return err
	}
	if want := c.schema.Field(idx).Type; !arrow.TypeEqual(arr.DataType(), want) {
		return fmt.Errorf("%w: %s.%s is %s, got %s", ErrSchemaMismatch, component, field, want, arr.DataType())
	}
	if arr.Len() != ds.st.rows {
		return fmt.Errorf("%w: %s.%s: column has %d rows, dataset %d", ErrRowCount, component, field, arr.Len(), ds.st.rows)
	}
	if ds.sc != nil {
		return ds.sc.write(c, idx, arr)
	}
	arr.Retain()
	c.cols[idx].Release()
	c.cols[idx] = arr
	return nil
}

// Batch returns component's columns as a new RecordBatch of ds.Len() rows
// (deleted rows included). The caller must Release it.
func (ds *Dataset) Batch(component string) (arrow.RecordBatch, error) {
	c, err := ds.st.comp(component)
	if err != nil {
		return nil, err
	}
	cols := make([]arrow.Array, len(c.cols))
	for i := range cols {
		if cols[i], err = ds.column(component, c.schema.Field(i).Name, i); err != nil {
			return nil, err
		}
	}
	return array.NewRecordBatch(c.schema, cols, int64(ds.st.rows)), nil
}

// Delete soft-deletes row i in O(1): the row keeps its number and its data
// until Compact, and stops counting in Live. Deleting a deleted row does
// nothing. Inside a system (which must declare Write(pcs.Rows)) the delete
// is buffered and applied after the stage. Errors: an out-of-range row,
// ErrUndeclaredAccess.
func (ds *Dataset) Delete(i int) error {
	if i < 0 || i >= ds.st.rows {
		return fmt.Errorf("pcs: delete row %d: out of range [0, %d)", i, ds.st.rows)
	}
	if ds.sc != nil {
		return ds.sc.delete(i)
	}
	ds.st.delete(i)
	return nil
}

func (st *store) delete(i int) {
	if st.alive == nil {
		st.alive = growBitmap(nil, 0, st.rows)
	}
	if bitutil.BitIsSet(st.alive, i) {
		bitutil.ClearBit(st.alive, i)
		st.deleted++
	}
}

// Alive reports whether row i exists and is not deleted. Inside a system it
// reflects the dataset as of the start of the stage.
func (ds *Dataset) Alive(i int) bool {
	if i < 0 || i >= ds.st.rows {
		return false
	}
	return ds.st.alive == nil || bitutil.BitIsSet(ds.st.alive, i)
}

// AliveMask returns the alive bitmap as a Boolean array of ds.Len() rows
// (true = alive), for use as an arrow compute filter. The caller must
// Release it.
func (ds *Dataset) AliveMask() *array.Boolean {
	n := ds.st.rows
	bm := ds.st.alive
	if bm == nil {
		bm = growBitmap(nil, 0, n)
	} else {
		bm = append([]byte(nil), bm...)
	}
	return array.NewBoolean(n, memory.NewBufferBytes(bm), nil, 0)
}

// ShouldCompact reports whether Compact is worth its cost: at least a
// quarter of the rows are deleted.
func (ds *Dataset) ShouldCompact() bool {
	return ds.st.deleted > 0 && ds.st.deleted*4 >= ds.st.rows
}

// Compact drops deleted rows from every component in one filter pass over
// all columns and renumbers the rows 0..Live()-1. Arrays borrowed before
// are invalid afterwards. It does nothing if no row is deleted.
func (ds *Dataset) Compact(ctx context.Context) error {
	if ds.sc != nil {
		return &AccessError{System: ds.sc.system, Op: "write", What: "dataset rows (Compact)"}
	}
	st := ds.st
	if st.deleted == 0 {
		return nil
	}
	var fields []arrow.Field
	var cols []arrow.Array
	for _, c := range st.comps {
		for i, f := range c.schema.Fields() {
			f.Name = c.name + "." + f.Name
			fields = append(fields, f)
			cols = append(cols, c.cols[i])
		}
	}
	all := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(st.rows))
	defer all.Release()
	mask := ds.AliveMask()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(compute.WithAllocator(ctx, st.mem), all, mask, compute.DefaultFilterOptions())
	if err != nil {
		return fmt.Errorf("pcs: compact: %w", err)
	}
	defer out.Release()
	k := 0
	for _, c := range st.comps {
		for i := range c.cols {
			c.cols[i].Release()
			c.cols[i] = out.Column(k)
			c.cols[i].Retain()
			k++
		}
	}
	st.rows = int(out.NumRows())
	st.alive, st.deleted = nil, 0
	return nil
}

// Clone returns a dataset that shares this one's columns (retained, no
// copy: columns are immutable) with its own alive bitmap and resource
// table. Resource values are shared (a shallow copy of the table). The
// caller must Release the clone.
func (ds *Dataset) Clone() *Dataset {
	st := ds.st
	cp := &store{mem: st.mem, byName: map[string]int{}, rows: st.rows, deleted: st.deleted,
		resources: make(map[reflect.Type]any, len(st.resources))}
	if st.alive != nil {
		cp.alive = append([]byte(nil), st.alive...)
	}
	for i, c := range st.comps {
		cols := append([]arrow.Array(nil), c.cols...)
		for _, a := range cols {
			a.Retain()
		}
		cp.comps = append(cp.comps, &compData{name: c.name, schema: c.schema, cols: cols})
		cp.byName[c.name] = i
	}
	for t, v := range st.resources {
		cp.resources[t] = v
	}
	return &Dataset{st: cp}
}

// Release releases every column. The dataset must not be used afterwards.
// Inside a system it does nothing (the pipeline's caller owns the dataset).
func (ds *Dataset) Release() {
	if ds.sc != nil {
		return
	}
	for _, c := range ds.st.comps {
		releaseAll(c.cols)
		c.cols = nil
	}
	ds.st.comps, ds.st.byName, ds.st.rows = nil, map[string]int{}, 0
}
