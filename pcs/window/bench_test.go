package window_test

// Benchmarks of the window issue. `make bench` prints each group's
// variants side by side with the ratio to the "pcs" variant.

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
)

var benchSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "origin", Type: arrow.BinaryTypes.String},
	{Name: "delay", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// benchBatches: n rows in batches of 64k, keys from ~300 airport-like
// codes, times spread evenly over span.
func benchBatches(n int, span time.Duration) []arrow.RecordBatch {
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("%c%c%c", 'A'+i%26, 'A'+(i/26)%26, 'K'+i%7)
	}
	mem := memory.NewGoAllocator()
	step := float64(span.Milliseconds()) / float64(n)
	var out []arrow.RecordBatch
	for lo := 0; lo < n; lo += 64 << 10 {
		hi := min(lo+64<<10, n)
		b := array.NewRecordBuilder(mem, benchSchema)
		for i := lo; i < hi; i++ {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(float64(i) * step)))
			b.Field(1).(*array.StringBuilder).Append(keys[(i*7919)%len(keys)])
			b.Field(2).(*array.Float64Builder).Append(float64(i%97) - 10)
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
	}
	return out
}

func runOperator(b *testing.B, spec window.Spec, recs []arrow.RecordBatch) {
	runOperatorSchema(b, spec, benchSchema, recs)
}

func runOperatorSchema(b *testing.B, spec window.Spec, schema *arrow.Schema, recs []arrow.RecordBatch) {
	op, err := window.New(spec, schema, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, rec := range recs {
		out, err := op.Process(ctx, "bench", rec)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	out, err := op.Flush(ctx)
	if err != nil {
		b.Fatal(err)
	}
	out.Release()
}

// dictBatches re-encodes the origin column as dictionary<int16, string>.
func dictBatches(recs []arrow.RecordBatch) []arrow.RecordBatch {
	mem := memory.NewGoAllocator()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{benchSchema.Field(0), {Name: "origin", Type: dt}, benchSchema.Field(2)}, nil)
	var out []arrow.RecordBatch
	for _, rec := range recs {
		db := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
		s := rec.Column(1).(*array.String)
		for i := 0; i < s.Len(); i++ {
			if err := db.AppendString(s.Value(i)); err != nil {
				panic(err)
			}
		}
		col := db.NewArray()
		db.Release()
		out = append(out, array.NewRecordBatch(schema, []arrow.Array{rec.Column(0), col, rec.Column(2)}, rec.NumRows()))
		col.Release()
	}
	return out
}

// BenchmarkKeyedAgg: sum, avg and count by a string key of 300 values over
// 1M rows in one window: pcs (the Operator, columnar group-by) vs a
// row-at-a-time Go map.
func BenchmarkKeyedAgg(b *testing.B) {
	const n = 1_000_000
	recs := benchBatches(n, time.Hour)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(24*time.Hour, 0),
		Keys: []string{"origin"}, Aggs: []window.Agg{{Func: "sum", Column: "delay"}, {Func: "avg", Column: "delay"}, {Func: "count"}}}
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			runOperator(b, spec, recs)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	// the same with each batch split over two goroutines
	// (Spec.Parallelism = 2)
	par := spec
	par.Parallelism = 2
	b.Run("pcs-par2", func(b *testing.B) {
		for b.Loop() {
			runOperator(b, par, recs)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	// the same keys dictionary-encoded (as pqarrow reads string columns
	// with ArrowReadProperties.SetReadDict): one lookup per dictionary entry
	dict := dictBatches(recs)
	defer func() {
		for _, r := range dict {
			r.Release()
		}
	}()
	b.Run("pcs-dict", func(b *testing.B) {
		for b.Loop() {
			runOperatorSchema(b, spec, dict[0].Schema(), dict)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("map", func(b *testing.B) {
		type acc struct {
			sum      float64
			n, count int64
		}
		for b.Loop() {
			m := map[string]*acc{}
			for _, rec := range recs {
				keys := rec.Column(1).(*array.String)
				vals := rec.Column(2).(*array.Float64)
				for i := 0; i < int(rec.NumRows()); i++ {
					k := keys.Value(i)
					a := m[k]
					if a == nil {
						a = &acc{}
						m[k] = a
					}
					a.count++
					if vals.IsValid(i) {
						a.sum += vals.Value(i)
						a.n++
					}
				}
			}
			if len(m) != 300 {
				b.Fatal(len(m))
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	// the floor: one read of every input buffer pcs must read (event
	// times, key offsets and bytes, values), no grouping
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			var acc int64
			for _, rec := range recs {
				for _, t := range rec.Column(0).(*array.Timestamp).TimestampValues() {
					acc += int64(t)
				}
				keys := rec.Column(1).(*array.String)
				for _, o := range keys.ValueOffsets() {
					acc += int64(o)
				}
				for _, c := range keys.ValueBytes() {
					acc += int64(c)
				}
				for _, v := range rec.Column(2).(*array.Float64).Float64Values() {
					acc += int64(v)
				}
			}
			scanSink += acc
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// scanSink keeps the scan variant's result alive.
var scanSink int64

// BenchmarkSlidingWindow: sliding windows of 1, 7 and 60 slides (slide
// 1 day, 300 keys, 1M rows over 60 days): the cost per row should grow
// sub-linearly in size/slide (panes). pcs is size = slide (tumbling).
func BenchmarkSlidingWindow(b *testing.B) {
	const n = 1_000_000
	recs := benchBatches(n, 60*24*time.Hour)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, k := range []int{1, 7, 60} {
		name := "pcs"
		if k > 1 {
			name = fmt.Sprintf("pcs-size%dx", k)
		}
		spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Sliding(time.Duration(k)*24*time.Hour, 24*time.Hour, 0),
			Keys: []string{"origin"}, Aggs: []window.Agg{{Func: "sum", Column: "delay"}, {Func: "max", Column: "delay"}, {Func: "count"}}}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				runOperator(b, spec, recs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
		})
	}
}
