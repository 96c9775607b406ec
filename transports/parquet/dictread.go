package parquet

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// dictionaryReads makes fr read as Arrow dictionaries the selected
// top-level string and binary columns whose chunks are
// dictionary-encoded in every selected row group, and returns their positions among
// the selected columns (fieldIdx) with the type the file says they have.
// Source.Read materializes them back to that type (materialize).
//
// Why: pqarrow decodes a dictionary-encoded string column into that type
// by expanding every row into a []parquet.ByteArray (24 bytes and a
// pointer per row, under the GC's write barrier) and appending each to
// a builder; read as a dictionary it decodes the RLE indices in bulk and
// each dictionary once, and materialize copies the bytes in one pass.
// pqarrow's own ReadDict does not apply where the file's stored Arrow
// schema names the column's type (as every file PCS writes does), so
// the manifest's field type is set directly; the record reader follows
// it. Batches that span row groups join their dictionaries (pqarrow
// concatenates, unifying them); pages that fell back to PLAIN are
// hashed into the dictionary by the record reader.
func dictionaryReads(fr *pqarrow.FileReader, pf *file.Reader, fieldIdx, rowGroups []int) map[int]arrow.DataType {
	var out map[int]arrow.DataType
	md := pf.MetaData()
	for k, i := range fieldIdx {
		f := &fr.Manifest.Fields[i]
		if !f.IsLeaf() || len(rowGroups) == 0 {
			continue
		}
		var values arrow.DataType
		switch f.Field.Type.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			values = arrow.BinaryTypes.String
		case arrow.BINARY, arrow.LARGE_BINARY:
			values = arrow.BinaryTypes.Binary
		default:
			continue
		}
		dict := true
		for _, rg := range rowGroups {
			cc, err := md.RowGroup(rg).ColumnChunk(f.ColIndex)
			if err != nil || !dictionaryEncoded(cc) {
				dict = false
				break
			}
		}
		if !dict {
			continue
		}
		if out == nil {
			out = map[int]arrow.DataType{}
		}
		out[k] = f.Field.Type
		field := *f.Field
		field.Type = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: values}
		f.Field = &field
	}
	return out
}

// dictionaryEncoded reports whether a column chunk has a dictionary
// page: from its dictionary page offset, or from its encodings (some
// writers leave the offset unset and put the dictionary page first).
func dictionaryEncoded(cc *metadata.ColumnChunkMetaData) bool {
	if cc.HasDictionaryPage() {
		return true
	}
	return slices.ContainsFunc(cc.Encodings(), func(e pq.Encoding) bool {
		return e == pq.Encodings.RLEDict || e == pq.Encodings.PlainDict
	})
}

// materialize returns a, a dictionary of strings or binaries, as an
// array of type want (string, large_string, binary or large_binary):
// the same values and nulls, allocated from mem. Errors: a is not such a
// dictionary; the values exceed 2 GiB for a 32-bit offset type.
func materialize(a arrow.Array, want arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	d, ok := a.(*array.Dictionary)
	if !ok {
		return nil, fmt.Errorf("read as %s, want a dictionary", a.DataType())
	}
	idx, ok := d.Indices().(*array.Int32)
	if !ok {
		return nil, fmt.Errorf("dictionary indices of %s, want int32", d.Indices().DataType())
	}
	dv := d.Dictionary()
	if dv.DataType().ID() != arrow.STRING && dv.DataType().ID() != arrow.BINARY {
		return nil, fmt.Errorf("dictionary values of %s, want string or binary", dv.DataType())
	}
	switch want.ID() {
	case arrow.STRING, arrow.BINARY:
		return materializeAs[int32](d, idx.Int32Values(), dv, want, mem)
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return materializeAs[int64](d, idx.Int32Values(), dv, want, mem)
	}
	return nil, fmt.Errorf("cannot materialize a dictionary as %s", want)
}

func materializeAs[O int32 | int64](d *array.Dictionary, idx []int32, dv arrow.Array, want arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	dd := dv.Data()
	voffs := arrow.Int32Traits.CastFromBytes(dd.Buffers()[1].Bytes())[dd.Offset() : dd.Offset()+dd.Len()+1]
	var vdata []byte
	if b := dd.Buffers()[2]; b != nil {
		vdata = b.Bytes()
	}
	n := len(idx)
	nulls := d.NullN()
	var size O
	offBuf := memory.NewResizableBuffer(mem)
	defer offBuf.Release()
	offBuf.Resize((n + 1) * int(unsafe.Sizeof(size)))
	offs := castOffsets[O](offBuf.Bytes())[: n+1 : n+1]
	var total int64
	for i, k := range idx {
		offs[i] = O(total)
		if nulls == 0 || d.IsValid(i) {
			total += int64(voffs[k+1] - voffs[k])
		}
	}
	if total > int64(maxOffset[O]()) {
		return nil, fmt.Errorf("%d bytes of values do not fit %s", total, want)
	}
	offs[n] = O(total)
	dataBuf := memory.NewResizableBuffer(mem)
	defer dataBuf.Release()
	dataBuf.Resize(int(total))
	data := dataBuf.Bytes()
	for i, k := range idx {
		if nulls > 0 && d.IsNull(i) {
			continue
		}
		copy(data[offs[i]:offs[i+1]], vdata[voffs[k]:voffs[k+1]])
	}
	var validBuf *memory.Buffer
	if nulls > 0 {
		validBuf = memory.NewResizableBuffer(mem)
		defer validBuf.Release()
		validBuf.Resize(int(bitutil.BytesForBits(int64(n))))
		src := d.Data()
		bitutil.CopyBitmap(src.Buffers()[0].Bytes(), src.Offset(), n, validBuf.Bytes(), 0)
	}
	out := array.NewData(want, n, []*memory.Buffer{validBuf, offBuf, dataBuf}, nil, nulls, 0)
	defer out.Release()
	return array.MakeFromData(out), nil
}

func castOffsets[O int32 | int64](b []byte) []O {
	var z O
	switch any(z).(type) {
	case int32:
		return any(arrow.Int32Traits.CastFromBytes(b)).([]O)
	default:
		return any(arrow.Int64Traits.CastFromBytes(b)).([]O)
	}
}

func maxOffset[O int32 | int64]() int64 {
	var z O
	if _, ok := any(z).(int32); ok {
		return math.MaxInt32
	}
	return math.MaxInt64
}
