package ipcguard_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
)

var (
	dictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	tsTZ     = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Europe/Paris"}
)

// kitchenSchema has a field of (nearly) every type arrow-go writes, with
// schema and field metadata: children, union type ids, a time zone, a
// dictionary and view types (variadic buffer counts) all appear in its
// metadata.
func kitchenSchema() *arrow.Schema {
	md := arrow.NewMetadata([]string{"origin", "empty"}, []string{"ipcguard test", ""})
	fmd := arrow.NewMetadata([]string{"unit"}, []string{"m/s"})
	return arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true, Metadata: fmd},
		{Name: "date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: tsTZ, Nullable: true},
		{Name: "dur", Type: arrow.FixedWidthTypes.Duration_us, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "str", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "lstr", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 3}, Nullable: true},
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "llist", Type: arrow.LargeListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "fsl", Type: arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Int16), Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32},
			arrow.Field{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: fmd},
		), Nullable: true},
		{Name: "map", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "dense", Type: arrow.DenseUnionOf([]arrow.Field{
			{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		}, []arrow.UnionTypeCode{3, 7})},
		{Name: "sparse", Type: arrow.SparseUnionOf([]arrow.Field{
			{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		}, []arrow.UnionTypeCode{0})},
		{Name: "dict", Type: dictType, Nullable: true},
		{Name: "sview", Type: arrow.BinaryTypes.StringView, Nullable: true},
		{Name: "bview", Type: arrow.BinaryTypes.BinaryView, Nullable: true},
		{Name: "ree", Type: arrow.RunEndEncodedOf(arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String), Nullable: true},
	}, &md)
}

// fill builds a batch of s with rows rows: empty values and nulls, and
// long strings in view columns (so that they have variadic buffers).
func fill(t testing.TB, s *arrow.Schema, rows int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	colors := []string{"red", "green", "blue"}
	for _, fb := range b.Fields() {
		// The same dictionary in every batch: a file cannot replace it.
		if db, ok := fb.(*array.BinaryDictionaryBuilder); ok {
			sb := array.NewStringBuilder(memory.DefaultAllocator)
			sb.AppendValues(colors, nil)
			dict := sb.NewStringArray()
			err := db.InsertStringDictValues(dict)
			dict.Release()
			sb.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < rows; i++ {
		for j, fb := range b.Fields() {
			switch fb := fb.(type) {
			case *array.StringViewBuilder:
				fb.Append(strings.Repeat("a string too long to be inlined ", i%3+1))
			case *array.BinaryViewBuilder:
				fb.Append(bytes.Repeat([]byte{byte(i)}, 20))
			case *array.BinaryDictionaryBuilder:
				if err := fb.AppendString(colors[i%3]); err != nil {
					t.Fatal(err)
				}
			case *array.RunEndEncodedBuilder:
				fb.Append(1)
				fb.ValueBuilder().(*array.StringBuilder).Append("run")
			default:
				if i%2 == 0 && s.Field(j).Nullable {
					fb.AppendNull()
				} else {
					fb.AppendEmptyValue()
				}
			}
		}
	}
	return b.NewRecordBatch()
}

// nested returns a schema whose one field is a list nested depth levels
// (the field is at depth 0, its innermost child at depth depth).
func nested(depth int) *arrow.Schema {
	var dt arrow.DataType = arrow.PrimitiveTypes.Int8
	for i := 0; i < depth; i++ {
		dt = arrow.ListOf(dt)
	}
	return arrow.NewSchema([]arrow.Field{{Name: "deep", Type: dt, Nullable: true}}, nil)
}

// dictBatch returns a one-row batch of a dictionary column "d" with
// dictionary vals and index i.
func dictBatch(i int16, vals ...string) arrow.RecordBatch {
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	defer sb.Release()
	sb.AppendValues(vals, nil)
	dv := sb.NewArray()
	defer dv.Release()
	ib := array.NewInt16Builder(memory.DefaultAllocator)
	defer ib.Release()
	ib.Append(i)
	idx := ib.NewArray()
	defer idx.Release()
	arr := array.NewDictionaryArray(dictType, idx, dv)
	defer arr.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dictType}}, nil)
	return array.NewRecordBatch(s, []arrow.Array{arr}, 1)
}

// viewDictBatch builds n rows of the views in dictionaries schema
// (arrow-go has no dictionary builder of views).
func viewDictBatch(t testing.TB, s *arrow.Schema, n int) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	long := []string{"a value too long to be inlined, one", "a value too long to be inlined, two", "three"}
	dict := func(dt arrow.DataType) arrow.Array {
		vb := array.NewStringViewBuilder(mem)
		defer vb.Release()
		vb.AppendValues(long, nil)
		values := vb.NewArray()
		defer values.Release()
		ib := array.NewInt8Builder(mem)
		defer ib.Release()
		for i := 0; i < n; i++ {
			ib.Append(int8(i % len(long)))
		}
		idx := ib.NewArray()
		defer idx.Release()
		return array.NewDictionaryArray(dt, idx, values)
	}
	vd := dict(s.Field(0).Type)
	inner := dict(s.Field(1).Type.(*arrow.ListType).Elem())
	defer inner.Release()
	offsets := make([]int32, n+1)
	for i := range offsets {
		offsets[i] = int32(i)
	}
	ld := array.NewData(s.Field(1).Type, n, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets))}, []arrow.ArrayData{inner.Data()}, 0, 0)
	list := array.MakeFromData(ld)
	ld.Release()
	bb := array.NewBinaryViewBuilder(mem)
	sb := array.NewStringViewBuilder(mem)
	for i := 0; i < n; i++ {
		bb.Append([]byte(long[i%2]))
		sb.Append(long[(i+1)%2])
	}
	bv, sv := bb.NewArray(), sb.NewArray()
	bb.Release()
	sb.Release()
	sd := dict(s.Field(2).Type.(*arrow.StructType).Field(1).Type)
	st, err := array.NewStructArrayWithFields([]arrow.Array{bv, sd}, s.Field(2).Type.(*arrow.StructType).Fields())
	if err != nil {
		t.Fatal(err)
	}
	cols := []arrow.Array{vd, list, st, sv}
	rec := array.NewRecordBatch(s, cols, int64(n))
	for _, c := range append(cols, bv, sd) {
		c.Release()
	}
	return rec
}

type validCase struct {
	name   string
	schema *arrow.Schema
	recs   []arrow.RecordBatch
	opts   []ipc.Option
	stream bool // stream only (delta dictionaries)
	dicts  bool
}

func validCases(t testing.TB) []validCase {
	k := kitchenSchema()
	// Dictionaries of views, nested in lists and structs and beside
	// views: variadic buffer counts in both the record and the
	// dictionary batches.
	viewDict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.StringView}
	viewDicts := arrow.NewSchema([]arrow.Field{
		{Name: "vd", Type: viewDict, Nullable: true},
		{Name: "list", Type: arrow.ListOf(viewDict), Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "v", Type: arrow.BinaryTypes.BinaryView, Nullable: true},
			arrow.Field{Name: "d", Type: viewDict, Nullable: true},
		), Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.StringView, Nullable: true},
	}, nil)
	plain := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	deltas := []arrow.RecordBatch{dictBatch(0, "a"), dictBatch(1, "a", "b"), dictBatch(2, "a", "b", "c")}
	return []validCase{
		{name: "kitchen sink", schema: k, recs: []arrow.RecordBatch{fill(t, k, 7), fill(t, k, 0), fill(t, k, 3)}, dicts: true},
		{name: "kitchen sink zstd", schema: k, recs: []arrow.RecordBatch{fill(t, k, 50)}, opts: []ipc.Option{ipc.WithZstd()}, dicts: true},
		{name: "kitchen sink lz4", schema: k, recs: []arrow.RecordBatch{fill(t, k, 50)}, opts: []ipc.Option{ipc.WithLZ4()}, dicts: true},
		{name: "schema only", schema: k, dicts: true},
		{name: "no fields", schema: arrow.NewSchema(nil, nil)},
		{name: "plain", schema: plain, recs: []arrow.RecordBatch{fill(t, plain, 10), fill(t, plain, 10)}},
		{name: "nested MaxFieldDepth", schema: nested(ipcguard.MaxFieldDepth)}, // arrow-go writes no batch this deep
		{name: "nested 20", schema: nested(20), recs: []arrow.RecordBatch{fill(t, nested(20), 2)}},
		{name: "views in dictionaries", schema: viewDicts, recs: []arrow.RecordBatch{viewDictBatch(t, viewDicts, 5), viewDictBatch(t, viewDicts, 5)}, dicts: true},
		{name: "delta dictionaries", schema: deltas[0].Schema(), recs: deltas, opts: []ipc.Option{ipc.WithDictionaryDeltas(true)}, stream: true, dicts: true},
	}
}

// countMessages counts the dictionary and record batch messages of a
// stream.
func countMessages(data []byte) (dicts, recs int) {
	for _, m := range streamMessages(data) {
		switch m.data[m.base+m.field(m.root(), 1)] {
		case 2:
			dicts++
		case 3:
			recs++
		}
	}
	return dicts, recs
}

// Valid streams and files, of every type, compressed or not, pass both
// checks, which report what they hold; arrow-go reads them all.
func TestCheckValid(t *testing.T) {
	for _, c := range validCases(t) {
		stream := writeStream(t, c.schema, c.recs, c.opts...)
		info, err := ipcguard.CheckStream(stream)
		if err != nil {
			t.Fatalf("%s: CheckStream: %v", c.name, err)
		}
		wantDicts, wantRecs := countMessages(stream)
		if want := (ipcguard.Info{Dictionaries: c.dicts, DictionaryBatches: wantDicts, RecordBatches: wantRecs}); info != want || wantRecs != len(c.recs) {
			t.Errorf("%s: CheckStream = %+v, want %+v (%d batches written)", c.name, info, want, len(c.recs))
		}
		if n, err := readStream(stream, memory.DefaultAllocator); err != nil || n != len(c.recs) {
			t.Errorf("%s: arrow-go read %d batches of the stream: %v", c.name, n, err)
		}
		if c.stream {
			continue
		}
		file := writeFile(t, c.schema, c.recs, c.opts...)
		info, err = ipcguard.CheckFile(file)
		if err != nil {
			t.Fatalf("%s: CheckFile: %v", c.name, err)
		}
		want := ipcguard.Info{Dictionaries: c.dicts, DictionaryBatches: len(fileBlocks(file, slotFooterDicts)), RecordBatches: len(c.recs)}
		if info != want || (c.dicts && len(c.recs) > 0 && want.DictionaryBatches == 0) {
			t.Errorf("%s: CheckFile = %+v, want %+v", c.name, info, want)
		}
		if n, err := readFile(file, memory.DefaultAllocator); err != nil || n != len(c.recs) {
			t.Errorf("%s: arrow-go read %d batches of the file: %v", c.name, n, err)
		}
		release(c.recs)
	}
}

// A file, or anything but a stream, is no stream: CheckStream refuses the
// message length it would read first (ipc.NewReader would allocate it).
// A stream, or anything without the file magic at its end, is left to
// arrow-go by CheckFile: arrow-go refuses it before allocating.
func TestCheckNotThisFormat(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := fill(t, s, 3)
	defer rec.Release()
	stream := writeStream(t, s, []arrow.RecordBatch{rec})
	file := writeFile(t, s, []arrow.RecordBatch{rec})
	text := []byte("not arrow at all, not even close")
	for name, data := range map[string][]byte{
		"nil": nil, "text": text, "magic only": []byte("ARROW1\x00\x00ARROW1"), "stream as file": stream,
	} {
		if info, err := ipcguard.CheckFile(data); err != nil || info != (ipcguard.Info{}) {
			t.Errorf("CheckFile(%s) = %+v, %v; want nothing checked", name, info, err)
		}
	}
	for name, data := range map[string][]byte{"nil": nil, "end of stream": {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}} {
		if info, err := ipcguard.CheckStream(data); err != nil || info != (ipcguard.Info{}) {
			t.Errorf("CheckStream(%s) = %+v, %v; want nothing checked", name, info, err)
		}
	}
	for name, data := range map[string][]byte{"file as stream": file, "text": text} {
		_, err := ipcguard.CheckStream(data)
		want := fmt.Sprintf("stream message 0 at offset 0: metadata length %d, with %d bytes left", binary.LittleEndian.Uint32(data), len(data)-4)
		if !errors.Is(err, ipcguard.ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckStream(%s) = %v, want %q", name, err, want)
		}
		if _, err := readStream(data, memory.DefaultAllocator); err == nil {
			t.Errorf("arrow-go read %s", name)
		}
	}
}

// A stream cut anywhere but between two messages is refused, as arrow-go
// refuses it; the messages before the cut are counted. Every truncation
// of a file is left to arrow-go (the footer is at its end).
func TestCheckTruncated(t *testing.T) {
	k := kitchenSchema()
	recs := []arrow.RecordBatch{fill(t, k, 4), fill(t, k, 2)}
	defer release(recs)
	stream := writeStream(t, k, recs)
	file := writeFile(t, k, recs)
	// The end of each message: schema, dictionary, two batches.
	boundaries := map[int]ipcguard.Info{0: {}}
	info := ipcguard.Info{}
	for _, m := range streamMessages(stream) {
		switch m.data[m.base+m.field(m.root(), 1)] {
		case 1:
			info.Dictionaries = true
		case 2:
			info.DictionaryBatches++
		case 3:
			info.RecordBatches++
		}
		end := m.base + int(m.u32(-4))
		if m.has(m.root(), 3) {
			end += int(m.u64(m.field(m.root(), 3)))
		}
		boundaries[end] = info
	}
	boundaries[len(stream)] = info // after the end-of-stream marker
	if len(boundaries) != 6 || info != (ipcguard.Info{Dictionaries: true, DictionaryBatches: 1, RecordBatches: 2}) {
		t.Fatalf("stream boundaries %v", boundaries)
	}
	for n := 0; n <= len(stream); n++ {
		got, err := ipcguard.CheckStream(stream[:n:n])
		want, whole := boundaries[n]
		switch {
		case whole && (err != nil || got != want):
			t.Fatalf("stream cut after a message at %d: %+v, %v; want %+v", n, got, err, want)
		case !whole && (!errors.Is(err, ipcguard.ErrCorrupt) ||
			!strings.Contains(err.Error(), "truncated in its length prefix") && !strings.Contains(err.Error(), "bytes left")):
			t.Fatalf("stream cut at %d: %v, want it refused as truncated", n, err)
		case !whole:
			if _, rerr := readStream(stream[:n:n], memory.DefaultAllocator); rerr == nil {
				t.Fatalf("stream cut at %d: arrow-go reads it without an error", n)
			}
		}
	}
	for n := 0; n < len(file); n++ {
		if info, err := ipcguard.CheckFile(file[:n:n]); err != nil || info != (ipcguard.Info{}) {
			t.Fatalf("file truncated to %d bytes: %+v, %v", n, info, err)
		}
	}
}

// A format is a way to find the schema and record batch messages of a
// valid input, to corrupt them.
type format struct {
	name   string
	write  func(testing.TB, *arrow.Schema, []arrow.RecordBatch, ...ipc.Option) []byte
	check  func([]byte) (ipcguard.Info, error)
	schema func(data []byte) (fb, int)        // the schema table
	record func(data []byte) (fb, int)        // the first record batch table
	dict   func(data []byte) (fb, int)        // the first dictionary batch table
	where  func(what string) (context string) // what the error says of the place
}

var formats = []format{
	{
		name: "stream", write: writeStream, check: ipcguard.CheckStream,
		schema: func(data []byte) (fb, int) { m := streamMessages(data)[0]; return m, m.header() },
		record: func(data []byte) (fb, int) { return nthMessage(data, 3) },
		dict:   func(data []byte) (fb, int) { return nthMessage(data, 2) },
		where: func(what string) string {
			if what == "schema" {
				return "stream message 0 at offset 0: schema: "
			}
			return "stream message "
		},
	},
	{
		name: "file", write: writeFile, check: ipcguard.CheckFile,
		schema: fileSchema,
		record: func(data []byte) (fb, int) {
			m := blockMessage(data, fileBlocks(data, slotFooterRecords)[0])
			return m, m.header()
		},
		dict: func(data []byte) (fb, int) {
			m := blockMessage(data, fileBlocks(data, slotFooterDicts)[0])
			return m, m.header()
		},
		where: func(what string) string {
			if what == "schema" {
				return "file footer: schema: "
			}
			return what + " block 0 at offset "
		},
	},
}

// nthMessage returns the header of the first stream message of header
// type ht.
func nthMessage(data []byte, ht byte) (fb, int) {
	for _, m := range streamMessages(data) {
		if m.data[m.base+m.field(m.root(), 1)] == ht {
			return m, m.header()
		}
	}
	panic("no such message")
}

// A corruption changes one valid input so that arrow-go v18.8.0 would
// allocate by a corrupt count, recurse without end, or decode a shared
// structure over and over.
type corruption struct {
	name  string
	what  string // "schema", "record batch" or "dictionary"
	build func(t testing.TB, f format) []byte
	want  string // in the error message
}

const huge = 1<<31 - 1

// setLen sets the length of the vector of field slot of table tbl.
func setLen(f fb, tbl, slot int, n uint32) {
	f.put32(f.vec(tbl, slot), n)
}

// kitchenInput writes one kitchen sink batch in format f and returns it
// with the schema table.
func kitchenInput(t testing.TB, f format) ([]byte, fb, int) {
	k := kitchenSchema()
	rec := fill(t, k, 3)
	defer rec.Release()
	data := f.write(t, k, []arrow.RecordBatch{rec})
	m, schema := f.schema(data)
	return data, m, schema
}

// inSchema, inRecord and inDict build a kitchen sink input and corrupt
// its schema, first record batch or first dictionary batch with patch.
func inSchema(patch func(m fb, schema int)) func(testing.TB, format) []byte {
	return func(t testing.TB, f format) []byte {
		data, m, schema := kitchenInput(t, f)
		patch(m, schema)
		return data
	}
}

func inRecord(patch func(m fb, rb int)) func(testing.TB, format) []byte {
	return func(t testing.TB, f format) []byte {
		data, _, _ := kitchenInput(t, f)
		patch(f.record(data))
		return data
	}
}

func inDict(patch func(m fb, db int)) func(testing.TB, format) []byte {
	return func(t testing.TB, f format) []byte {
		data, _, _ := kitchenInput(t, f)
		patch(f.dict(data))
		return data
	}
}

// kitchenField returns the kitchen sink field named name.
func kitchenField(m fb, schema int, name string) int {
	k := kitchenSchema()
	for i, fl := range k.Fields() {
		if fl.Name == name {
			return m.elem(schema, slotSchemaFields, i)
		}
	}
	panic(name)
}

// manyFields writes a schema of n int8 fields named by name(i), each with
// the metadata md(i), in format f, and returns it with the schema table.
func manyFields(t testing.TB, f format, n int, name func(int) string, md func(int) arrow.Metadata) ([]byte, fb, int) {
	fields := make([]arrow.Field, n)
	for i := range fields {
		fields[i] = arrow.Field{Name: name(i), Type: arrow.PrimitiveTypes.Int8, Metadata: md(i)}
	}
	data := f.write(t, arrow.NewSchema(fields, nil), nil)
	m, schema := f.schema(data)
	return data, m, schema
}

// pointAt makes the uoffset at p point at target, which follows it.
func pointAt(t testing.TB, m fb, p, target int) {
	if target <= p {
		t.Fatalf("target %d does not follow %d", target, p)
	}
	m.put32(p, uint32(target-p))
}

var corruptions = []corruption{
	{"schema fields count", "schema", inSchema(func(m fb, schema int) {
		setLen(m, schema, slotSchemaFields, huge)
	}), "fields: vector of 2147483647 4-byte elements"},
	{"schema custom metadata count", "schema", inSchema(func(m fb, schema int) {
		setLen(m, schema, slotSchemaMetadata, huge)
	}), "custom_metadata: vector of 2147483647 4-byte elements"},
	{"field custom metadata count", "schema", inSchema(func(m fb, schema int) {
		setLen(m, kitchenField(m, schema, "f64"), slotFieldMetadata, huge)
	}), "field 3: custom_metadata: vector of 2147483647"},
	{"field children count", "schema", inSchema(func(m fb, schema int) {
		setLen(m, kitchenField(m, schema, "list"), slotFieldChildren, 1<<28)
	}), "field 12: children: vector of 268435456 4-byte elements"},
	{"nested child custom metadata count", "schema", inSchema(func(m fb, schema int) {
		y := m.elem(kitchenField(m, schema, "st"), slotFieldChildren, 1)
		setLen(m, y, slotFieldMetadata, huge)
	}), "field 15: child 1: custom_metadata: vector of 2147483647"},
	{"field name length", "schema", inSchema(func(m fb, schema int) {
		setLen(m, kitchenField(m, schema, "str"), slotFieldName, huge)
	}), "field 9: name: vector of 2147483647 1-byte elements"},
	{"time zone length", "schema", inSchema(func(m fb, schema int) {
		setLen(m, m.sub(kitchenField(m, schema, "ts"), slotFieldType), slotTimestampTZ, huge)
	}), "field 5: timestamp timezone: vector of 2147483647 1-byte elements"},
	{"union type ids count", "schema", inSchema(func(m fb, schema int) {
		setLen(m, m.sub(kitchenField(m, schema, "dense"), slotFieldType), slotUnionTypeIDs, huge)
	}), "field 17: union typeIds: vector of 2147483647 4-byte elements"},
	{"dictionary index type out of the buffer", "schema", inSchema(func(m fb, schema int) {
		enc := m.sub(kitchenField(m, schema, "dict"), slotFieldDict)
		m.put32(m.field(enc, 1), 1<<30)
	}), "field 19: dictionary indexType: offset 1073741824"},
	{"field its own child", "schema", inSchema(func(m fb, schema int) {
		// A child offset that flatbuffers-go wraps around to the parent.
		list := kitchenField(m, schema, "list")
		p := m.vec(list, slotFieldChildren) + 4
		m.put32(p, uint32(list-p)) // list - p < 0: wraps modulo 2^32
	}), "field 12: children[0]: offset"},
	{"fields nested deeper than MaxFieldDepth", "schema", func(t testing.TB, f format) []byte {
		s := nested(ipcguard.MaxFieldDepth + 1)
		return f.write(t, s, nil)
	}, fmt.Sprintf("field 0: %sfields nested deeper than %d", strings.Repeat("child 0: ", ipcguard.MaxFieldDepth+1), ipcguard.MaxFieldDepth)},
	{"custom metadata shared by every field", "schema", func(t testing.TB, f format) []byte {
		// Field 0 has 1000 key-values, the 999 others one each; pointing
		// them all at field 0's makes arrow-go decode a million.
		const n = 1000
		data, m, schema := manyFields(t, f, n, func(i int) string { return fmt.Sprint("f", i) }, func(i int) arrow.Metadata {
			if i > 0 {
				return arrow.NewMetadata([]string{"k"}, []string{"v"})
			}
			keys := make([]string, n)
			for k := range keys {
				keys[k] = fmt.Sprint("k", k)
			}
			return arrow.NewMetadata(keys, make([]string, n))
		})
		shared := m.vec(m.elem(schema, slotSchemaFields, 0), slotFieldMetadata)
		for i := 1; i < n; i++ {
			pointAt(t, m, m.field(m.elem(schema, slotSchemaFields, i), slotFieldMetadata), shared)
		}
		return data
	}, "]: more fields and key-values than the"},
	{"long name shared by every field", "schema", func(t testing.TB, f format) []byte {
		const n = 2000
		data, m, schema := manyFields(t, f, n, func(i int) string {
			if i == 0 {
				return strings.Repeat("n", 16<<10)
			}
			return fmt.Sprint("f", i)
		}, func(int) arrow.Metadata { return arrow.Metadata{} })
		long := m.vec(m.elem(schema, slotSchemaFields, 0), slotFieldName)
		for i := 1; i < n; i++ {
			pointAt(t, m, m.field(m.elem(schema, slotSchemaFields, i), slotFieldName), long)
		}
		return data
	}, "name: strings total more than 4 times"},
	{"record batch nodes count", "record batch", inRecord(func(m fb, rb int) {
		setLen(m, rb, slotRBNodes, huge)
	}), "record batch: nodes: vector of 2147483647 16-byte elements"},
	{"record batch buffers count", "record batch", inRecord(func(m fb, rb int) {
		setLen(m, rb, slotRBBuffers, huge)
	}), "record batch: buffers: vector of 2147483647 16-byte elements"},
	{"variadic buffer count above the buffers", "record batch", inRecord(func(m fb, rb int) {
		m.put64(m.vec(rb, slotRBVariadic)+4, 1<<40)
	}), "record batch: variadic buffer count 0 of 2: 1099511627776, with"},
	{"variadic buffer counts fewer than the view arrays", "record batch", inRecord(func(m fb, rb int) {
		// arrow-go would take the 8 bytes after the vector as the second.
		setLen(m, rb, slotRBVariadic, 1)
	}), "record batch: 1 variadic buffer counts for 2 view arrays"},
	{"negative variadic buffer count", "record batch", inRecord(func(m fb, rb int) {
		m.put64(m.vec(rb, slotRBVariadic)+12, 1<<63)
	}), "record batch: variadic buffer count 1 of 2: -9223372036854775808"},
	{"dictionary batch nodes count", "dictionary", inDict(func(m fb, db int) {
		setLen(m, m.sub(db, slotDictData), slotRBNodes, huge)
	}), "dictionary batch: nodes: vector of 2147483647 16-byte elements"},
	{"record batch vtable out of the buffer", "record batch", inRecord(func(m fb, rb int) {
		m.put32(rb, 1<<31) // soffset -2^31
	}), "header: vtable of the table at"},
	{"message root out of the buffer", "record batch", func(t testing.TB, f format) []byte {
		data, _, _ := kitchenInput(t, f)
		m, _ := f.record(data)
		m.put32(0, 1<<20)
		return data
	}, "offset 1048576 at 0 points past the end"},
}

// Each corruption is refused, in both formats, with ErrCorrupt and a
// message that says where.
func TestCheckCorrupt(t *testing.T) {
	for _, f := range formats {
		for _, c := range corruptions {
			data := c.build(t, f)
			_, err := f.check(data)
			if !errors.Is(err, ipcguard.ErrCorrupt) {
				t.Errorf("%s %s: err = %v, want ErrCorrupt", f.name, c.name, err)
				continue
			}
			if !strings.Contains(err.Error(), f.where(c.what)) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %s:\n got %v\nwant %q ... %q", f.name, c.name, err, f.where(c.what), c.want)
			}
		}
	}
}

// The shared structures are not only refused: arrow-go v18.8.0 really
// decodes them over and over. Shown on a small input, as the bytes it
// allocates reading the corrupt schema against the valid one.
func TestSharedMetadataAmplifies(t *testing.T) {
	if testing.Short() {
		t.Skip("measures arrow-go")
	}
	f := formats[0]
	var c corruption
	for _, c = range corruptions {
		if c.name == "custom metadata shared by every field" {
			break
		}
	}
	data := c.build(t, f)
	allocated := func() uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		if _, err := readStream(data, memory.DefaultAllocator); err != nil {
			t.Fatalf("arrow-go refused the shared metadata: %v", err)
		}
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	n := allocated()
	t.Logf("arrow-go allocated %d MiB reading a %d KiB stream", n>>20, len(data)>>10)
	if n < 100*uint64(len(data)) {
		t.Errorf("arrow-go allocated only %d bytes for %d: the shared metadata is no longer amplified", n, len(data))
	}
}

// overlappingDicts builds a file in which n dictionary blocks all point at
// one delta dictionary message of a 100 KB string: arrow-go v18.8.0's
// file reader reads and keeps each, n copies. arrow-go's file writer
// writes no delta, so the message comes from a stream and is spliced in
// before the footer; the footer's record batch vector (n blocks) becomes
// its dictionary vector.
func overlappingDicts(t testing.TB, n int) []byte {
	recs := []arrow.RecordBatch{dictBatch(0, "a"), dictBatch(0, "a", strings.Repeat("x", 100_000))}
	s := recs[0].Schema()
	stream := writeStream(t, s, recs, ipc.WithDictionaryDeltas(true))
	release(recs)
	var delta fb // the last dictionary message: the delta
	for _, m := range streamMessages(stream) {
		if m.data[m.base+m.field(m.root(), 1)] == 2 {
			delta = m
		}
	}
	metaLen := int64(8 + delta.u32(-4))
	body := int64(delta.u64(delta.field(delta.root(), 3)))
	deltaBytes := stream[delta.base-8 : int64(delta.base-8)+metaLen+body]

	recs = nil
	for i := 0; i < n; i++ {
		recs = append(recs, dictBatch(0, "a"))
	}
	file := writeFile(t, s, recs)
	release(recs)
	footerAt := len(file) - 10 - int(binary.LittleEndian.Uint32(file[len(file)-10:]))
	data := append(append(append([]byte(nil), file[:footerAt]...), deltaBytes...), file[footerAt:]...)
	foot := footer(data)
	dictBlock, recBlocks := fileBlocks(data, slotFooterDicts)[0], fileBlocks(data, slotFooterRecords)
	// Swap the two vectors.
	pd, pr := foot.field(foot.root(), slotFooterDicts), foot.field(foot.root(), slotFooterRecords)
	vd, vr := foot.ref(pd), foot.ref(pr)
	pointAt(t, foot, pd, vr)
	pointAt(t, foot, pr, vd)
	put := func(at int, off, meta, body int64) {
		foot.put64(at, uint64(off))
		foot.put32(at+8, uint32(meta))
		foot.put64(at+16, uint64(body))
	}
	for i, b := range recBlocks { // now the dictionary blocks
		if i == 0 {
			put(b.at, dictBlock.off, dictBlock.meta, dictBlock.len)
		} else {
			put(b.at, int64(footerAt), metaLen, body)
		}
	}
	put(dictBlock.at, recBlocks[0].off, recBlocks[0].meta, recBlocks[0].len) // the record batch
	return data
}

// Blocks that share bytes are refused: arrow-go would read and keep the
// shared delta dictionary once per block.
func TestCheckFileOverlappingBlocks(t *testing.T) {
	data := overlappingDicts(t, 50)
	if _, err := ipcguard.CheckFile(data); !errors.Is(err, ipcguard.ErrCorrupt) ||
		!strings.Contains(err.Error(), "dictionary block 1 (bytes ") || !strings.Contains(err.Error(), ") and dictionary block 2 (bytes ") {
		t.Errorf("overlapping dictionary blocks: %v", err)
	}
	if !testing.Short() {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		n, err := readFile(data, memory.DefaultAllocator)
		runtime.ReadMemStats(&b)
		t.Logf("arrow-go read %d batches (%v) of the %d KiB file, allocating %d MiB", n, err, len(data)>>10, (b.TotalAlloc-a.TotalAlloc)>>20)
		if err != nil || b.TotalAlloc-a.TotalAlloc < 40*100_000 {
			t.Errorf("arrow-go did not amplify the shared block: %d batches, %v, %d bytes", n, err, b.TotalAlloc-a.TotalAlloc)
		}
	}

	// Two record batch blocks on one message.
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	recs := []arrow.RecordBatch{fill(t, s, 2), fill(t, s, 2)}
	defer release(recs)
	file := writeFile(t, s, recs)
	blocks := fileBlocks(file, slotFooterRecords)
	f := footer(file)
	f.put64(blocks[1].at, uint64(blocks[0].off))
	f.put32(blocks[1].at+8, uint32(blocks[0].meta))
	f.put64(blocks[1].at+16, uint64(blocks[0].len))
	if _, err := ipcguard.CheckFile(file); !errors.Is(err, ipcguard.ErrCorrupt) || !strings.Contains(err.Error(), "record batch block 0") || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlapping record batch blocks: %v", err)
	}
}
