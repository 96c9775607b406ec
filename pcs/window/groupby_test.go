package window_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/pcs/window"
)

// TestSharedStates: aggregates that share batch states (sum and avg of a
// column, count(col) and count(*) from them) against the oracle, in
// batches small enough that some have no nulls in a column (count(*)
// then copies the column's count) and some do.
func TestSharedStates(t *testing.T) {
	aggs := []string{"sum(vf)", "avg(vf)", "count(vf) as nvf", "count(*) as n", "avg(vi)", "count(vi) as nvi",
		"sum(vi)", "count(*) as n2", "sum(vf) as s2", "avg(vu)", "count(vu) as nvu", "sum(vu)"}
	for _, size := range []int{3, 257} {
		for _, tc := range oracleCases[:3] {
			t.Run(fmt.Sprintf("%s/%d", tc.name, size), func(t *testing.T) {
				mem := checkedMem(t)
				rows := genRows(3, 600, 1, 8, false)
				assignArrival(rows)
				spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: tc.a, Keys: tc.keys,
					Aggs: parseAggs(t, aggs), OutOfOrderness: 10 * time.Millisecond}
				got, late := collect(t, mustNew(t, spec, randSchema, mem), "s", batches(mem, rows, size, false), true)
				if late != 0 {
					t.Fatalf("%d late", late)
				}
				diff(t, got, oracle(rows, tc.a, tc.keys, spec.Aggs, false))
			})
		}
	}
}

// TestSplitBatches: batches split over goroutines (Spec.Parallelism)
// give the results, late rows and counters of one goroutine, with late
// rows, null event times and re-fired windows inside the chunks.
func TestSplitBatches(t *testing.T) {
	defer window.SetMinChunk(4)()
	totalLate := 0
	for _, tc := range oracleCases {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			rows := genRows(9, 700, 1, 40, false)
			assignArrival(rows)
			spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: tc.a, Keys: tc.keys,
				Aggs: parseAggs(t, allAggs), OutOfOrderness: time.Millisecond, AllowedLateness: 2 * time.Millisecond}
			serial := mustNew(t, spec, randSchema, mem)
			want, wantLate := collect(t, serial, "s", batches(mem, rows, 16, false), true)
			spec.Parallelism = 3
			split := mustNew(t, spec, randSchema, mem)
			got, late := collect(t, split, "s", batches(mem, rows, 16, false), true)
			diff(t, got, want)
			if late != wantLate || split.Stats() != serial.Stats() {
				t.Fatalf("late %d, stats %+v; want %d, %+v", late, split.Stats(), wantLate, serial.Stats())
			}
			totalLate += wantLate
		})
	}
	if totalLate == 0 {
		t.Fatal("the data should make late rows")
	}
	t.Run("null times", func(t *testing.T) {
		mem := checkedMem(t)
		run := func(par int) ([]string, []string, window.Stats) {
			spec := sumSpec(window.Tumbling(time.Second, 0))
			spec.Parallelism = par
			op := mustNew(t, spec, simpleSchema, mem)
			var res, late []string
			for _, ts := range [][]int64{{5000, 6000}, {100, 7000, 1, 8000, 2, 6100, 3, 9000, 4, 5100, 5, 7100, 6, 8100}} {
				b := array.NewRecordBuilder(mem, simpleSchema)
				for i, x := range ts {
					b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(x)}, []bool{x > 10})
					b.Field(1).(*array.StringBuilder).Append(fmt.Sprint("k", i%3))
					b.Field(2).(*array.Int64Builder).Append(int64(i))
				}
				rec := b.NewRecordBatch()
				b.Release()
				out, err := op.Process(ctx, "s", rec)
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
				res = append(res, resultLines(out.Results)...)
				if out.Late != nil {
					late = append(late, resultLinesUnsorted(out.Late)...)
				}
				out.Release()
			}
			slices.Sort(res)
			return res, late, op.Stats()
		}
		wantRes, wantLate, wantStats := run(1)
		gotRes, gotLate, gotStats := run(4)
		diff(t, gotRes, wantRes)
		if !slices.Equal(gotLate, wantLate) || gotStats != wantStats || wantStats.NullTimeRows != 6 || wantStats.LateRows != 8 {
			t.Fatalf("late %v, stats %+v; want %v, %+v", gotLate, gotStats, wantLate, wantStats)
		}
	})
}

// resultLinesUnsorted is resultLines in row order.
func resultLinesUnsorted(rec arrow.RecordBatch) []string {
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		row := rec.NewSlice(int64(r), int64(r+1))
		out = append(out, resultLines(row)...)
		row.Release()
	}
	return out
}

// TestStringKeys: one string key of every encoding (string, large_string,
// dictionary; batches sliced at an offset) with short and long values,
// nulls and values at the end of the data buffer, against a map.
func TestStringKeys(t *testing.T) {
	keys := []string{"", "a", "JFK", "ABCDEFG", "ABCDEFGH", "ABCDEFG\x00", "a long origin name", "\x00", "JFK\x00"}
	for _, dt := range []arrow.DataType{arrow.BinaryTypes.String, arrow.BinaryTypes.LargeString,
		&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}} {
		t.Run(dt.String(), func(t *testing.T) {
			mem := checkedMem(t)
			schema := arrow.NewSchema([]arrow.Field{
				{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
				{Name: "k", Type: dt, Nullable: true},
				{Name: "v", Type: arrow.PrimitiveTypes.Int64},
			}, nil)
			spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(time.Second, 0),
				Keys: []string{"k"}, Aggs: parseAggs(t, []string{"count(*) as n", "sum(v)"})}
			op := mustNew(t, spec, schema, mem)
			want := map[string][2]int64{}
			var got []string
			for batch := range 20 {
				b := array.NewRecordBuilder(mem, schema)
				n := 5 + batch*7
				for i := range n {
					key := keys[(i*7+batch)%len(keys)]
					null := batch%3 == 0 && (i+batch)%5 == 0
					b.Field(0).(*array.Int64Builder).Append(int64(batch))
					b.Field(2).(*array.Int64Builder).Append(int64(i))
					switch kb := b.Field(1).(type) {
					case *array.StringBuilder:
						kb.AppendValues([]string{key}, []bool{!null})
					case *array.LargeStringBuilder:
						kb.AppendValues([]string{key}, []bool{!null})
					case *array.BinaryDictionaryBuilder:
						if null {
							kb.AppendNull()
						} else if err := kb.AppendString(key); err != nil {
							t.Fatal(err)
						}
					}
					if i >= 2 && i < n-1 { // the rows of the slice below
						k := key
						if null {
							k = "null"
						}
						w := want[k]
						want[k] = [2]int64{w[0] + 1, w[1] + int64(i)}
					}
				}
				full := b.NewRecordBatch()
				b.Release()
				rec := full.NewSlice(2, int64(n-1))
				full.Release()
				out, err := op.Process(ctx, "s", rec)
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, resultLines(out.Results)...)
				out.Release()
			}
			out, err := op.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, resultLines(out.Results)...)
			out.Release()
			var wantLines []string
			for k, w := range want {
				wantLines = append(wantLines, fmt.Sprintf("%s|0|1000|%d|%d|false", k, w[0], w[1]))
			}
			slices.Sort(got)
			slices.Sort(wantLines)
			diff(t, got, wantLines)
		})
	}
}
