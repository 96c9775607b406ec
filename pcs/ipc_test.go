package pcs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ipcguard"
)

var codecs = []struct {
	name string
	opts []ipc.Option
}{
	{"plain", nil},
	{"zstd", []ipc.Option{ipc.WithZstd()}},
	{"lz4", []ipc.Option{ipc.WithLZ4()}},
}

func writeIPC(t testing.TB, ds *pcs.Dataset, opts ...ipc.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ds.WriteIPC(&buf, opts...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ipcPropertySeeds is lower than propertySeeds: each seed makes six
// encodings and decodings.
const ipcPropertySeeds = 150

// The IPC round trip keeps components (names, order, schemas with field
// metadata), every value and the alive bitmap, compressed or not.
func TestIPCPropertyRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	for seed := uint64(0); seed < ipcPropertySeeds; seed++ {
		ds, m := randomDataset(t, mem, seed)
		for _, codec := range codecs {
			where := fmt.Sprintf("seed %d %s", seed, codec.name)
			data := writeIPC(t, ds, codec.opts...)
			got, err := pcs.ReadIPC(data, mem)
			if err != nil {
				t.Fatalf("%s: ReadIPC: %v", where, err)
			}
			checkDataset(t, where+" decoded", got, m)
			// The original components fit the decoded dataset as they are.
			for _, c := range m.comps {
				if err := got.Register(c.comp); err != nil {
					t.Fatalf("%s: re-registering %s: %v", where, c.comp.Name(), err)
				}
			}
			// A decoded dataset is a full dataset: written again, it decodes
			// to the same, and it compacts.
			again, err := pcs.ReadIPC(writeIPC(t, got, codec.opts...), mem)
			if err != nil {
				t.Fatalf("%s: second ReadIPC: %v", where, err)
			}
			checkDataset(t, where+" decoded twice", again, m)
			again.Release()
			if err := got.Compact(ctx); err != nil {
				t.Fatalf("%s: Compact: %v", where, err)
			}
			checkDataset(t, where+" decoded and compacted", got, m.compacted())
			got.Release()
		}
		ds.Release()
	}
}

// A typed component survives the trip through IPC, times and nulls
// included.
func TestIPCTypedComponent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[trade]("trade")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(c); err != nil {
		t.Fatal(err)
	}
	rows := sampleTrades()
	if _, err := pcs.AppendRows(ds, c, rows); err != nil {
		t.Fatal(err)
	}
	if err := ds.Delete(1); err != nil {
		t.Fatal(err)
	}
	for _, codec := range codecs {
		got, err := pcs.ReadIPC(writeIPC(t, ds, codec.opts...), mem)
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != 3 || got.Live() != 2 || got.Alive(1) || !got.Alive(0) || !got.Alive(2) {
			t.Errorf("%s: Len %d Live %d alive %v %v %v", codec.name, got.Len(), got.Live(), got.Alive(0), got.Alive(1), got.Alive(2))
		}
		b, err := got.Batch("trade")
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Rows(b)
		b.Release()
		if err != nil {
			t.Fatalf("%s: Rows of the decoded batch: %v", codec.name, err)
		}
		for i := range rows {
			want := rows[i]
			want.Scratch = ""
			if !equalTrade(back[i], want) {
				t.Errorf("%s: row %d:\n got %+v\nwant %+v", codec.name, i, back[i], want)
			}
		}
		got.Release()
	}
}

func TestIPCEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// No components at all.
	ds := pcs.NewDataset(mem)
	got, err := pcs.ReadIPC(writeIPC(t, ds), mem)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 0 || len(got.Components()) != 0 {
		t.Errorf("empty dataset decoded to Len %d components %v", got.Len(), got.Components())
	}
	got.Release()
	// Components without rows keep their schemas.
	c := pcs.MustComponent[trade]("trade")
	p := pcs.MustComponent[posComp]("pos")
	if err := ds.Register(c, p); err != nil {
		t.Fatal(err)
	}
	got, err = pcs.ReadIPC(writeIPC(t, ds, ipc.WithZstd()), mem)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Components(), []string{"trade", "pos"}) || got.Len() != 0 {
		t.Fatalf("decoded components %v Len %d", got.Components(), got.Len())
	}
	for _, comp := range []pcs.AnyComponent{c, p} {
		if s, err := got.Schema(comp.Name()); err != nil || !s.Equal(comp.Schema()) {
			t.Errorf("%s schema %s, %v", comp.Name(), s, err)
		}
	}
	// And the decoded dataset takes rows.
	tb, err := c.Batch(mem, sampleTrades()[:1])
	if err != nil {
		t.Fatal(err)
	}
	pb, err := p.Batch(mem, []posComp{{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := got.Append(map[string]arrow.RecordBatch{"trade": tb, "pos": pb})
	tb.Release()
	pb.Release()
	if err != nil || r != (pcs.RowRange{Lo: 0, Hi: 1}) {
		t.Errorf("append to decoded: %v, %v", r, err)
	}
	got.Release()
	ds.Release()
}

// nestedBatch builds 40 rows of list, nested struct, dictionary and, with
// view, string view columns.
func nestedBatch(t testing.TB, mem memory.Allocator, view bool) (*pcs.DynamicComponent, arrow.RecordBatch) {
	fields := []arrow.Field{
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "pt", Type: arrow.StructOf(
			arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64},
			arrow.Field{Name: "inner", Type: arrow.StructOf(arrow.Field{Name: "deep", Type: arrow.PrimitiveTypes.Int64, Nullable: true})},
		)},
		{Name: "kind", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.StringView, Nullable: true},
	}
	if !view {
		fields = fields[:3]
	}
	s := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	tags := b.Field(0).(*array.ListBuilder)
	pt := b.Field(1).(*array.StructBuilder)
	kind := b.Field(2).(*array.BinaryDictionaryBuilder)
	for i := 0; i < 40; i++ {
		if i%5 == 0 {
			tags.AppendNull()
		} else {
			tags.Append(true)
			for k := 0; k < i%3; k++ {
				tags.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("t%d", k))
			}
		}
		pt.Append(true)
		pt.FieldBuilder(0).(*array.Float64Builder).Append(float64(i) / 3)
		inner := pt.FieldBuilder(1).(*array.StructBuilder)
		inner.Append(true)
		inner.FieldBuilder(0).(*array.Int64Builder).Append(int64(-i))
		if i%7 == 0 {
			kind.AppendNull()
		} else if err := kind.AppendString([]string{"buy", "sell", "hold"}[i%3]); err != nil {
			t.Fatal(err)
		}
		if view {
			b.Field(3).(*array.StringViewBuilder).Append(strings.Repeat("long enough to leave the view inline ", i%3))
		}
	}
	return pcs.NewDynamicComponent("nested", s), b.NewRecordBatch()
}

// Nested, dictionary and view columns round-trip too (their metadata has
// children, dictionary batches and variadic buffer counts), and compact.
func TestIPCNestedTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, view := range []bool{true, false} {
		comp, rec := nestedBatch(t, mem, view)
		s := comp.Schema()
		ds := pcs.NewDataset(mem)
		if err := ds.Register(comp); err != nil {
			t.Fatal(err)
		}
		if _, err := ds.Append(map[string]arrow.RecordBatch{"nested": rec}); err != nil {
			t.Fatal(err)
		}
		_ = ds.Delete(3)
		for _, codec := range codecs {
			where := fmt.Sprintf("view=%v %s", view, codec.name)
			got, err := pcs.ReadIPC(writeIPC(t, ds, codec.opts...), mem)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			gs, _ := got.Schema("nested")
			gb, err := got.Batch("nested")
			if err != nil {
				t.Fatal(err)
			}
			if !gs.Equal(s) || !array.RecordEqual(gb, rec) || got.Alive(3) || got.Live() != 39 {
				t.Errorf("%s: nested dataset changed in the round trip:\n%v\n%v", where, gb, rec)
			}
			gb.Release()
			if view {
				// arrow-go v18.8.0's compute has no take kernel for view
				// types: Compact cannot filter them (see the report).
				got.Release()
				continue
			}
			// Compact filters every nested column alike.
			if err := got.Compact(context.Background()); err != nil {
				t.Fatalf("%s: Compact: %v", where, err)
			}
			cb, err := got.Batch("nested")
			if err != nil {
				t.Fatal(err)
			}
			for j := range s.NumFields() {
				head, tail := array.NewSlice(rec.Column(j), 0, 3), array.NewSlice(rec.Column(j), 4, 40)
				want, err := array.Concatenate([]arrow.Array{head, tail}, mem)
				head.Release()
				tail.Release()
				if err != nil {
					t.Fatal(err)
				}
				if !array.Equal(cb.Column(j), want) {
					t.Errorf("%s: compacted %s = %v, want %v", where, s.Field(j).Name, cb.Column(j), want)
				}
				want.Release()
			}
			cb.Release()
			got.Release()
		}
		ds.Release()
		rec.Release()
	}
}

// inRange reports whether b's first byte lies inside data.
func inRange(b, data []byte) bool {
	if len(b) == 0 || len(data) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	return p >= lo && p < lo+uintptr(len(data))
}

// ReadIPC of an uncompressed buffer decodes no column data: the arrays'
// buffers point into the input.
func TestReadIPCZeroCopy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[reading]("reading")
	rows := sampleReadings(2000)
	ds := readingsDataset(t, mem, c, rows)
	for i := 0; i < len(rows); i += 3 {
		_ = ds.Delete(i)
	}
	data := writeIPC(t, ds)
	ds.Release()

	got, err := pcs.ReadIPC(data, mem)
	if err != nil {
		t.Fatal(err)
	}
	// No column was copied into mem: far less than the data's size.
	if n := mem.CurrentAlloc(); n > len(data)/20 {
		t.Errorf("ReadIPC allocated %d bytes for a %d-byte buffer", n, len(data))
	}
	for _, f := range c.Schema().Fields() {
		col, err := got.Column("reading", f.Name)
		if err != nil {
			t.Fatal(err)
		}
		bufs := col.Data().Buffers()
		if len(bufs) < 2 || bufs[1] == nil || !inRange(bufs[1].Bytes(), data) {
			t.Errorf("%s: data buffer does not point into the input", f.Name)
		}
		if len(bufs) > 2 && bufs[2] != nil && bufs[2].Len() > 0 && !inRange(bufs[2].Bytes(), data) {
			t.Errorf("%s: values buffer does not point into the input", f.Name)
		}
	}
	// And the values are the written ones.
	b, err := got.Batch("reading")
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.Rows(b)
	b.Release()
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if back[i].ID != rows[i].ID || back[i].Name != rows[i].Name || !back[i].At.Equal(rows[i].At) || got.Alive(i) != (i%3 != 0) {
			t.Fatalf("row %d: %+v alive %v", i, back[i], got.Alive(i))
		}
	}
	got.Release()

	// Compressed bodies are decompressed into mem, not aliased.
	ds = readingsDataset(t, mem, c, rows)
	zdata := writeIPC(t, ds, ipc.WithZstd())
	ds.Release()
	zgot, err := pcs.ReadIPC(zdata, mem)
	if err != nil {
		t.Fatal(err)
	}
	if mem.CurrentAlloc() == 0 {
		t.Error("compressed ReadIPC allocated nothing from mem")
	}
	ids, _ := zgot.Column("reading", "id")
	if inRange(ids.Data().Buffers()[1].Bytes(), zdata) {
		t.Error("decompressed column points into the compressed input")
	}
	if ids.(*array.Int64).Value(1999) != rows[1999].ID {
		t.Error("decompressed value differs")
	}
	zgot.Release()
}

// writeRaw writes records of schema s as an Arrow IPC file.
func writeRaw(t *testing.T, mem memory.Allocator, s *arrow.Schema, recs ...arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(s), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func int64Array(mem memory.Allocator, vs ...int64) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

func boolArray(mem memory.Allocator, vs []bool, valid []bool) arrow.Array {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.AppendValues(vs, valid)
	return b.NewArray()
}

func pcsField(comp, field string, dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: comp + "." + field, Type: dt,
		Metadata: arrow.NewMetadata([]string{"pcs.component", "pcs.field"}, []string{comp, field})}
}

func aliveField(dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: "pcs.alive", Type: dt, Nullable: true, Metadata: arrow.NewMetadata([]string{"pcs.alive"}, []string{"1"})}
}

func pcsSchema(version string, fields ...arrow.Field) *arrow.Schema {
	md := arrow.NewMetadata([]string{"pcs.dataset"}, []string{version})
	return arrow.NewSchema(fields, &md)
}

// ReadIPC refuses what is not a PCS dataset, or a corrupt one, with
// ErrIPC, and leaks nothing doing so.
func TestReadIPCErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	x := int64Array(mem, 1, 2, 3)
	defer x.Release()
	x4 := int64Array(mem, 1, 2, 3, 4)
	defer x4.Release()
	valid := pcsField("c", "x", arrow.PrimitiveTypes.Int64)

	cases := map[string][]byte{
		"nil":     nil,
		"garbage": []byte("definitely not an arrow file, just some bytes of text"),
		"magic only": func() []byte {
			return append([]byte("ARROW1\x00\x00"), []byte("ARROW1")...)
		}(),
	}
	rec := func(s *arrow.Schema, rows int64, cols ...arrow.Array) arrow.RecordBatch {
		return array.NewRecordBatch(s, cols, rows)
	}
	add := func(name string, s *arrow.Schema, recs ...arrow.RecordBatch) {
		cases[name] = writeRaw(t, mem, s, recs...)
		for _, r := range recs {
			r.Release()
		}
	}
	// Plain Arrow files that are not PCS datasets.
	plain := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	add("no dataset metadata", plain, rec(plain, 3, x))
	v2 := pcsSchema("2", valid)
	add("unknown version", v2, rec(v2, 3, x))
	ok := pcsSchema("1", valid)
	add("two record batches", ok, rec(ok, 3, x), rec(ok, 3, x))
	add("no record batch", ok)
	noMeta := pcsSchema("1", valid, arrow.Field{Name: "c.y", Type: arrow.PrimitiveTypes.Int64})
	add("column without pcs metadata", noMeta, rec(noMeta, 3, x, x))
	// A column longer than the record batch: a dataset whose columns
	// disagree with its Len would break Batch, Append and Compact later.
	long := pcsSchema("1", valid, pcsField("c", "y", arrow.PrimitiveTypes.Int64))
	add("column longer than the batch", long, rec(long, 3, x, x4))
	aliveInt := pcsSchema("1", valid, aliveField(arrow.PrimitiveTypes.Int64))
	add("alive column not boolean", aliveInt, rec(aliveInt, 3, x, x))
	aliveNull := pcsSchema("1", valid, aliveField(arrow.FixedWidthTypes.Boolean))
	withNull := boolArray(mem, []bool{true, false, true}, []bool{true, true, false})
	add("alive column with a null", aliveNull, rec(aliveNull, 3, x, withNull))
	withNull.Release()
	longAlive := boolArray(mem, []bool{true, false, true, true}, nil)
	add("alive column longer than the batch", aliveNull, rec(aliveNull, 3, x, longAlive))
	longAlive.Release()

	// The stream format is not the file format.
	var stream bytes.Buffer
	sw := ipc.NewWriter(&stream, ipc.WithSchema(ok), ipc.WithAllocator(mem))
	r := rec(ok, 3, x)
	if err := sw.Write(r); err != nil {
		t.Fatal(err)
	}
	r.Release()
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	cases["stream format"] = stream.Bytes()

	// Every truncation of a valid dataset file.
	pos := pcs.MustComponent[posComp]("pos")
	ds := pcs.NewDataset(mem)
	if err := ds.Register(pos); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, pos, []posComp{{1, 2}, {3, 4}}); err != nil {
		t.Fatal(err)
	}
	_ = ds.Delete(0)
	full := writeIPC(t, ds)
	ds.Release()
	for n := 0; n < len(full); n += 7 {
		cases[fmt.Sprintf("truncated to %d bytes", n)] = full[:n:n]
	}

	for name, data := range cases {
		got, err := pcs.ReadIPC(data, mem)
		if err == nil {
			t.Errorf("%s: ReadIPC succeeded (Len %d, components %v)", name, got.Len(), got.Components())
			got.Release()
			continue
		}
		if !errors.Is(err, pcs.ErrIPC) {
			t.Errorf("%s: err = %v, want ErrIPC", name, err)
		}
	}
	// The valid file itself decodes.
	got, err := pcs.ReadIPC(full, mem)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 2 || got.Live() != 1 || got.Alive(0) {
		t.Errorf("valid file: Len %d Live %d", got.Len(), got.Live())
	}
	got.Release()
}

// fbPatch navigates a flatbuffer inside an IPC file, to corrupt one count.
type fbPatch struct {
	data []byte
	base uint32 // where the flatbuffer starts in data
}

func (f fbPatch) u32(p uint32) uint32 { return binary.LittleEndian.Uint32(f.data[f.base+p:]) }

// field returns the position of field vt of the table at t.
func (f fbPatch) field(t, vt uint32) uint32 {
	vtable := uint32(int32(t) - int32(f.u32(t)))
	o := uint32(binary.LittleEndian.Uint16(f.data[f.base+vtable+vt:]))
	if o == 0 {
		panic("field absent")
	}
	return t + o
}

func (f fbPatch) indirect(p uint32) uint32 { return p + f.u32(p) }

// footerPatch returns the navigator of data's footer and its schema table.
func footerPatch(data []byte) (fbPatch, uint32) {
	n := len(data)
	size := binary.LittleEndian.Uint32(data[n-10:])
	f := fbPatch{data: data, base: uint32(n-10) - size}
	root := f.u32(0)
	return f, f.indirect(f.field(root, 6))
}

// ReadIPC must refuse metadata counts that arrow-go would allocate by
// without checking them: with arrow-go alone, these inputs make a slice of
// 2^31 elements, a fatal out-of-memory rather than a recoverable panic.
func TestReadIPCCorruptCounts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	ds := pcs.NewDataset(mem)
	if err := ds.Register(pos); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, pos, []posComp{{1, 2}}); err != nil {
		t.Fatal(err)
	}
	valid := writeIPC(t, ds)
	ds.Release()

	patches := map[string]func(f fbPatch, schema uint32) uint32{
		"schema custom metadata": func(f fbPatch, schema uint32) uint32 { return f.indirect(f.field(schema, 8)) },
		"schema fields":          func(f fbPatch, schema uint32) uint32 { return f.indirect(f.field(schema, 6)) },
		"field custom metadata": func(f fbPatch, schema uint32) uint32 {
			fields := f.indirect(f.field(schema, 6))
			field := f.indirect(fields + 4)
			return f.indirect(f.field(field, 16))
		},
	}
	for what, at := range patches {
		data := slices.Clone(valid)
		f, schema := footerPatch(data)
		lenPos := f.base + at(f, schema)
		if got := binary.LittleEndian.Uint32(data[lenPos:]); got == 0 || got > 16 {
			t.Fatalf("%s: located count %d, not a small vector length", what, got)
		}
		binary.LittleEndian.PutUint32(data[lenPos:], 1<<31-1)
		// The pre-check refuses it, before arrow-go reads it.
		if got, err := pcs.ReadIPC(data, mem); !errors.Is(err, pcs.ErrIPC) || !errors.Is(err, ipcguard.ErrCorrupt) {
			if got != nil {
				got.Release()
			}
			t.Errorf("%s of 2^31-1: err = %v, want ErrIPC and ipcguard.ErrCorrupt", what, err)
		}
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, io.ErrShortWrite
	}
	return len(p), nil
}

func TestWriteIPCWriterError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds, _ := randomDataset(t, mem, 7)
	defer ds.Release()
	full := len(writeIPC(t, ds, ipc.WithZstd()))
	for _, after := range []int{0, 8, full / 2, full - 1} {
		if err := ds.WriteIPC(&failWriter{after: after}, ipc.WithZstd()); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("writer failing after %d bytes: err = %v, want it wrapped", after, err)
		}
	}
}

// Resources live only in memory: WriteIPC leaves them out.
func TestIPCDropsResources(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := pcs.InsertResource(ds, fxRates{"EUR": 1.1}); err != nil {
		t.Fatal(err)
	}
	got, err := pcs.ReadIPC(writeIPC(t, ds), mem)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if _, err := pcs.GetResource[fxRates](got); !errors.Is(err, pcs.ErrNoResource) {
		t.Errorf("decoded dataset has a resource: %v", err)
	}
}

// fuzzSeeds are valid dataset buffers: random datasets plain and zstd,
// nested types with a dictionary, and a typed component with deletes.
func fuzzSeeds(f *testing.F) [][]byte {
	mem := memory.NewGoAllocator()
	var seeds [][]byte
	for _, seed := range []uint64{1, 2, 3} {
		ds, _ := randomDataset(f, mem, seed)
		seeds = append(seeds, writeIPC(f, ds), writeIPC(f, ds, ipc.WithZstd()))
		ds.Release()
	}
	comp, rec := nestedBatch(f, mem, true)
	ds := pcs.NewDataset(mem)
	if err := ds.Register(comp); err != nil {
		f.Fatal(err)
	}
	if _, err := ds.Append(map[string]arrow.RecordBatch{"nested": rec}); err != nil {
		f.Fatal(err)
	}
	rec.Release()
	seeds = append(seeds, writeIPC(f, ds))
	ds.Release()
	c := pcs.MustComponent[trade]("trade")
	ds = pcs.NewDataset(mem)
	if err := ds.Register(c); err != nil {
		f.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, c, sampleTrades()); err != nil {
		f.Fatal(err)
	}
	_ = ds.Delete(0)
	seeds = append(seeds, writeIPC(f, ds, ipc.WithLZ4()))
	ds.Release()
	return seeds
}

// FuzzReadIPC: ReadIPC of arbitrary bytes returns a dataset or an error,
// never panics, and a dataset it returns is consistent (every column has
// Len rows) and releases cleanly.
func FuzzReadIPC(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte("ARROW1\x00\x00ARROW1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// ReadIPC lets a compressed buffer claim up to 32768 times its
		// size (the zstd worst case); keep inputs small enough that such
		// claims fit in a test machine's memory.
		if len(data) > 64<<10 {
			return
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		ds, err := pcs.ReadIPC(data, mem)
		if err != nil {
			if !errors.Is(err, pcs.ErrIPC) {
				t.Fatalf("error does not wrap ErrIPC: %v", err)
			}
			return
		}
		defer ds.Release()
		if ds.Live() < 0 || ds.Live() > ds.Len() {
			t.Fatalf("Live %d, Len %d", ds.Live(), ds.Len())
		}
		for _, name := range ds.Components() {
			s, err := ds.Schema(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range s.Fields() {
				col, err := ds.Column(name, fl.Name)
				if err != nil {
					t.Fatal(err)
				}
				if col.Len() != ds.Len() {
					t.Fatalf("%s.%s has %d rows, dataset %d", name, fl.Name, col.Len(), ds.Len())
				}
			}
			b, err := ds.Batch(name)
			if err != nil {
				t.Fatal(err)
			}
			b.Release()
		}
	})
}
