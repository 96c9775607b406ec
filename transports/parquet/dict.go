package parquet

import (
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// dictPutter is the part of arrow-go's dictionary encoder (an internal
// type) that writeDictColumn uses: seeding the dictionary of an empty
// column chunk, as pqarrow's own dictionary path does.
type dictPutter interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// writeDictColumn writes a string, binary or dictionary<_, string|binary>
// column chunk as one dictionary of the values the chunk uses, in order
// of first use, plus one index per row. It reports false, having written
// nothing, when the column is of another type or its chunk is not
// dictionary-encoded (disabled for the column).
//
// Why not arrow-go's own paths: its byte-array dictionary encoder boxes
// every value into an interface (an allocation per row) to hash it, and
// its Arrow-dictionary path falls back to PLAIN at the first batch whose
// dictionary differs from the previous one (every partition carries its
// own), then hashes every distinct index of every batch again for the
// statistics. Here each distinct value is hashed once per distinct value
// of a batch's dictionary (or once per row for plain strings, without an
// allocation), the statistics come from the chunk's dictionary, which
// holds only used values, and the indices go to the encoder as they are.
// The file is the same as arrow-go writes: a dictionary page, RLE
// indices, min/max statistics; past the dictionary page size limit the
// column writer falls back to PLAIN by itself.
func writeDictColumn(cw file.ColumnChunkWriter, field arrow.Field, chunks []arrow.Array, mem memory.Allocator) (bool, error) {
	valueType := field.Type
	dt, isDict := field.Type.(*arrow.DictionaryType)
	if isDict {
		valueType = dt.ValueType
	}
	if !arrow.IsBaseBinary(valueType.ID()) {
		return false, nil
	}
	enc := cw.CurrentEncoder()
	putter, ok := enc.(dictPutter)
	if !ok || (enc.Encoding() != pq.Encodings.PlainDict && enc.Encoding() != pq.Encodings.RLEDict) || putter.NumEntries() != 0 {
		return false, nil
	}
	n, nulls := 0, 0
	for _, c := range chunks {
		n += c.Len()
		nulls += c.NullN()
		if isDict && c.(*array.Dictionary).Dictionary().NullN() > 0 {
			return false, nil // nulls among the values: pqarrow's path
		}
	}
	if n == 0 {
		return false, nil
	}

	idxBuf := memory.NewResizableBuffer(mem)
	defer idxBuf.Release()
	idxBuf.Resize(n * arrow.Int32SizeBytes)
	idx := arrow.Int32Traits.CastFromBytes(idxBuf.Bytes())
	var validBuf *memory.Buffer
	var valid []byte
	var defs []int16
	if nulls > 0 {
		validBuf = memory.NewResizableBuffer(mem)
		defer validBuf.Release()
		validBuf.Resize(int(bitutil.BytesForBits(int64(n))))
		valid = validBuf.Bytes()
		clear(valid)
	}
	if field.Nullable {
		defs = make([]int16, n)
	}

	dict := newStringDict(mem, valueType)
	defer dict.release()
	pos := 0
	for _, c := range chunks {
		if isDict {
			d := c.(*array.Dictionary)
			dv := d.Dictionary()
			value := valueAt(dv)
			remap := make([]int32, dv.Len())
			for k := range remap {
				remap[k] = -1
			}
			for j := range d.Len() {
				if d.IsNull(j) {
					pos++
					continue
				}
				k := d.GetValueIndex(j)
				r := remap[k]
				if r < 0 {
					r = dict.index(value(k))
					remap[k] = r
				}
				idx[pos] = r
				markValid(valid, defs, pos)
				pos++
			}
			continue
		}
		value := valueAt(c)
		hasNulls := c.NullN() > 0
		for j := range c.Len() {
			if hasNulls && c.IsNull(j) {
				pos++
				continue
			}
			idx[pos] = dict.index(value(j))
			markValid(valid, defs, pos)
			pos++
		}
	}

	values := dict.finish()
	defer values.Release()
	if err := putter.PutDictionary(values); err != nil {
		return true, err
	}
	if ps := cw.PageStatistics(); ps != nil {
		ps.IncNulls(int64(nulls))
		ps.IncNumValues(int64(n - nulls))
		if values.Len() > 0 {
			if err := ps.UpdateFromArrow(values, false); err != nil {
				return true, err
			}
		}
	}
	bufs := []*memory.Buffer{validBuf, idxBuf}
	data := array.NewData(arrow.PrimitiveTypes.Int32, n, bufs, nil, nulls, 0)
	defer data.Release()
	indices := array.MakeFromData(data)
	defer indices.Release()
	return true, cw.WriteDictIndices(indices, defs, nil)
}

func markValid(valid []byte, defs []int16, pos int) {
	if valid != nil {
		bitutil.SetBit(valid, pos)
	}
	if defs != nil {
		defs[pos] = 1
	}
}

// valueAt returns a function giving value j of a string or binary array
// as a string that aliases the array's bytes (valid while the array is).
func valueAt(a arrow.Array) func(int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value
	case *array.LargeString:
		return a.Value
	case *array.Binary:
		return a.ValueString
	case *array.LargeBinary:
		return func(j int) string { return unsafe.String(unsafe.SliceData(a.Value(j)), a.ValueLen(j)) }
	}
	panic("parquet: valueAt of " + a.DataType().String())
}

// stringDict assigns dense int32 codes to byte strings in order of first
// use and keeps the values as an Arrow array of the column's value type.
type stringDict struct {
	codes map[string]int32
	b     array.Builder
	add   func(string)
}

func newStringDict(mem memory.Allocator, valueType arrow.DataType) *stringDict {
	d := &stringDict{codes: make(map[string]int32, 1024)}
	switch bb := array.NewBuilder(mem, valueType).(type) {
	case *array.BinaryBuilder:
		d.b, d.add = bb, bb.AppendString
	case *array.StringBuilder:
		d.b, d.add = bb, bb.Append
	case *array.LargeStringBuilder:
		d.b, d.add = bb, bb.Append
	default:
		panic("parquet: stringDict of " + valueType.String())
	}
	return d
}

// index returns v's code. v may alias an Arrow buffer: it is copied
// only when new.
func (d *stringDict) index(v string) int32 {
	if c, ok := d.codes[v]; ok {
		return c
	}
	c := int32(len(d.codes))
	d.codes[strings.Clone(v)] = c
	d.add(v)
	return c
}

func (d *stringDict) finish() arrow.Array { return d.b.NewArray() }
func (d *stringDict) release()            { d.b.Release() }
