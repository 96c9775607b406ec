package window_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/pcs/window"
)

func TestParseCalendar(t *testing.T) {
	for in, want := range map[string]window.Assigner{
		"tumbling(1mo)":    window.TumblingMonths(1),
		"tumbling(1y)":     window.TumblingMonths(12),
		"Tumbling( 3mo )":  window.TumblingMonths(3),
		"tumbling(24mo)":   window.TumblingMonths(24),
		"tumbling(2y)":     window.TumblingMonths(24),
		"tumbling(1h, 0s)": window.Tumbling(time.Hour, 0),
	} {
		got, err := window.ParseAssigner(in)
		if err != nil || got != want {
			t.Errorf("ParseAssigner(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, err := window.ParseAssigner(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"sliding(1y, 1mo)", "sliding(1y, 1d)", "sliding(30d, 1mo)", "tumbling(1mo, 1d)",
		"session(1y)", "tumbling(0mo)", "tumbling(-1y)", "tumbling(1.5y)", "tumbling(mo)"} {
		_, err := window.ParseAssigner(in)
		if !errors.Is(err, window.ErrSpec) {
			t.Errorf("ParseAssigner(%q): %v, want ErrSpec", in, err)
		}
		if in == "sliding(1y, 1mo)" {
			t.Log(err)
		}
	}
	for _, a := range []window.Assigner{
		{Kind: window.KindSliding, Size: time.Hour, Slide: time.Hour, Months: 1},
		{Kind: window.KindTumbling, Months: -1},
		{Kind: window.KindTumbling, Months: 1, Offset: time.Hour},
	} {
		if err := a.Validate(); !errors.Is(err, window.ErrSpec) {
			t.Errorf("Validate(%+v): %v, want ErrSpec", a, err)
		}
	}
}

// calendarStart is the oracle's window of t: computed with package time
// (independent of the operator's day arithmetic).
func calendarStart(t time.Time, months int) (time.Time, time.Time) {
	t = t.UTC()
	switch months {
	case 1:
		s := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(0, 1, 0)
	case 3:
		s := time.Date(t.Year(), (t.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(0, 3, 0)
	case 12:
		s := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return s, time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	panic(months)
}

// calendarRows: random times from 1896 to 2104 plus rows exactly at and
// around month and year boundaries, leap days (2000, 2024; not 1900,
// 2100) and the epoch, sorted by time.
func calendarRows(seed uint64) (ts []int64, keys []string, vals []int64) {
	r := rand.New(rand.NewPCG(seed, 3))
	lo := time.Date(1896, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	hi := time.Date(2104, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()
	for range 3000 {
		ts = append(ts, lo+r.Int64N(hi-lo))
	}
	day := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixMilli() }
	for _, b := range []int64{
		day(2024, 2, 29), day(2024, 3, 1), day(2000, 2, 29), day(2000, 3, 1), day(1900, 3, 1), day(2100, 3, 1),
		day(2024, 1, 1), day(2025, 1, 1), day(1970, 1, 1), day(1969, 12, 1), day(2023, 12, 1), day(1904, 2, 29),
	} {
		ts = append(ts, b, b-1, b+1, b+msDay/2)
	}
	slices.Sort(ts)
	for range ts {
		keys = append(keys, []string{"IBM", "AAPL", "MSFT"}[r.IntN(3)])
		vals = append(vals, int64(r.IntN(1000)))
	}
	return ts, keys, vals
}

const msDay = 86_400_000

func calendarOracle(ts []int64, keys []string, vals []int64, months int) []string {
	type acc struct{ n, sum, lo, hi int64 }
	groups := map[string]*acc{}
	for i, t := range ts {
		s, e := calendarStart(time.UnixMilli(t), months)
		id := fmt.Sprintf("%s|%d|%d", keys[i], s.UnixMilli(), e.UnixMilli())
		a := groups[id]
		if a == nil {
			a = &acc{lo: vals[i], hi: vals[i]}
			groups[id] = a
		}
		a.n++
		a.sum += vals[i]
		a.lo, a.hi = min(a.lo, vals[i]), max(a.hi, vals[i])
	}
	var out []string
	for id, a := range groups {
		out = append(out, fmt.Sprintf("%s|%d|%d|%d|%d|false", id, a.n, a.sum, a.lo, a.hi))
	}
	sort.Strings(out)
	return out
}

func calendarBatches(t *testing.T, ts []int64, keys []string, vals []int64, size int) []arrow.RecordBatch {
	mem := checkedMem(t)
	var recs []arrow.RecordBatch
	for lo := 0; lo < len(ts); lo += size {
		hi := min(lo+size, len(ts))
		recs = append(recs, simpleBatch(mem, ts[lo:hi], keys[lo:hi], vals[lo:hi]))
	}
	return recs
}

// TestCalendarWindows: monthly, quarterly and yearly tumbling windows
// against a row-by-row oracle (package time), through Process (one
// goroutine and split batches), Partials + MergePartials, and a snapshot
// taken halfway and restored.
func TestCalendarWindows(t *testing.T) {
	defer window.SetMinChunk(16)()
	ts, keys, vals := calendarRows(1)
	for _, months := range []int{1, 3, 12} {
		t.Run(fmt.Sprintf("%dmo", months), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, be backend) {
				want := calendarOracle(ts, keys, vals, months)
				spec := be.spec(t, window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.TumblingMonths(months), Keys: []string{"k"},
					Aggs: parseAggs(t, []string{"count(*) as n", "sum(v)", "min(v)", "max(v)"})})
				mem := checkedMem(t)
				for _, par := range []int{1, 2} {
					spec.Parallelism = par
					got, late := collect(t, mustNew(t, spec, simpleSchema, mem), "s", calendarBatches(t, ts, keys, vals, 97), true)
					if late != 0 {
						t.Fatalf("%d late rows", late)
					}
					diff(t, got, want)
				}
				spec.Parallelism = 0

				// partials on one operator, merged on another
				node, shard := mustNew(t, spec, simpleSchema, mem), mustNew(t, spec, simpleSchema, mem)
				var got []string
				for _, rec := range calendarBatches(t, ts, keys, vals, 97) {
					part, err := node.Partials(ctx, rec)
					rec.Release()
					if err != nil {
						t.Fatal(err)
					}
					out, err := shard.MergePartials(ctx, "n", part.Results)
					part.Release()
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, resultLines(out.Results)...)
					out.Release()
				}
				out, err := shard.Flush(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, resultLines(out.Results)...)
				out.Release()
				slices.Sort(got)
				diff(t, got, want)

				// snapshot halfway, restore, continue
				recs := calendarBatches(t, ts, keys, vals, 97)
				a := mustNew(t, spec, simpleSchema, mem)
				got1, _ := collect(t, a, "s", recs[:len(recs)/2], false)
				snap, err := a.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				b := mustNew(t, spec, simpleSchema, mem)
				if err := b.Restore(snap); err != nil {
					t.Fatal(err)
				}
				got2, _ := collect(t, b, "s", recs[len(recs)/2:], true)
				got = append(got1, got2...)
				slices.Sort(got)
				diff(t, got, want)
			})
		})
	}
}

// TestCalendarLateness: January fires when the watermark reaches
// February 1st; a January row within the allowed lateness re-fires it,
// a later one goes to the late output.
func TestCalendarLateness(t *testing.T) {
	mem := checkedMem(t)
	spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.TumblingMonths(1), Keys: []string{"k"},
		Aggs: parseAggs(t, []string{"sum(v)"}), AllowedLateness: time.Hour}
	op := mustNew(t, spec, simpleSchema, mem)
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	jan, feb := ms("2024-01-01T00:00:00Z"), ms("2024-02-01T00:00:00Z")
	step := func(tstr string, v int64) ([]string, int) {
		return collect(t, op, "s", []arrow.RecordBatch{simpleBatch(mem, []int64{ms(tstr)}, []string{"a"}, []int64{v})}, false)
	}
	if got, _ := step("2024-01-31T23:59:59.999Z", 1); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	got, _ := step("2024-02-01T00:00:00Z", 2) // exactly at the boundary: February
	diff(t, got, []string{fmt.Sprintf("a|%d|%d|1|false", jan, feb)})
	got, _ = step("2024-01-15T00:00:00Z", 10) // within the lateness: update
	diff(t, got, []string{fmt.Sprintf("a|%d|%d|11|true", jan, feb)})
	if got, _ = step("2024-02-01T01:00:00Z", 0); len(got) != 0 { // watermark = end + lateness: January expires
		t.Fatalf("fired: %v", got)
	}
	got, late := step("2024-01-20T00:00:00Z", 100)
	if late != 1 || len(got) != 0 {
		t.Fatalf("too late row: %v, %d late", got, late)
	}
	mar := ms("2024-03-01T00:00:00Z")
	got, _ = collect(t, op, "s", nil, true)
	diff(t, got, []string{fmt.Sprintf("a|%d|%d|2|false", feb, mar)})
}
