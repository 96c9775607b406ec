package natsjs_test

import (
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// fingerprintVectors are the schemas of the test vectors in
// docs/wire-format.md, in order.
var fingerprintVectors = []*arrow.Schema{
	arrow.NewSchema(nil, nil),
	arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil),
	// The flights input (pcs publish of flights-3m.parquet).
	arrow.NewSchema([]arrow.Field{
		{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "distance", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "destination", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil),
	// Leaf types a JS producer meets most.
	arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "bin", Type: arrow.BinaryTypes.Binary},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32},
		{Name: "d64", Type: arrow.FixedWidthTypes.Date64},
		{Name: "ts_ms_utc", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
		{Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}},
		{Name: "dur", Type: &arrow.DurationType{Unit: arrow.Millisecond}},
	}, nil),
	// Nested and dictionary types, a name that needs quoting.
	arrow.NewSchema([]arrow.Field{
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "pt", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64}, arrow.Field{Name: "y", Type: arrow.PrimitiveTypes.Float64, Nullable: true})},
		{Name: "city", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
		{Name: "say \"hi\"\tß", Type: arrow.BinaryTypes.String},
	}, nil),
}

// TestWireFormatFingerprintVectors: docs/wire-format.md lists, for every
// schema of fingerprintVectors, its canonical form and fingerprint
// ("canonical: ..." and "fingerprint: ..." lines), as CanonicalSchema and
// Fingerprint compute them. The JS test (examples/js) checks the same
// lines.
func TestWireFormatFingerprintVectors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/wire-format.md")
	if err != nil {
		t.Fatal(err)
	}
	var canon, fps []string
	for _, line := range strings.Split(string(doc), "\n") {
		if v, ok := strings.CutPrefix(line, "canonical: "); ok {
			canon = append(canon, v)
		}
		if v, ok := strings.CutPrefix(line, "fingerprint: "); ok {
			fps = append(fps, v)
		}
	}
	if len(canon) != len(fingerprintVectors) || len(fps) != len(fingerprintVectors) {
		t.Errorf("docs/wire-format.md has %d canonical and %d fingerprint lines, want %d of each", len(canon), len(fps), len(fingerprintVectors))
	}
	for i, s := range fingerprintVectors {
		c, f := natsjs.CanonicalSchema(s), natsjs.Fingerprint(s)
		if i >= len(canon) || i >= len(fps) || canon[i] != c || fps[i] != f {
			t.Errorf("vector %d: want in docs/wire-format.md\ncanonical: %s\nfingerprint: %s", i+1, c, f)
		}
	}
}
