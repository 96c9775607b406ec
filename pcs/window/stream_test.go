package window_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
)

// noTies: aggregates whose result does not depend on arrival order.
var noTies = []string{"count(*) as n", "count(vi) as nvi", "sum(vi)", "sum(vf)", "avg(vf)", "min(vs)", "max(vu)", "count(distinct vs) as dvs"}

func TestShuffledWithinBound(t *testing.T) {
	for _, tc := range oracleCases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				mem := checkedMem(t)
				rows := genRows(3, 1200, 1, 8, false)
				assignArrival(rows)
				spec := b.spec(t, window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: tc.a, Keys: tc.keys,
					Aggs: parseAggs(t, noTies), OutOfOrderness: 40 * time.Millisecond, AllowedLateness: 5 * time.Millisecond})
				ordered, late := collect(t, mustNew(t, spec, randSchema, mem), "s", batches(mem, rows, 5, false), true)
				if late != 0 {
					t.Fatalf("%d late", late)
				}
				// swap neighbouring partitions: each moves by ~5 rows (~15 ms)
				recs := batches(mem, rows, 5, false)
				for i := 0; i+1 < len(recs); i += 2 {
					recs[i], recs[i+1] = recs[i+1], recs[i]
				}
				shuffled, late := collect(t, mustNew(t, spec, randSchema, mem), "s", recs, true)
				if late != 0 {
					t.Fatalf("%d late after shuffle", late)
				}
				diff(t, shuffled, ordered)
				diff(t, ordered, oracle(rows, tc.a, tc.keys, spec.Aggs, false))
			})
		})
	}
}

func TestPartialsMerge(t *testing.T) {
	for _, tc := range oracleCases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				mem := checkedMem(t)
				rows := genRows(5, 1500, 1, 8, true)
				assignArrival(rows)
				spec := b.spec(t, window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: tc.a, Keys: tc.keys,
					Aggs: parseAggs(t, allAggs), OutOfOrderness: 10 * time.Millisecond})
				want, _ := collect(t, mustNew(t, spec, randSchema, mem), "s", batches(mem, rows, 100, true), true)

				// three producers compute partials; two shards merge them
				nodes := []*window.Operator{mustNew(t, spec, randSchema, mem), mustNew(t, spec, randSchema, mem), mustNew(t, spec, randSchema, mem)}
				shards := []*window.Operator{mustNew(t, spec, randSchema, mem), mustNew(t, spec, randSchema, mem)}
				var got []string
				emit := func(out window.Output, err error) {
					t.Helper()
					if err != nil {
						t.Fatal(err)
					}
					if out.Late != nil {
						t.Fatalf("late partials: %d", out.Late.NumRows())
					}
					got = append(got, resultLines(out.Results)...)
					out.Release()
				}
				for i, rec := range batches(mem, rows, 100, true) {
					node := nodes[i%3]
					out, err := node.Partials(ctx, rec)
					rec.Release()
					if err != nil {
						t.Fatal(err)
					}
					if out.Late != nil {
						t.Fatal("null times?")
					}
					part := out.Results
					if !part.Schema().Equal(node.PartialSchema()) {
						t.Fatalf("partial schema %s", part.Schema())
					}
					sh, err := node.ShardOf(part, len(shards), nil)
					if err != nil {
						t.Fatal(err)
					}
					for s, op := range shards {
						sub := filterRows(t, mem, part, func(r int) bool { return int(sh[r]) == s })
						emit(op.MergePartials(ctx, []string{"n0", "n1", "n2"}[i%3], sub))
						sub.Release()
					}
					part.Release()
				}
				for _, op := range shards {
					emit(op.Flush(ctx))
				}
				slices.Sort(got)
				diff(t, got, want)
			})
		})
	}
}

func filterRows(t *testing.T, mem memory.Allocator, rec arrow.RecordBatch, keep func(int) bool) arrow.RecordBatch {
	b := array.NewBooleanBuilder(mem)
	for r := 0; r < int(rec.NumRows()); r++ {
		b.Append(keep(r))
	}
	mask := b.NewBooleanArray()
	b.Release()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(ctx, rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSnapshotRestore(t *testing.T) {
	totalLate, totalUpdates := 0, 0
	defer func() {
		if !t.Failed() && (totalLate == 0 || totalUpdates == 0) {
			t.Fatalf("the data should make late rows and updates: %d late, %d updates", totalLate, totalUpdates)
		}
	}()
	for _, tc := range oracleCases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, be backend) {
				mem := checkedMem(t)
				rows := genRows(9, 1500, 1, 40, false)
				assignArrival(rows)
				spec := be.spec(t, window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: tc.a, Keys: tc.keys,
					Aggs: parseAggs(t, allAggs), OutOfOrderness: time.Millisecond, AllowedLateness: 2 * time.Millisecond})
				want, wantLate := collect(t, mustNew(t, spec, randSchema, mem), "s", batches(mem, rows, 16, false), true)
				updates := 0
				for _, l := range want {
					if strings.HasSuffix(l, "|true") {
						updates++
					}
				}
				totalLate, totalUpdates = totalLate+wantLate, totalUpdates+updates

				recs := batches(mem, rows, 16, false)
				half := len(recs) / 2
				a := mustNew(t, spec, randSchema, mem)
				got1, late1 := collect(t, a, "s", recs[:half], false)
				snap, err := a.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				b := mustNew(t, spec, randSchema, mem)
				if err := b.Restore(snap); err != nil {
					t.Fatal(err)
				}
				if a.Stats() != b.Stats() {
					t.Fatalf("stats %+v != %+v", b.Stats(), a.Stats())
				}
				got2, late2 := collect(t, b, "s", recs[half:], true)
				got := append(got1, got2...)
				slices.Sort(got)
				diff(t, got, want)
				if late1+late2 != wantLate {
					t.Fatalf("late %d+%d, want %d", late1, late2, wantLate)
				}
				// a snapshot of another spec is refused
				spec.Aggs = spec.Aggs[1:]
				if err := mustNew(t, spec, randSchema, mem).Restore(snap); !errors.Is(err, window.ErrSnapshot) {
					t.Fatalf("restore into another spec: %v", err)
				}
				if err := b.Restore(snap[:10]); !errors.Is(err, window.ErrSnapshot) {
					t.Fatalf("truncated: %v", err)
				}
			})
		})
	}
}

func TestIdleSource(t *testing.T) {
	mem := checkedMem(t)
	now := time.Unix(0, 0)
	spec := sumSpec(window.Tumbling(time.Second, 0))
	spec.IdleTimeout = time.Minute
	spec.Clock = func() time.Time { return now }
	op := mustNew(t, spec, simpleSchema, mem)
	step := func(src string, ts int64) []string {
		rec := simpleBatch(mem, []int64{ts}, nil, []int64{1})
		defer rec.Release()
		out, err := op.Process(ctx, src, rec)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		return resultLines(out.Results)
	}
	step("slow", 100)
	if got := step("fast", 5000); got != nil {
		t.Fatalf("slow source should hold the watermark: %v", got)
	}
	now = now.Add(2 * time.Minute)
	if got := step("fast", 6000); !slices.Equal(got, []string{"0|1000|1|false", "5000|6000|1|false"}) {
		t.Fatalf("idle slow source should not hold the watermark: %v", got)
	}
	out, err := op.Tick(ctx)
	if err != nil || out.Results != nil {
		t.Fatalf("tick: %v %v", out, err)
	}
	if w := op.Watermark(); w != 6000 {
		t.Fatalf("watermark %d", w)
	}
}

func TestNullTimeAndFlushLate(t *testing.T) {
	mem := checkedMem(t)
	op := mustNew(t, sumSpec(window.Tumbling(time.Second, 0)), simpleSchema, mem)
	b := array.NewRecordBuilder(mem, simpleSchema)
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{10, 0, 20}, []bool{true, false, true})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "b", "c"}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	got, late := collect(t, op, "s", []arrow.RecordBatch{rec}, true)
	if late != 1 || !slices.Equal(got, []string{"0|1000|4|false"}) {
		t.Fatalf("got %v late %d", got, late)
	}
	// after Flush everything is late
	_, late = collect(t, op, "s", []arrow.RecordBatch{simpleBatch(mem, []int64{5000}, nil, []int64{1})}, false)
	if st := op.Stats(); late != 1 || st.NullTimeRows != 1 || st.LateRows != 2 {
		t.Fatalf("late %d stats %+v", late, st)
	}
}

// TestShardOfConsistent: a key lands on the same shard from an input
// batch (dictionary-encoded here) and from a partial (plain strings).
func TestShardOfConsistent(t *testing.T) {
	for _, keys := range [][]string{{"kd"}, {"ks"}, {"kd", "ki"}, {"kb"}} {
		mem := checkedMem(t)
		spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(time.Hour, 0), Keys: keys, Aggs: []window.Agg{{Func: "count"}}}
		op := mustNew(t, spec, randSchema, mem)
		rows := genRows(11, 500, 1, 0, false)
		rec := batches(mem, rows, 500, false)[0]
		in, err := op.ShardOf(rec, 7, nil)
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]int32{}
		for i, x := range rows {
			k := keyStr(x, keys)
			if s, ok := byKey[k]; ok && s != in[i] {
				t.Fatalf("%v: key %s on shards %d and %d", keys, k, s, in[i])
			}
			byKey[k] = in[i]
		}
		out, err := op.Partials(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		part := out.Results
		ps, err := op.ShardOf(part, 7, nil)
		if err != nil {
			t.Fatal(err)
		}
		lines := resultLines(part)
		for i, l := range lines {
			k := strings.Join(strings.Split(l, "|")[:len(keys)], "|")
			if byKey[k] != ps[i] {
				t.Fatalf("%v: key %s: shard %d from the input, %d from the partial", keys, k, byKey[k], ps[i])
			}
		}
		part.Release()
	}
}
