package window_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/pcs/window"
)

func sumSpec(a window.Assigner) window.Spec {
	return window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: a,
		Aggs: []window.Agg{{Func: "sum", Column: "v", As: "s"}}}
}

func TestTumblingSum(t *testing.T) {
	mem := checkedMem(t)
	op := mustNew(t, sumSpec(window.Tumbling(2*time.Second, 0)), simpleSchema, mem)
	var ts, vs []int64
	for i := 0; i < 10; i++ {
		ts = append(ts, 1000+int64(i)*500)
		vs = append(vs, 10+int64(i)*10)
	}
	got, late := collect(t, op, "s", []arrow.RecordBatch{simpleBatch(mem, ts, nil, vs)}, true)
	want := []string{"0|2000|30|false", "2000|4000|180|false", "4000|6000|340|false"}
	if !slices.Equal(got, want) || late != 0 {
		t.Fatalf("got %v late %d, want %v", got, late, want)
	}
}

func TestSlidingSum(t *testing.T) {
	mem := checkedMem(t)
	op := mustNew(t, sumSpec(window.Sliding(2*time.Second, time.Second, 0)), simpleSchema, mem)
	got, _ := collect(t, op, "s", []arrow.RecordBatch{simpleBatch(mem, []int64{500, 1200, 2100, 3500}, nil, []int64{10, 20, 30, 40})}, true)
	want := []string{"-1000|1000|10|false", "0|2000|30|false", "1000|3000|50|false", "2000|4000|70|false", "3000|5000|40|false"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSession(t *testing.T) {
	mem := checkedMem(t)
	spec := sumSpec(window.Session(time.Second))
	spec.Keys = []string{"k"}
	spec.Aggs = append(spec.Aggs, window.Agg{Func: "count"})
	op := mustNew(t, spec, simpleSchema, mem)
	got, _ := collect(t, op, "s", []arrow.RecordBatch{simpleBatch(mem, []int64{100, 200, 300, 5000, 5100}, nil, []int64{1, 2, 3, 4, 5})}, true)
	want := []string{"a|100|1300|6|3|false", "a|5000|6100|9|2|false"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// two sessions in one batch, then a row that bridges them (batches
	// split so the merge happens across state; the out-of-orderness bound
	// keeps the first sessions open until the bridge arrives)
	spec.OutOfOrderness = 5 * time.Second
	op2 := mustNew(t, spec, simpleSchema, mem)
	got, _ = collect(t, op2, "s", []arrow.RecordBatch{
		simpleBatch(mem, []int64{100, 200, 2000}, nil, []int64{1, 2, 3}),
		simpleBatch(mem, []int64{1100}, nil, []int64{10}),
	}, true)
	want = []string{"a|100|3000|16|4|false"}
	if !slices.Equal(got, want) {
		t.Fatalf("bridge: got %v, want %v", got, want)
	}
	// and within one batch
	spec.OutOfOrderness = 0
	op3 := mustNew(t, spec, simpleSchema, mem)
	got, _ = collect(t, op3, "s", []arrow.RecordBatch{simpleBatch(mem, []int64{100, 2000, 1050, 9000}, nil, []int64{1, 3, 10, 5})}, true)
	want = []string{"a|100|3000|14|3|false", "a|9000|10000|5|1|false"}
	if !slices.Equal(got, want) {
		t.Fatalf("bridge in batch: got %v, want %v", got, want)
	}
}

func TestLateness(t *testing.T) {
	mem := checkedMem(t)
	spec := sumSpec(window.Tumbling(time.Second, 0))
	spec.AllowedLateness = 2 * time.Second
	op := mustNew(t, spec, simpleSchema, mem)
	var lines []string
	late := 0
	step := func(ts, vs []int64) {
		t.Helper()
		rec := simpleBatch(mem, ts, nil, vs)
		defer rec.Release()
		out, err := op.Process(ctx, "s", rec)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		lines = append(lines, resultLines(out.Results)...)
		if out.Late != nil {
			late += int(out.Late.NumRows())
			if !out.Late.Schema().Equal(simpleSchema) {
				t.Fatalf("late schema %s", out.Late.Schema())
			}
		}
	}
	step([]int64{100, 500}, []int64{1, 2})         // window 0 open
	step([]int64{1500}, []int64{4})                // W=1500: window 0 fires with 3
	step([]int64{700}, []int64{8})                 // within lateness: update 0 -> 11
	step([]int64{3500}, []int64{16})               // W=3500: window 1000 fires (4), 0 still kept (1000+2000 > 3500? no: 3000 <= 3500 expires)
	step([]int64{900, 1200}, []int64{32, 64})      // 900 too late; 1200 updates window 1000 -> 68
	step([]int64{100, 200, 300}, []int64{1, 1, 1}) // all too late
	want := []string{"0|1000|3|false", "0|1000|11|true", "1000|2000|4|false", "1000|2000|68|true"}
	if !slices.Equal(lines, want) {
		t.Fatalf("got %v, want %v", lines, want)
	}
	if late != 4 {
		t.Fatalf("late rows %d, want 4", late)
	}
	st := op.Stats()
	if st.LateRows != 4 || st.Updates != 2 || st.Results != 2 || st.Rows != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSpecErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		spec window.Spec
		err  error
	}{
		"unknown time":  {window.Spec{Time: window.TimeSpec{Column: "x"}, Assigner: window.Tumbling(time.Second, 0), Aggs: []window.Agg{{Func: "count"}}}, window.ErrUnknownColumn},
		"unknown key":   {window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(time.Second, 0), Keys: []string{"nope"}, Aggs: []window.Agg{{Func: "count"}}}, window.ErrUnknownColumn},
		"sum string":    {window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(time.Second, 0), Aggs: []window.Agg{{Func: "sum", Column: "k"}}}, window.ErrType},
		"string time":   {window.Spec{Time: window.TimeSpec{Column: "k"}, Assigner: window.Tumbling(time.Second, 0), Aggs: []window.Agg{{Func: "count"}}}, window.ErrType},
		"slide > size":  {window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Sliding(time.Second, 2*time.Second, 0), Aggs: []window.Agg{{Func: "count"}}}, window.ErrSpec},
		"no aggregates": {window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Session(time.Second)}, window.ErrSpec},
		"dup name":      {window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Session(time.Second), Aggs: []window.Agg{{Func: "count"}, {Func: "count"}}}, window.ErrSpec},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := window.New(tc.spec, simpleSchema, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
}

// TestLateUpdates: late rows within the allowed lateness re-fire sliding
// and session windows with their full updated values.
func TestLateUpdates(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) { lateUpdates(t, be) })
}

func lateUpdates(t *testing.T, be backend) {
	run := func(t *testing.T, spec window.Spec, steps [][2][]int64) []string {
		mem := checkedMem(t)
		op := mustNew(t, be.spec(t, spec), simpleSchema, mem)
		var all []string
		for _, st := range steps {
			rec := simpleBatch(mem, st[0], nil, st[1])
			out, err := op.Process(ctx, "s", rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, resultLines(out.Results)...)
			out.Release()
		}
		return all
	}
	t.Run("sliding", func(t *testing.T) {
		spec := sumSpec(window.Sliding(2*time.Second, time.Second, 0))
		spec.AllowedLateness = 5 * time.Second
		got := run(t, spec, [][2][]int64{{{500, 1200}, {10, 20}}, {{3500}, {40}}, {{1500}, {5}}})
		want := []string{"-1000|1000|10|false", "0|2000|30|false", "1000|3000|20|false", "0|2000|35|true", "1000|3000|25|true"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("session", func(t *testing.T) {
		spec := sumSpec(window.Session(time.Second))
		spec.AllowedLateness = 5 * time.Second
		got := run(t, spec, [][2][]int64{{{100, 200}, {1, 2}}, {{3000}, {4}}, {{1100}, {8}}})
		want := []string{"100|1200|3|false", "100|2100|11|true"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

// TestSessionRowsGapApart: rows exactly gap apart are one session (Flink's
// TimeWindow.intersects merges touching intervals), in one batch, one row
// per batch, and through Partials, ShardOf and MergePartials on several
// operators.
func TestSessionRowsGapApart(t *testing.T) {
	const gap, n = 30_000, 20 // a device reporting every 30 s, gap 30 s
	keys := []string{"a", "b", "c"}
	var ts, vals []int64
	var ks []string
	for i := range n {
		for _, k := range keys {
			ts, ks, vals = append(ts, int64(i*gap)), append(ks, k), append(vals, 1)
		}
	}
	want := []string{"a|0|600000|20|20|false", "b|0|600000|20|20|false", "c|0|600000|20|20|false"}
	spec := sumSpec(window.Session(gap * time.Millisecond))
	spec.Keys = []string{"k"}
	spec.Aggs = append(spec.Aggs, window.Agg{Func: "count"})

	t.Run("one batch", func(t *testing.T) {
		mem := checkedMem(t)
		got, _ := collect(t, mustNew(t, spec, simpleSchema, mem), "s", []arrow.RecordBatch{simpleBatch(mem, ts, ks, vals)}, true)
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	// one batch per instant: the watermark reaches each session's end
	// exactly when the touching rows arrive
	t.Run("batch per instant", func(t *testing.T) {
		mem := checkedMem(t)
		var recs []arrow.RecordBatch
		for i := range n {
			lo, hi := i*len(keys), (i+1)*len(keys)
			recs = append(recs, simpleBatch(mem, ts[lo:hi], ks[lo:hi], vals[lo:hi]))
		}
		got, late := collect(t, mustNew(t, spec, simpleSchema, mem), "s", recs, true)
		if !slices.Equal(got, want) || late != 0 {
			t.Fatalf("got %v (%d late), want %v", got, late, want)
		}
	})
	t.Run("partials across shards", func(t *testing.T) {
		mem := checkedMem(t)
		nodes := []*window.Operator{mustNew(t, spec, simpleSchema, mem), mustNew(t, spec, simpleSchema, mem), mustNew(t, spec, simpleSchema, mem)}
		shards := []*window.Operator{mustNew(t, spec, simpleSchema, mem), mustNew(t, spec, simpleSchema, mem)}
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
		// each node sees every third instant: its own partials are one
		// session per row (3 gaps apart), only the shards can join them
		for i := range n {
			lo, hi := i*len(keys), (i+1)*len(keys)
			rec := simpleBatch(mem, ts[lo:hi], ks[lo:hi], vals[lo:hi])
			node := nodes[i%len(nodes)]
			out, err := node.Partials(ctx, rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			part := out.Results
			sh, err := node.ShardOf(part, len(shards), nil)
			if err != nil {
				t.Fatal(err)
			}
			for s, op := range shards {
				sub := filterRows(t, mem, part, func(r int) bool { return int(sh[r]) == s })
				emit(op.MergePartials(ctx, "n", sub))
				sub.Release()
			}
			part.Release()
		}
		for _, op := range shards {
			emit(op.Flush(ctx))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}
