package arrowfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/internal/infile"
)

// The Arrow IPC file format allows one dictionary per dictionary-encoded
// field: "it is invalid to have more than one non-delta dictionary batch
// per dictionary ID (i.e. dictionary replacement is not supported)"
// (Arrow columnar format, IPC File Format). The format allows delta
// dictionaries, but arrow-go's FileWriter refuses any change ("Dictionary
// replacement detected"), and readers' support for deltas in files varies.
// Batches from different sources (one PCS partition each) each carry
// their own dictionaries, so a file sink must make them one.
//
// dictSpool does: it unifies each dictionary column's dictionaries as
// batches arrive (array.DictionaryUnifier, which only appends values, so
// indices into the unified dictionary so far stay valid as it grows),
// writes the batches with their indices transposed into it to a spool
// (an IPC stream of the indices, no dictionaries) next to the output, and
// at the end reads the spool back and writes every batch with the final
// unified dictionary: one dictionary batch per field, the file every
// reader reads. The cost is writing and reading the data once more, and
// memory for the distinct values.

// dictSpool is the file-format path of a Sink whose schema has
// dictionary-encoded columns.
type dictSpool struct {
	mem      memory.Allocator
	schema   *arrow.Schema // the sink's
	indexed  *arrow.Schema // schema with each dictionary column as its index type
	cols     []dictColumn
	path     string // the output's final name, for errors
	spool    *os.File
	bw       *bufio.Writer
	w        *ipc.Writer
	finished bool
}

// dictColumn is one top-level dictionary column being unified.
type dictColumn struct {
	index int // in the schema
	name  string
	typ   *arrow.DictionaryType
	uni   array.DictionaryUnifier
	size  int // values in the unified dictionary so far
	// last is the dictionary last unified and transpose its map, reused
	// while batches share one dictionary array.
	last      arrow.ArrayData
	transpose []int32
}

// unifiable reports whether f is a dictionary column whose dictionaries
// a dictSpool unifies: a top-level dictionary of non-nested values (what
// array.DictionaryUnifier supports). Dictionaries nested in other types
// are written as they come, which fails if they change ("Dictionary
// replacement detected").
func unifiable(f arrow.Field) bool {
	dt, ok := f.Type.(*arrow.DictionaryType)
	if !ok {
		return false
	}
	_, nested := dt.ValueType.(arrow.NestedType)
	return !nested && dt.ValueType.ID() != arrow.DICTIONARY && dt.ValueType.ID() != arrow.EXTENSION
}

// needsUnify reports whether schema has a column for a dictSpool.
func needsUnify(schema *arrow.Schema) bool {
	for _, f := range schema.Fields() {
		if unifiable(f) {
			return true
		}
	}
	return false
}

// newDictSpool creates the spool for a sink of schema writing path: a
// hidden temporary file in path's directory.
func newDictSpool(path string, schema *arrow.Schema, mem memory.Allocator) (*dictSpool, error) {
	d := &dictSpool{mem: mem, schema: schema, path: path}
	fields := schema.Fields()
	for i, f := range fields {
		if !unifiable(f) {
			continue
		}
		dt := f.Type.(*arrow.DictionaryType)
		uni, err := array.NewDictionaryUnifier(mem, dt.ValueType)
		if err != nil {
			d.release()
			return nil, fmt.Errorf("%w: column %q: %w", ErrInvalidOption, f.Name, err)
		}
		d.cols = append(d.cols, dictColumn{index: i, name: f.Name, typ: dt, uni: uni})
		fields[i].Type = dt.IndexType
	}
	md := schema.Metadata()
	d.indexed = arrow.NewSchema(fields, &md)

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.spool")
	if err != nil {
		d.release()
		return nil, fmt.Errorf("create %s: spool: %w", path, err)
	}
	d.spool, d.bw = f, bufio.NewWriterSize(f, infile.BufferSize)
	d.w = ipc.NewWriter(d.bw, ipc.WithSchema(d.indexed), ipc.WithAllocator(mem))
	return d, nil
}

// write unifies rec's dictionaries and spools rec with its dictionary
// columns as indices into the unified dictionaries. It keeps no
// reference to rec.
func (d *dictSpool) write(rec arrow.RecordBatch) error {
	cols := rec.Columns()
	out := make([]arrow.Array, len(cols))
	copy(out, cols)
	var made []arrow.Array
	defer func() {
		for _, a := range made {
			a.Release()
		}
	}()
	for k := range d.cols {
		c := &d.cols[k]
		da := cols[c.index].(*array.Dictionary)
		m, err := c.transposeMap(da.Dictionary())
		if err != nil {
			return fmt.Errorf("column %q: unify dictionaries: %w", c.name, err)
		}
		idx, err := transposeIndices(d.mem, da.Indices().Data(), m)
		if err != nil {
			return fmt.Errorf("column %q: %w", c.name, err)
		}
		a := array.MakeFromData(idx)
		idx.Release()
		made = append(made, a)
		out[c.index] = a
	}
	spooled := array.NewRecordBatch(d.indexed, out, rec.NumRows())
	defer spooled.Release()
	return d.w.Write(spooled)
}

// transposeMap adds dict to the unified dictionary and returns, for each
// of its values, the value's index in the unified dictionary. The
// unified dictionary must stay addressable by the column's index type.
func (c *dictColumn) transposeMap(dict arrow.Array) ([]int32, error) {
	if c.last == dict.Data() {
		return c.transpose, nil
	}
	buf, err := c.uni.UnifyAndTranspose(dict)
	if err != nil {
		return nil, err
	}
	defer buf.Release()
	m := append([]int32(nil), arrow.Int32Traits.CastFromBytes(buf.Bytes())[:dict.Len()]...)
	for _, v := range m {
		c.size = max(c.size, int(v)+1)
	}
	if limit := maxIndex(c.typ.IndexType); int64(c.size)-1 > limit {
		return nil, fmt.Errorf("the batches' dictionaries hold %d distinct values, more than its index type %s addresses (%d)",
			c.size, c.typ.IndexType, limit+1)
	}
	if c.last != nil {
		c.last.Release()
	}
	dict.Data().Retain()
	c.last, c.transpose = dict.Data(), m
	return m, nil
}

// maxIndex is the largest index an index type holds.
func maxIndex(dt arrow.DataType) int64 {
	switch dt.ID() {
	case arrow.INT8:
		return math.MaxInt8
	case arrow.UINT8:
		return math.MaxUint8
	case arrow.INT16:
		return math.MaxInt16
	case arrow.UINT16:
		return math.MaxUint16
	case arrow.INT32:
		return math.MaxInt32
	case arrow.UINT32:
		return math.MaxUint32
	}
	return math.MaxInt64
}

// transposeIndices returns the indices of in (an integer array's data)
// mapped through m: out[i] = m[in[i]], null where in is null (whatever
// index a null slot holds). The caller releases the result.
func transposeIndices(mem memory.Allocator, in arrow.ArrayData, m []int32) (arrow.ArrayData, error) {
	switch in.DataType().ID() {
	case arrow.INT8:
		return transposeAs[int8](mem, in, m)
	case arrow.UINT8:
		return transposeAs[uint8](mem, in, m)
	case arrow.INT16:
		return transposeAs[int16](mem, in, m)
	case arrow.UINT16:
		return transposeAs[uint16](mem, in, m)
	case arrow.INT32:
		return transposeAs[int32](mem, in, m)
	case arrow.UINT32:
		return transposeAs[uint32](mem, in, m)
	case arrow.INT64:
		return transposeAs[int64](mem, in, m)
	case arrow.UINT64:
		return transposeAs[uint64](mem, in, m)
	}
	return nil, fmt.Errorf("dictionary index type %s is not an integer", in.DataType())
}

func transposeAs[T int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64](mem memory.Allocator, in arrow.ArrayData, m []int32) (arrow.ArrayData, error) {
	n, off := in.Len(), in.Offset()
	src := arrow.GetData[T](in.Buffers()[1].Bytes())[off : off+n]
	// (A slice's null count may be unknown, -1: count from the bitmap.)
	var valid []byte
	nulls := 0
	if in.Buffers()[0] != nil {
		valid = in.Buffers()[0].Bytes()
		if nulls = n - bitutil.CountSetBits(valid, off, n); nulls == 0 {
			valid = nil
		}
	}
	values := memory.NewResizableBuffer(mem)
	values.Resize(n * int(arrow.GetDataType[T]().(arrow.FixedWidthDataType).Bytes()))
	dst := arrow.GetData[T](values.Bytes())
	for i, v := range src {
		if valid != nil && !bitutil.BitIsSet(valid, off+i) {
			dst[i] = 0
			continue
		}
		if uint64(v) >= uint64(len(m)) {
			values.Release()
			return nil, fmt.Errorf("index %d out of range of a dictionary of %d values", v, len(m))
		}
		dst[i] = T(m[v])
	}
	var bitmap *memory.Buffer
	if valid != nil {
		bitmap = memory.NewResizableBuffer(mem)
		bitmap.Resize(int(bitutil.BytesForBits(int64(n))))
		bitutil.CopyBitmap(valid, off, n, bitmap.Bytes(), 0)
	}
	out := array.NewData(in.DataType(), n, []*memory.Buffer{bitmap, values}, nil, nulls, 0)
	values.Release()
	if bitmap != nil {
		bitmap.Release()
	}
	return out, nil
}

// finish ends the spool and writes its batches to fw, each dictionary
// column with the column's unified dictionary. ctx is checked between
// batches.
func (d *dictSpool) finish(ctx context.Context, fw *ipc.FileWriter) error {
	d.finished = true
	if err := errors.Join(d.w.Close(), d.bw.Flush()); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	dicts := make([]arrow.Array, len(d.cols))
	defer func() {
		for _, a := range dicts {
			if a != nil {
				a.Release()
			}
		}
	}()
	for k := range d.cols {
		c := &d.cols[k]
		dict, err := c.uni.GetResultWithIndexType(c.typ.IndexType)
		if err != nil {
			return fmt.Errorf("column %q: unify dictionaries: %w", c.name, err)
		}
		dicts[k] = dict
	}
	if _, err := d.spool.Seek(0, 0); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	r, err := ipc.NewReader(bufio.NewReaderSize(d.spool, infile.BufferSize), ipc.WithAllocator(d.mem))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer r.Release()
	for r.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := r.RecordBatch()
		cols := make([]arrow.Array, rec.NumCols())
		copy(cols, rec.Columns())
		var made []arrow.Array
		for k, c := range d.cols {
			a := array.NewDictionaryArray(c.typ, rec.Column(c.index), dicts[k])
			made = append(made, a)
			cols[c.index] = a
		}
		out := array.NewRecordBatch(d.schema, cols, rec.NumRows())
		for _, a := range made {
			a.Release()
		}
		err := fw.Write(out)
		out.Release()
		if err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// close releases everything and removes the spool file. It is
// idempotent.
func (d *dictSpool) close() {
	if !d.finished && d.w != nil {
		_ = d.w.Close()
	}
	d.finished = true
	if d.spool != nil {
		_ = d.spool.Close()
		_ = os.Remove(d.spool.Name())
		d.spool = nil
	}
	d.release()
}

func (d *dictSpool) release() {
	for k := range d.cols {
		c := &d.cols[k]
		if c.uni != nil {
			c.uni.Release()
			c.uni = nil
		}
		if c.last != nil {
			c.last.Release()
			c.last = nil
		}
	}
}
