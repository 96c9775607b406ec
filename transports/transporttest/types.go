package transporttest

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Time zones of the zoned timestamp types in the catalogue: UTC, and a
// zone east of UTC whose offset is not zero, so that a transport that
// writes local times with an offset is exercised.
const (
	ZoneUTC   = "UTC"
	ZoneTokyo = "Asia/Tokyo"
)

// ScalarTypes returns the non-nested types the suite can generate data
// for: int8..int64, uint8..uint64, float32, float64, bool, utf8,
// large_utf8, binary, large_binary, fixed_size_binary(8), date32, date64,
// time32[s], time32[ms], time64[us], time64[ns], decimal128(20, 4), and
// timestamps of every unit without a zone, in UTC and in Asia/Tokyo.
// Each call returns a new slice.
func ScalarTypes() []arrow.DataType {
	ts := func(u arrow.TimeUnit, tz string) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: tz} }
	out := []arrow.DataType{
		arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Uint8, arrow.PrimitiveTypes.Uint16, arrow.PrimitiveTypes.Uint32, arrow.PrimitiveTypes.Uint64,
		arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64,
		arrow.FixedWidthTypes.Boolean,
		arrow.BinaryTypes.String, arrow.BinaryTypes.LargeString,
		arrow.BinaryTypes.Binary, arrow.BinaryTypes.LargeBinary, &arrow.FixedSizeBinaryType{ByteWidth: 8},
		arrow.FixedWidthTypes.Date32, arrow.FixedWidthTypes.Date64,
		arrow.FixedWidthTypes.Time32s, arrow.FixedWidthTypes.Time32ms,
		arrow.FixedWidthTypes.Time64us, arrow.FixedWidthTypes.Time64ns,
		&arrow.Decimal128Type{Precision: 20, Scale: 4},
	}
	for _, u := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
		out = append(out, ts(u, ""), ts(u, ZoneUTC), ts(u, ZoneTokyo))
	}
	return out
}

// NestedTypes returns the nested types the suite can generate data for:
// list<int32> and struct<a: int64, b: utf8>. Each call returns a new
// slice.
func NestedTypes() []arrow.DataType {
	return []arrow.DataType{
		arrow.ListOf(arrow.PrimitiveTypes.Int32),
		arrow.StructOf(
			arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			arrow.Field{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
		),
	}
}

// AllTypes returns ScalarTypes followed by NestedTypes.
func AllTypes() []arrow.DataType { return append(ScalarTypes(), NestedTypes()...) }

// Without returns the types of ts that are not equal (arrow.TypeEqual)
// to any of drop, in order.
func Without(ts []arrow.DataType, drop ...arrow.DataType) []arrow.DataType {
	var out []arrow.DataType
next:
	for _, t := range ts {
		for _, d := range drop {
			if arrow.TypeEqual(t, d) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// TypeName returns the name of the RoundTrip sub-test of dt (and the key
// to skip it in Harness.Skip): dt.String() with brackets, commas, spaces,
// "=" and "/" turned into "_" and runs of "_" collapsed, e.g. "int8",
// "timestamp_us_tz_Asia_Tokyo", "decimal_20_4"; lists are "list_" and
// their element's name ("list_int32"), structs "struct".
func TypeName(dt arrow.DataType) string {
	s := dt.String()
	switch dt := dt.(type) {
	case *arrow.StructType:
		s = "struct"
	case *arrow.ListType:
		return "list_" + TypeName(dt.Elem())
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '[', ']', '(', ')', '<', '>', ',', ' ', '=', '/', ':':
			return '_'
		}
		return r
	}, s)
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	return strings.Trim(s, "_")
}

// nulls says where a generated column has nulls.
type nulls int

const (
	someNulls nulls = iota // at rows r%7 == 3 and r%11 == 0 (so row 0 is null)
	noNulls
	allNulls
)

func (n nulls) at(r int64) bool {
	switch n {
	case noNulls:
		return false
	case allNulls:
		return true
	}
	return r%7 == 3 || r%11 == 0
}

// gen generates deterministic test data: the value of a column at row r
// depends on r only, so batches [0,a) and [a,b) concatenate to [0,b).
type gen struct {
	// noEmpty: never generate "" or empty binary values (for transports
	// where they read back as null).
	noEmpty bool
}

// batch builds rows [start, start+n) of schema. An int64 field named
// "id" holds the row number. Otherwise each field's name decides its
// nulls: fields that are not nullable or whose name ends in "_nn" have
// none, names ending in "_null" only nulls, others some.
func (g gen) batch(mem memory.Allocator, schema *arrow.Schema, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, f := range schema.Fields() {
		mode := someNulls
		switch {
		case strings.HasSuffix(f.Name, "_nn") || !f.Nullable:
			mode = noNulls
		case strings.HasSuffix(f.Name, "_null"):
			mode = allNulls
		}
		fb := b.Field(i)
		fb.Reserve(int(n))
		if ib, ok := fb.(*array.Int64Builder); ok && f.Name == "id" {
			for r := start; r < start+n; r++ {
				ib.Append(r)
			}
			continue
		}
		for r := start; r < start+n; r++ {
			if mode.at(r) {
				fb.AppendNull()
				continue
			}
			g.value(fb, f.Type, r)
		}
	}
	return b.NewRecordBatch()
}

// edge returns edges[r%29] when that index exists.
func edge[T any](r int64, edges []T) (T, bool) {
	if k := r % 29; k < int64(len(edges)) {
		return edges[k], true
	}
	var zero T
	return zero, false
}

func pick[T any](r int64, edges []T, f func(int64) T) T {
	if v, ok := edge(r, edges); ok {
		return v
	}
	return f(r)
}

var strEdges = []string{
	"a", "with,comma", `with "quotes"`, "new\nline", " padded ", "ünïcödé ☃ 日本",
	"NULL", "null", "NaN", `{"json": 1}`, "#hash", "'single'", `back\slash`, "tab\there", "123", "true",
}

var binEdges = [][]byte{{0}, {0xff, 0xfe, 0x00}, []byte("plain"), []byte("a,b\n"), func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()}

func (g gen) str(r int64) string {
	if !g.noEmpty && r%29 == 20 {
		return ""
	}
	return pick(r, strEdges, func(r int64) string { return fmt.Sprintf("s%d%s", r, strings.Repeat("x", int(r%5))) })
}

func (g gen) bin(r int64) []byte {
	if !g.noEmpty && r%29 == 20 {
		return []byte{}
	}
	return pick(r, binEdges, func(r int64) []byte { return []byte(fmt.Sprintf("b%d\x00\x01", r)) })
}

var (
	time1900 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	time2199 = time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC)
	timeBase = time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)
)

func unitsPerSecond(u arrow.TimeUnit) int64 {
	return int64(time.Second / u.Multiplier())
}

func toUnits(t time.Time, u arrow.TimeUnit) int64 {
	return t.Unix()*unitsPerSecond(u) + int64(t.Nanosecond())/int64(u.Multiplier())
}

func tsValue(u arrow.TimeUnit, r int64) int64 {
	ups := unitsPerSecond(u)
	return pick(r, []int64{0, -1, toUnits(time1900, u), toUnits(time2199, u) + ups - 1}, func(r int64) int64 {
		return toUnits(timeBase, u) + r*(3600*ups+ups/7+1) - 5000*3600*ups
	})
}

func date32Value(r int64) int32 {
	return pick(r, []int32{0, -1, int32(time1900.Unix() / 86400), int32(time2199.Unix() / 86400)}, func(r int64) int32 {
		return int32(20000 + r*3 - 3000)
	})
}

func (g gen) value(b array.Builder, dt arrow.DataType, r int64) {
	switch b := b.(type) {
	case *array.Int8Builder:
		b.Append(pick(r, []int8{math.MinInt8, math.MaxInt8, 0, -1}, func(r int64) int8 { return int8(r * 37) }))
	case *array.Int16Builder:
		b.Append(pick(r, []int16{math.MinInt16, math.MaxInt16, 0, -1}, func(r int64) int16 { return int16(r * 997) }))
	case *array.Int32Builder:
		b.Append(pick(r, []int32{math.MinInt32, math.MaxInt32, 0, -1}, func(r int64) int32 { return int32(r*99991 - 5_000_000) }))
	case *array.Int64Builder:
		b.Append(pick(r, []int64{math.MinInt64, math.MaxInt64, 0, -1, 1 << 53, 1<<53 + 1}, func(r int64) int64 { return r*1_000_000_007 - 1<<40 }))
	case *array.Uint8Builder:
		b.Append(pick(r, []uint8{math.MaxUint8, 0, 1}, func(r int64) uint8 { return uint8(r * 37) }))
	case *array.Uint16Builder:
		b.Append(pick(r, []uint16{math.MaxUint16, 0, 1}, func(r int64) uint16 { return uint16(r * 997) }))
	case *array.Uint32Builder:
		b.Append(pick(r, []uint32{math.MaxUint32, 0, 1}, func(r int64) uint32 { return uint32(r * 99991) }))
	case *array.Uint64Builder:
		b.Append(pick(r, []uint64{math.MaxUint64, 0, 1, 1<<63 + 1}, func(r int64) uint64 { return uint64(r) * 1_000_000_007 }))
	case *array.Float32Builder:
		b.Append(pick(r, []float32{0, -1.5, math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), 1.0 / 3},
			func(r int64) float32 { return float32(r)*0.25 - 100.5 }))
	case *array.Float64Builder:
		b.Append(pick(r, []float64{0, -1.5, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), 1.0 / 3, -1e-300, 123456.789},
			func(r int64) float64 { return float64(r)*0.1 - 100.5 }))
	case *array.BooleanBuilder:
		b.Append(r%3 == 1)
	case *array.StringBuilder:
		b.Append(g.str(r))
	case *array.LargeStringBuilder:
		b.Append(g.str(r))
	case *array.BinaryBuilder: // binary and large_binary
		b.Append(g.bin(r))
	case *array.FixedSizeBinaryBuilder:
		v := make([]byte, dt.(*arrow.FixedSizeBinaryType).ByteWidth)
		for i := range v {
			v[i] = byte(r*31 + int64(i)*7)
		}
		b.Append(v)
	case *array.Date32Builder:
		b.Append(arrow.Date32(date32Value(r)))
	case *array.Date64Builder:
		b.Append(arrow.Date64(int64(date32Value(r)) * 86_400_000))
	case *array.Time32Builder:
		ups := unitsPerSecond(dt.(*arrow.Time32Type).Unit)
		b.Append(arrow.Time32((r*(3601*ups+ups/7+1) + 17) % (86400 * ups)))
	case *array.Time64Builder:
		ups := unitsPerSecond(dt.(*arrow.Time64Type).Unit)
		b.Append(arrow.Time64((r*(3601*ups+ups/7+1) + 17) % (86400 * ups)))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(tsValue(dt.(*arrow.TimestampType).Unit, r)))
	case *array.Decimal128Builder:
		t := dt.(*arrow.Decimal128Type)
		if v, ok := edge(r, []string{"0", "-0.0001", "9999999999999999.9999", "-9999999999999999.9999"}); ok {
			n, err := decimal128.FromString(v, t.Precision, t.Scale)
			if err != nil {
				panic(err)
			}
			b.Append(n)
			return
		}
		b.Append(decimal128.FromI64(r*123_457 - 1_000_000))
	case *array.ListBuilder:
		n := r % 4 // row 0 is empty, not null
		b.Append(true)
		vb := b.ValueBuilder().(*array.Int32Builder)
		for j := int64(0); j < n; j++ {
			if (r+j)%5 == 0 {
				vb.AppendNull()
			} else {
				vb.Append(int32(r*10 + j))
			}
		}
	case *array.StructBuilder:
		b.Append(true)
		if r%4 == 1 {
			b.FieldBuilder(0).AppendNull()
		} else {
			b.FieldBuilder(0).(*array.Int64Builder).Append(r * 3)
		}
		b.FieldBuilder(1).(*array.StringBuilder).Append(g.str(r))
	default:
		panic(fmt.Sprintf("transporttest: no data generator for type %s", dt))
	}
}

// canGenerate reports whether the suite has a data generator for dt.
func canGenerate(dt arrow.DataType) bool {
	for _, t := range AllTypes() {
		if arrow.TypeEqual(t, dt) {
			return true
		}
	}
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.FIXED_SIZE_BINARY, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.TIMESTAMP, arrow.DECIMAL128:
		return true
	}
	return false
}
