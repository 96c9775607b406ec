package natsjs_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

var kitchenSchema = arrow.NewSchema([]arrow.Field{
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 3}, Nullable: true},
	{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	{Name: "st", Type: arrow.StructOf(
		arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true},
	), Nullable: true},
	{Name: "dict", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
}, nil)

const kitchenJSON = `[
{"b": true, "i32": 1, "f64": 1.5, "d": 19000, "bin": "AAEC", "ls": "hello", "dec": "12.34", "fsb": "YWJj", "list": [1,2,3], "st": {"x": 1, "y": "a"}, "dict": "red"},
{"b": null, "i32": null, "f64": null, "d": null, "bin": null, "ls": null, "dec": null, "fsb": null, "list": null, "st": null, "dict": null},
{"b": false, "i32": -7, "f64": -0.25, "d": 0, "bin": "", "ls": "", "dec": "-0.01", "fsb": "eHl6", "list": [], "st": {"x": 2, "y": null}, "dict": "blue"},
{"b": true, "i32": 2147483647, "f64": 1e300, "d": 20000, "bin": "/w==", "ls": "ünï", "dec": "99999999.99", "fsb": "MTIz", "list": [null, 5], "st": {"x": -3, "y": "zz"}, "dict": "red"}
]`

func kitchen(tb testing.TB, mem memory.Allocator) arrow.RecordBatch {
	tb.Helper()
	rec, _, err := array.RecordFromJSON(mem, kitchenSchema, strings.NewReader(kitchenJSON))
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	comps := []natsjs.Compression{natsjs.CompressionNone, natsjs.CompressionLZ4, natsjs.CompressionZstd}
	cases := []struct {
		name  string
		build func(tb testing.TB, mem memory.Allocator) []arrow.RecordBatch
	}{
		{"flights one batch", func(tb testing.TB, mem memory.Allocator) []arrow.RecordBatch {
			return []arrow.RecordBatch{flights(mem, 0, 5000)}
		}},
		{"flights three batches", func(tb testing.TB, mem memory.Allocator) []arrow.RecordBatch {
			return []arrow.RecordBatch{flights(mem, 0, 1000), flights(mem, 1000, 1), flights(mem, 1001, 3000)}
		}},
		{"flights with empty batch", func(tb testing.TB, mem memory.Allocator) []arrow.RecordBatch {
			return []arrow.RecordBatch{flights(mem, 0, 0), flights(mem, 0, 10)}
		}},
		{"flights slice", func(tb testing.TB, mem memory.Allocator) []arrow.RecordBatch {
			r := flights(mem, 0, 100)
			defer r.Release()
			return []arrow.RecordBatch{r.NewSlice(13, 71)}
		}},
		{"kitchen sink two batches", func(tb testing.TB, mem memory.Allocator) []arrow.RecordBatch {
			return []arrow.RecordBatch{kitchen(tb, mem), kitchen(tb, mem)}
		}},
	}
	for _, tc := range cases {
		for _, comp := range comps {
			t.Run(tc.name+"/"+comp.String(), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				in := tc.build(t, mem)
				defer release(in)
				body, err := natsjs.Encode(in, natsjs.EncodeOptions{Compression: comp, CompressMinBytes: -1})
				if err != nil {
					t.Fatal(err)
				}
				out, err := natsjs.Decode(body, mem)
				if err != nil {
					t.Fatal(err)
				}
				defer release(out)
				if len(out) != len(in) {
					t.Fatalf("got %d batches, want %d", len(out), len(in))
				}
				for i := range in {
					if !array.RecordEqual(in[i], out[i]) {
						t.Fatalf("batch %d differs:\n got %v\nwant %v", i, out[i], in[i])
					}
				}
			})
		}
	}
}

func TestEncodeCompressionShrinks(t *testing.T) {
	rec := flights(memory.DefaultAllocator, 0, 64<<10)
	defer rec.Release()
	size := map[natsjs.Compression]int{}
	for _, c := range []natsjs.Compression{natsjs.CompressionNone, natsjs.CompressionLZ4, natsjs.CompressionZstd} {
		body, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{Compression: c})
		if err != nil {
			t.Fatal(err)
		}
		size[c] = len(body)
	}
	t.Logf("64k flights rows: none %d, lz4 %d, zstd %d bytes", size[natsjs.CompressionNone], size[natsjs.CompressionLZ4], size[natsjs.CompressionZstd])
	if !(size[natsjs.CompressionZstd] < size[natsjs.CompressionNone]/2 && size[natsjs.CompressionLZ4] < size[natsjs.CompressionNone]) {
		t.Fatalf("compression did not shrink: %v", size)
	}
}

func TestEncodeSmallStaysUncompressed(t *testing.T) {
	rec := flights(memory.DefaultAllocator, 0, 100)
	defer rec.Release()
	plain, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	small, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{Compression: natsjs.CompressionZstd})
	if err != nil {
		t.Fatal(err)
	}
	forced, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{Compression: natsjs.CompressionZstd, CompressMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, small) {
		t.Fatal("a 100-row batch below DefaultCompressMinBytes was compressed")
	}
	if bytes.Equal(plain, forced) {
		t.Fatal("CompressMinBytes -1 did not compress")
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := natsjs.Encode(nil, natsjs.EncodeOptions{}); !errors.Is(err, natsjs.ErrNoBatches) {
		t.Fatalf("no batches: %v", err)
	}
	a := flights(memory.DefaultAllocator, 0, 3)
	defer a.Release()
	b := kitchen(t, memory.DefaultAllocator)
	defer b.Release()
	if _, err := natsjs.Encode([]arrow.RecordBatch{a, b}, natsjs.EncodeOptions{}); !errors.Is(err, transports.ErrSchemaMismatch) {
		t.Fatalf("mixed schemas: %v", err)
	}
}

func TestDecodeSchemaOnly(t *testing.T) {
	// A stream with a schema and no batch (an empty table written by
	// another Arrow implementation) decodes to no batch.
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(flightsSchema))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := natsjs.Decode(buf.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Fatalf("got %d batches", len(out))
	}
	// Encode always writes at least one batch, possibly empty.
	rec := flights(memory.DefaultAllocator, 0, 0)
	defer rec.Release()
	body, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err = natsjs.Decode(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release(out)
	if len(out) != 1 || out[0].NumRows() != 0 {
		t.Fatalf("got %d batches", len(out))
	}
}

func TestDecodeCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rec := flights(mem, 0, 2000)
	good, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{Compression: natsjs.CompressionZstd, CompressMinBytes: -1})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0xff
		return b
	}
	cases := map[string][]byte{
		"empty":               nil,
		"garbage":             []byte("definitely not an arrow stream"),
		"truncated schema":    good[:20],
		"truncated body":      good[:len(good)/2],
		"flipped length":      flip(4),
		"flipped in metadata": flip(40),
		"flipped near end":    flip(len(good) - 40),
		"continuation only":   {0xff, 0xff, 0xff, 0xff},
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := natsjs.Decode(body, mem)
			if err == nil {
				// A flip inside compressed data can still decode; what
				// matters is that it never panics and never leaks.
				release(out)
				if strings.HasPrefix(name, "flipped") {
					return
				}
				t.Fatal("decoded a corrupt body")
			}
			if !errors.Is(err, natsjs.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			// Framing errors are refused before arrow-go reads (and, for
			// a length, allocates) them.
			if name != "empty" && !strings.HasPrefix(name, "flipped") && !errors.Is(err, ipcguard.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ipcguard.ErrCorrupt", err)
			}
		})
	}
	mem.AssertSize(t, 0)
}

func TestFingerprint(t *testing.T) {
	base := func() *arrow.Schema { return flightsSchema }
	fp := natsjs.Fingerprint(base())
	if len(fp) != 32 {
		t.Fatalf("fingerprint %q: want 32 hex characters", fp)
	}
	// The same schema built again, and with metadata, prints the same.
	again := arrow.NewSchema(append([]arrow.Field(nil), flightsSchema.Fields()...), nil)
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	withMeta := arrow.NewSchema(append([]arrow.Field(nil), flightsSchema.Fields()...), &md)
	for name, s := range map[string]*arrow.Schema{"rebuilt": again, "metadata": withMeta} {
		if got := natsjs.Fingerprint(s); got != fp {
			t.Errorf("%s: %s, want %s", name, got, fp)
		}
	}
	// Pinned: the fingerprint is a public contract; changing it breaks
	// consumers that compare Pcs-Schema across versions.
	const pinned = "schema{\"ts\" timestamp[ms, tz=UTC] not null, \"delay\" int64 null, \"distance\" int64 not null, \"origin\" utf8 not null, \"destination\" utf8 null}"
	if got := natsjs.CanonicalSchema(flightsSchema); got != pinned {
		t.Errorf("canonical form changed:\n got %s\nwant %s", got, pinned)
	}
	change := func(i int, f func(*arrow.Field)) *arrow.Schema {
		fs := append([]arrow.Field(nil), flightsSchema.Fields()...)
		f(&fs[i])
		return arrow.NewSchema(fs, nil)
	}
	variants := map[string]*arrow.Schema{
		"name":        change(1, func(f *arrow.Field) { f.Name = "delay_min" }),
		"type":        change(1, func(f *arrow.Field) { f.Type = arrow.PrimitiveTypes.Int32 }),
		"nullability": change(1, func(f *arrow.Field) { f.Nullable = false }),
		"time unit":   change(0, func(f *arrow.Field) { f.Type = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"} }),
		"time zone":   change(0, func(f *arrow.Field) { f.Type = &arrow.TimestampType{Unit: arrow.Millisecond} }),
		"order": arrow.NewSchema([]arrow.Field{
			flightsSchema.Field(1), flightsSchema.Field(0), flightsSchema.Field(2), flightsSchema.Field(3), flightsSchema.Field(4),
		}, nil),
		"fewer fields": arrow.NewSchema(flightsSchema.Fields()[:4], nil),
		"nested element nullability": change(1, func(f *arrow.Field) {
			f.Type = arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int64)
		}),
		"nested list":         change(1, func(f *arrow.Field) { f.Type = arrow.ListOf(arrow.PrimitiveTypes.Int64) }),
		"name with separator": change(1, func(f *arrow.Field) { f.Name = `delay" int64 null, "x` }),
	}
	seen := map[string]string{fp: "base"}
	for name, s := range variants {
		got := natsjs.Fingerprint(s)
		if other, dup := seen[got]; dup {
			t.Errorf("%s: same fingerprint as %s (%s)", name, other, natsjs.CanonicalSchema(s))
		}
		seen[got] = name
	}
	// Nested struct field changes reach the fingerprint too.
	st := func(nullable bool) *arrow.Schema {
		return arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int8, Nullable: nullable})}}, nil)
	}
	if natsjs.Fingerprint(st(true)) == natsjs.Fingerprint(st(false)) {
		t.Error("struct child nullability not in fingerprint")
	}
	if natsjs.Fingerprint(kitchenSchema) == "" || natsjs.Fingerprint(nil) == fp {
		t.Error("kitchen or nil schema")
	}
}

func TestDescribe(t *testing.T) {
	a, b := flights(memory.DefaultAllocator, 10, 5), flights(memory.DefaultAllocator, 0, 3)
	defer a.Release()
	defer b.Release()
	m, err := natsjs.Describe([]arrow.RecordBatch{a, b}, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 8 || m.Schema != natsjs.Fingerprint(flightsSchema) {
		t.Fatalf("meta %+v", m)
	}
	if want := flightBase; !m.EventMin.Equal(want) {
		t.Errorf("event min %v, want %v", m.EventMin, want)
	}
	if want := flightBase.Add(14 * time.Second); !m.EventMax.Equal(want) {
		t.Errorf("event max %v, want %v", m.EventMax, want)
	}
	if _, err := natsjs.Describe([]arrow.RecordBatch{a}, "origin"); !errors.Is(err, natsjs.ErrEventTime) {
		t.Errorf("string event time: %v", err)
	}
	if _, err := natsjs.Describe([]arrow.RecordBatch{a}, "nope"); !errors.Is(err, natsjs.ErrEventTime) {
		t.Errorf("missing event time: %v", err)
	}
	m, err = natsjs.Describe([]arrow.RecordBatch{a}, "")
	if err != nil || !m.EventMin.IsZero() {
		t.Errorf("no event time: %+v %v", m, err)
	}
}

// TestDecodeZeroCopy: an uncompressed body decodes into batches whose
// buffers lie inside the body (nothing allocated from mem); a compressed
// one into buffers from mem. Either way the values equal the input.
func TestDecodeZeroCopy(t *testing.T) {
	for _, c := range []natsjs.Compression{natsjs.CompressionNone, natsjs.CompressionZstd} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		in := kitchen(t, mem)
		body, err := natsjs.Encode([]arrow.RecordBatch{in}, natsjs.EncodeOptions{Compression: c, CompressMinBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		dec := memory.NewCheckedAllocator(memory.NewGoAllocator())
		recs, err := natsjs.Decode(body, dec)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || !array.RecordEqual(in, recs[0]) {
			t.Fatalf("%v: decoded %v, want %v", c, recs, in)
		}
		inside := func(b []byte) bool {
			if len(b) == 0 {
				return true
			}
			lo, hi := &body[0], &body[len(body)-1]
			p := &b[0]
			return uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(lo)) && uintptr(unsafe.Pointer(p)) <= uintptr(unsafe.Pointer(hi))
		}
		i32 := recs[0].Column(1).Data().Buffers()[1].Bytes()
		if got, want := inside(i32), c == natsjs.CompressionNone; got != want {
			t.Errorf("%v: i32 values inside the body = %v, want %v", c, got, want)
		}
		if c == natsjs.CompressionNone && dec.CurrentAlloc() != 0 {
			t.Errorf("uncompressed decode allocated %d bytes from mem", dec.CurrentAlloc())
		}
		recs[0].Release()
		in.Release()
		dec.AssertSize(t, 0)
		mem.AssertSize(t, 0)
	}
}

// TestEncodeSlicedSizes: encoding a slice of a batch writes only the
// slice's rows, and the body is about a tenth of the whole's.
func TestEncodeSlicedSizes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "d", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
	}, nil))
	defer b.Release()
	for i := range 100_000 {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.LargeStringBuilder).Append(fmt.Sprint("row-", i))
		if err := b.Field(2).(*array.BinaryDictionaryBuilder).AppendString([]string{"red", "green"}[i%2]); err != nil {
			t.Fatal(err)
		}
		b.Field(3).(*array.BooleanBuilder).Append(i%3 == 0)
	}
	whole := b.NewRecordBatch()
	defer whole.Release()
	part := whole.NewSlice(40_000, 50_000)
	defer part.Release()
	full, err := natsjs.Encode([]arrow.RecordBatch{whole}, natsjs.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := natsjs.Encode([]arrow.RecordBatch{part}, natsjs.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := float64(len(body)) / float64(len(full)); r < 0.09 || r > 0.11 || cap(body) > 2*len(body) {
		t.Errorf("slice body %d bytes (capacity %d), whole %d: ratio %.3f, want about 0.1 and a buffer sized to the slice", len(body), cap(body), len(full), r)
	}
	recs, err := natsjs.Decode(body, mem)
	if err != nil {
		t.Fatal(err)
	}
	if !array.RecordEqual(recs[0], part) {
		t.Error("the slice does not round-trip")
	}
	recs[0].Release()
}
