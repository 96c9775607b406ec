package window_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/pcs/window"
)

// TestSpillBounded: with a Pebble backend the operator keeps at most
// MaxResident keyed entries in memory between batches (the rest is in
// the store) and gives the in-memory operator's results, for sessions
// and sliding windows over many keys, through a snapshot and restore,
// with the filter of spilled keys rebuilt many times.
func TestSpillBounded(t *testing.T) {
	defer window.SetMinFilterKeys(8)() // the filter of spilled keys fills and is rebuilt
	const nkeys, rows, batch = 500, 6000, 100
	var ts, vals []int64
	var ks []string
	for i := range rows {
		ts = append(ts, int64(i))
		ks = append(ks, fmt.Sprintf("key-%03d", (i*7919)%nkeys))
		vals = append(vals, int64(i%13))
	}
	for _, a := range []window.Assigner{window.Session(200 * time.Millisecond), window.Sliding(300*time.Millisecond, 100*time.Millisecond, 0)} {
		t.Run(a.Kind.String(), func(t *testing.T) {
			mem := checkedMem(t)
			spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: a, Keys: []string{"k"},
				Aggs: parseAggs(t, []string{"sum(v)", "count(*) as n", "count_distinct(v) as d", "first(v) as f", "last(v) as l"})}
			recs := func() []arrow.RecordBatch {
				var out []arrow.RecordBatch
				for lo := 0; lo < rows; lo += batch {
					out = append(out, simpleBatch(mem, ts[lo:lo+batch], ks[lo:lo+batch], vals[lo:lo+batch]))
				}
				return out
			}
			want, _ := collect(t, mustNew(t, spec, simpleSchema, mem), "s", recs(), true)
			const maxRes = 50
			spec = backends[1].spec(t, spec)
			spec.MaxResident = maxRes
			op := mustNew(t, spec, simpleSchema, mem)
			var got []string
			all := recs()
			for i, rec := range all {
				g, _ := collect(t, op, "s", []arrow.RecordBatch{rec}, false)
				got = append(got, g...)
				if k := op.Keys(); k > maxRes {
					t.Fatalf("batch %d: %d keyed entries in memory, max %d", i, k, maxRes)
				}
				if i == len(all)/2 { // continue on a restored copy
					snap, err := op.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					op = mustNew(t, spec, simpleSchema, mem)
					if err := op.Restore(snap); err != nil {
						t.Fatal(err)
					}
				}
			}
			g, _ := collect(t, op, "s", nil, true)
			got = append(got, g...)
			slices.Sort(got)
			diff(t, got, want)
		})
	}
}
