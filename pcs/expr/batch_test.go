package expr_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A random test batch: each column is kept twice, as Go slices (what the
// reference computations read) and as Arrow arrays (what the package
// reads).

type col struct {
	dt    arrow.DataType
	valid []bool
	i     []int64 // ints, uints, timestamps, dates, durations (raw)
	f     []float64
	s     []string
	b     []bool
}

type batch struct {
	n    int
	cols map[string]*col
	rec  arrow.RecordBatch
}

var words = []string{"", "A", "AB", "ABC", "BA", "xAB", "héllo", "AAB", "B", "éa"}

const (
	day2001 = 11323                  // 2001-01-01 in days
	sec2001 = int64(day2001) * 86400 // in seconds
)

var (
	tsUS  = &arrow.TimestampType{Unit: arrow.Microsecond}
	tsNS  = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	tsS   = &arrow.TimestampType{Unit: arrow.Second}
	durMS = &arrow.DurationType{Unit: arrow.Millisecond}
)

// testSchema lists the columns of the random batch.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "j64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "g64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "c", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "ts", Type: tsUS, Nullable: true},
	{Name: "tsn", Type: tsNS, Nullable: true},
	{Name: "tss", Type: tsS, Nullable: true},
	{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "dur", Type: durMS, Nullable: true},
	{Name: "weird name", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// newBatch makes n random rows with about 1 null in 8 per column.
func newBatch(t testing.TB, mem memory.Allocator, seed uint64, n int) *batch {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	bt := &batch{n: n, cols: map[string]*col{}}
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for fi, f := range testSchema.Fields() {
		c := &col{dt: f.Type, valid: make([]bool, n)}
		bt.cols[f.Name] = c
		for i := range n {
			c.valid[i] = r.IntN(8) != 0
		}
		switch f.Name {
		case "i8":
			c.i = ints(n, func() int64 { return r.Int64N(11) - 5 })
			b.Field(fi).(*array.Int8Builder).AppendValues(conv[int8](c.i), c.valid)
		case "i32":
			c.i = ints(n, func() int64 { return r.Int64N(201) - 100 })
			b.Field(fi).(*array.Int32Builder).AppendValues(conv[int32](c.i), c.valid)
		case "i64", "weird name":
			c.i = ints(n, func() int64 { return r.Int64N(201) - 100 })
			b.Field(fi).(*array.Int64Builder).AppendValues(c.i, c.valid)
		case "j64":
			c.i = ints(n, func() int64 { return r.Int64N(21) - 10 })
			b.Field(fi).(*array.Int64Builder).AppendValues(c.i, c.valid)
		case "u16":
			c.i = ints(n, func() int64 { return r.Int64N(201) })
			b.Field(fi).(*array.Uint16Builder).AppendValues(conv[uint16](c.i), c.valid)
		case "u64":
			c.i = ints(n, func() int64 { return r.Int64N(1001) })
			b.Field(fi).(*array.Uint64Builder).AppendValues(conv[uint64](c.i), c.valid)
		case "f32":
			c.f = floats(n, func() float64 { return float64(r.IntN(81)-40) / 4 })
			fs := make([]float32, n)
			for i, v := range c.f {
				fs[i] = float32(v)
			}
			b.Field(fi).(*array.Float32Builder).AppendValues(fs, c.valid)
		case "f64":
			c.f = floats(n, func() float64 {
				if r.IntN(4) == 0 {
					return float64(r.IntN(21) - 10)
				}
				return r.Float64()*200 - 100
			})
			b.Field(fi).(*array.Float64Builder).AppendValues(c.f, c.valid)
		case "g64":
			c.f = floats(n, func() float64 { return float64(r.IntN(21)-10) / 2 })
			b.Field(fi).(*array.Float64Builder).AppendValues(c.f, c.valid)
		case "b", "c":
			c.b = make([]bool, n)
			for i := range c.b {
				c.b[i] = r.IntN(2) == 0
			}
			b.Field(fi).(*array.BooleanBuilder).AppendValues(c.b, c.valid)
		case "s", "ls":
			c.s = make([]string, n)
			for i := range c.s {
				c.s[i] = words[r.IntN(len(words))]
			}
			if f.Name == "s" {
				b.Field(fi).(*array.StringBuilder).AppendValues(c.s, c.valid)
			} else {
				b.Field(fi).(*array.LargeStringBuilder).AppendValues(c.s, c.valid)
			}
		case "ts", "tsn", "tss":
			unit := f.Type.(*arrow.TimestampType).Unit
			m := int64(time.Second / unit.Multiplier()) // units per second
			c.i = ints(n, func() int64 {
				sec := sec2001 + r.Int64N(4*86400)
				if r.IntN(10) == 0 {
					sec = -r.Int64N(86400) // before 1970
				}
				v := sec * m
				if r.IntN(3) != 0 {
					v += r.Int64N(m)
				}
				return v
			})
			ts := make([]arrow.Timestamp, n)
			for i, v := range c.i {
				ts[i] = arrow.Timestamp(v)
			}
			b.Field(fi).(*array.TimestampBuilder).AppendValues(ts, c.valid)
		case "d32":
			c.i = ints(n, func() int64 { return day2001 + r.Int64N(5) - 1 })
			ds := make([]arrow.Date32, n)
			for i, v := range c.i {
				ds[i] = arrow.Date32(v)
			}
			b.Field(fi).(*array.Date32Builder).AppendValues(ds, c.valid)
		case "dur":
			c.i = ints(n, func() int64 { return r.Int64N(10001) - 5000 })
			ds := make([]arrow.Duration, n)
			for i, v := range c.i {
				ds[i] = arrow.Duration(v)
			}
			b.Field(fi).(*array.DurationBuilder).AppendValues(ds, c.valid)
		default:
			t.Fatalf("no generator for %s", f.Name)
		}
	}
	bt.rec = b.NewRecordBatch()
	return bt
}

func ints(n int, f func() int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

func floats(n int, f func() float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

func conv[T int8 | int32 | uint16 | uint64](in []int64) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}

// Accessors for the reference computations: value and validity of row i.

func (b *batch) I(name string, i int) (int64, bool) {
	c := b.cols[name]
	return c.i[i], c.valid[i]
}

func (b *batch) F(name string, i int) (float64, bool) {
	c := b.cols[name]
	if c.f == nil {
		return float64(c.i[i]), c.valid[i]
	}
	return c.f[i], c.valid[i]
}

func (b *batch) S(name string, i int) (string, bool) {
	c := b.cols[name]
	return c.s[i], c.valid[i]
}

func (b *batch) B(name string, i int) (bool, bool) {
	c := b.cols[name]
	return c.b[i], c.valid[i]
}

// goValue reads row i of a result array as nil (null), int64 (integers,
// and the raw values of timestamps, dates and durations), float64, string
// or bool.
func goValue(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Date32:
		return int64(a.Value(i))
	case *array.Duration:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Uint16:
		return int64(a.Value(i))
	case *array.Uint64:
		return int64(a.Value(i))
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Null:
		return nil
	}
	panic(fmt.Sprintf("goValue: %T", a))
}

func sameValue(got, want any) bool {
	if g, ok := got.(float64); ok {
		if w, ok := want.(float64); ok {
			return g == w || math.IsNaN(g) && math.IsNaN(w)
		}
	}
	return got == want
}

func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprintf("%v (%T)", v, v)
}
