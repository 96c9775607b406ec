package window_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
)

// The oracle: random rows with nulls and several key types, aggregated
// row by row in plain Go, against the operator.

var randSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "ks", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ki", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "kb", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "kd", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "vi", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "vf", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "vs", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "vu", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
}, nil)

type rrow struct {
	t      int64 // ms
	ks     *string
	ki     *int32
	kb     *bool
	kd     *string
	vi     *int64
	vf     *float64
	vs     *string
	vu     *uint32
	arrive int
}

func ptr[T any](v T) *T { return &v }

// genRows makes n rows with times increasing by ~step ms and jitter in
// [0, jitter) ms; unique makes every time distinct.
func genRows(seed uint64, n int, step, jitter int64, unique bool) []rrow {
	r := rand.New(rand.NewPCG(seed, 7))
	nullOr := func(p float64) bool { return r.Float64() < p }
	strs := []string{"JFK", "LAX", "SFO", "ORD", "ATL", ""}
	out := make([]rrow, n)
	for i := range out {
		x := rrow{t: int64(i) * step}
		if jitter > 0 {
			x.t += r.Int64N(jitter)
		}
		if unique {
			x.t = x.t*1000 + int64(i%1000) // distinct (i < 1000 per step bucket)
		}
		if !nullOr(0.1) {
			x.ks = ptr(strs[r.IntN(len(strs))])
		}
		if !nullOr(0.1) {
			x.ki = ptr(int32(r.IntN(4) - 2))
		}
		if !nullOr(0.1) {
			x.kb = ptr(r.IntN(2) == 0)
		}
		if !nullOr(0.1) {
			x.kd = ptr(strs[r.IntN(3)])
		}
		if !nullOr(0.2) {
			x.vi = ptr(int64(r.IntN(200) - 100))
		}
		if !nullOr(0.2) {
			x.vf = ptr(float64(r.IntN(400)-200) / 4)
		}
		if !nullOr(0.2) {
			x.vs = ptr(strs[r.IntN(len(strs))] + fmt.Sprint(r.IntN(3)))
		}
		if !nullOr(0.2) {
			x.vu = ptr(uint32(r.IntN(1000)))
		}
		out[i] = x
	}
	return out
}

// batches cuts rows (in arrival order) into batches of about size rows.
func batches(mem memory.Allocator, rows []rrow, size int, unique bool) []arrow.RecordBatch {
	var recs []arrow.RecordBatch
	for lo := 0; lo < len(rows); lo += size {
		hi := min(lo+size, len(rows))
		b := array.NewRecordBuilder(mem, randSchema)
		for _, x := range rows[lo:hi] {
			t := x.t * 1000
			if unique {
				t = x.t // already scaled: us
			}
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(t))
			appendOpt(b.Field(1), x.ks, func(v string) { b.Field(1).(*array.StringBuilder).Append(v) })
			appendOpt(b.Field(2), x.ki, func(v int32) { b.Field(2).(*array.Int32Builder).Append(v) })
			appendOpt(b.Field(3), x.kb, func(v bool) { b.Field(3).(*array.BooleanBuilder).Append(v) })
			appendOpt(b.Field(4), x.kd, func(v string) {
				if err := b.Field(4).(*array.BinaryDictionaryBuilder).AppendString(v); err != nil {
					panic(err)
				}
			})
			appendOpt(b.Field(5), x.vi, func(v int64) { b.Field(5).(*array.Int64Builder).Append(v) })
			appendOpt(b.Field(6), x.vf, func(v float64) { b.Field(6).(*array.Float64Builder).Append(v) })
			appendOpt(b.Field(7), x.vs, func(v string) { b.Field(7).(*array.StringBuilder).Append(v) })
			appendOpt(b.Field(8), x.vu, func(v uint32) { b.Field(8).(*array.Uint32Builder).Append(v) })
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	return recs
}

func appendOpt[T any](b array.Builder, v *T, app func(T)) {
	if v == nil {
		b.AppendNull()
	} else {
		app(*v)
	}
}

var allAggs = []string{
	"count(*) as n", "count(vi) as nvi", "sum(vi)", "sum(vf)", "sum(vu)", "avg(vi)", "avg(vf)",
	"min(vi)", "max(vf)", "min(vs)", "max(vs)", "max(vu)", "min(vu)", "count(distinct vi) as dvi",
	"count_distinct(vs) as dvs", "count_distinct(vf) as dvf", "first(vs)", "last(vi)", "first(vf)", "last(vs)", "first(vu)",
	// over bool values (kb): false < true
	"min(kb)", "max(kb)", "first(kb)", "last(kb)", "count_distinct(kb)", "count(kb) as nkb",
}

func parseAggs(t testing.TB, ss []string) []window.Agg {
	var out []window.Agg
	for _, s := range ss {
		a, err := window.ParseAgg(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func keyStr(x rrow, keys []string) string {
	var parts []string
	for _, k := range keys {
		switch k {
		case "ks":
			parts = append(parts, optStr(x.ks, func(v string) string { return v }))
		case "ki":
			parts = append(parts, optStr(x.ki, func(v int32) string { return fmt.Sprint(v) }))
		case "kb":
			parts = append(parts, optStr(x.kb, func(v bool) string { return fmt.Sprint(v) }))
		case "kd":
			parts = append(parts, optStr(x.kd, func(v string) string { return v }))
		}
	}
	return strings.Join(parts, "|")
}

func optStr[T any](v *T, f func(T) string) string {
	if v == nil {
		return "null"
	}
	return f(*v)
}

// oracle computes the expected result lines (sorted) for rows, all on
// time, flushed at the end.
func oracle(rows []rrow, a window.Assigner, keys []string, aggs []window.Agg, unique bool) []string {
	msOf := func(x rrow) int64 {
		if unique {
			return floorDivT(x.t, 1000)
		}
		return x.t
	}
	type group struct {
		key    string
		ws, we int64
		rows   []rrow
	}
	groups := map[string]*group{}
	add := func(k string, ws, we int64, x rrow) {
		id := fmt.Sprint(k, "|", ws, "|", we)
		g := groups[id]
		if g == nil {
			g = &group{key: k, ws: ws, we: we}
			groups[id] = g
		}
		g.rows = append(g.rows, x)
	}
	switch a.Kind {
	case window.KindTumbling, window.KindSliding:
		size, slide, off := a.Size.Milliseconds(), a.Slide.Milliseconds(), a.Offset.Milliseconds()
		for _, x := range rows {
			t := msOf(x)
			for ws := off + floorDivT(t-off, slide)*slide; ws > t-size; ws -= slide {
				add(keyStr(x, keys), ws, ws+size, x)
			}
		}
	case window.KindSession:
		gap := a.Gap.Milliseconds()
		byKey := map[string][]rrow{}
		for _, x := range rows {
			byKey[keyStr(x, keys)] = append(byKey[keyStr(x, keys)], x)
		}
		for k, rs := range byKey {
			sort.SliceStable(rs, func(i, j int) bool { return msOf(rs[i]) < msOf(rs[j]) })
			var cur []rrow
			var start, end int64
			flush := func() {
				for _, x := range cur {
					add(k, start, end, x)
				}
			}
			for _, x := range rs {
				t := msOf(x)
				if len(cur) > 0 && t <= end { // touching intervals merge (Flink)
					cur = append(cur, x)
					end = max(end, t+gap)
					continue
				}
				if len(cur) > 0 {
					flush()
				}
				cur, start, end = []rrow{x}, t, t+gap
			}
			flush()
		}
	}
	var out []string
	for _, g := range groups {
		parts := []string{}
		if g.key != "" || len(keys) > 0 {
			parts = append(parts, g.key)
		}
		parts = append(parts, fmt.Sprint(g.ws), fmt.Sprint(g.we))
		// arrival order, then for first/last by (time, arrival)
		slices.SortFunc(g.rows, func(a, b rrow) int { return a.arrive - b.arrive })
		for _, ag := range aggs {
			parts = append(parts, oracleAgg(ag, g.rows, msOf))
		}
		parts = append(parts, "false")
		out = append(out, strings.Join(parts, "|"))
	}
	sort.Strings(out)
	return out
}

func floorDivT(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// col returns the value of column c of x as (value, ok).
func colVal(x rrow, c string) (any, bool) {
	switch c {
	case "vi":
		if x.vi != nil {
			return *x.vi, true
		}
	case "vf":
		if x.vf != nil {
			return *x.vf, true
		}
	case "vs":
		if x.vs != nil {
			return *x.vs, true
		}
	case "vu":
		if x.vu != nil {
			return *x.vu, true
		}
	case "kb":
		if x.kb != nil {
			return *x.kb, true
		}
	}
	return nil, false
}

func render(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case float64:
		return fmt.Sprintf("%.6g", v)
	}
	return fmt.Sprint(v)
}

func less(a, b any) bool {
	switch a := a.(type) {
	case int64:
		return a < b.(int64)
	case float64:
		return a < b.(float64)
	case string:
		return a < b.(string)
	case uint32:
		return a < b.(uint32)
	case bool:
		return !a && b.(bool)
	}
	panic("less")
}

func oracleAgg(ag window.Agg, rows []rrow, msOf func(rrow) int64) string {
	var vals []any
	var times []int64
	for _, x := range rows {
		if ag.Column == "" {
			vals = append(vals, true)
			times = append(times, msOf(x))
			continue
		}
		if v, ok := colVal(x, ag.Column); ok {
			vals = append(vals, v)
			times = append(times, msOf(x))
		}
	}
	switch ag.Func {
	case "count":
		return fmt.Sprint(len(vals))
	case "sum", "avg":
		if len(vals) == 0 {
			return "null"
		}
		var si int64
		var sf float64
		isF := false
		for _, v := range vals {
			switch v := v.(type) {
			case int64:
				si += v
				sf += float64(v)
			case uint32:
				si += int64(v)
				sf += float64(v)
			case float64:
				sf += v
				isF = true
			}
		}
		if ag.Func == "avg" {
			return render(sf / float64(len(vals)))
		}
		if isF {
			return render(sf)
		}
		return fmt.Sprint(si)
	case "min", "max":
		if len(vals) == 0 {
			return "null"
		}
		best := vals[0]
		for _, v := range vals[1:] {
			if (ag.Func == "min" && less(v, best)) || (ag.Func == "max" && less(best, v)) {
				best = v
			}
		}
		return render(best)
	case "count_distinct":
		set := map[any]bool{}
		for _, v := range vals {
			set[v] = true
		}
		return fmt.Sprint(len(set))
	case "first", "last":
		if len(vals) == 0 {
			return "null"
		}
		bi := 0
		for i := range vals {
			if (ag.Func == "first" && times[i] < times[bi]) || (ag.Func == "last" && times[i] >= times[bi]) {
				bi = i
			}
		}
		return render(vals[bi])
	}
	panic(ag.Func)
}

type oracleCase struct {
	name   string
	a      window.Assigner
	keys   []string
	unique bool
}

var oracleCases = []oracleCase{
	{"tumbling/ks", window.Tumbling(50*time.Millisecond, 0), []string{"ks"}, false},
	{"tumbling/offset/ki,kb", window.Tumbling(70*time.Millisecond, 15*time.Millisecond), []string{"ki", "kb"}, false},
	{"sliding/kd,ks", window.Sliding(60*time.Millisecond, 20*time.Millisecond, 0), []string{"kd", "ks"}, false},
	{"sliding/gcd/ki", window.Sliding(50*time.Millisecond, 20*time.Millisecond, 5*time.Millisecond), []string{"ki"}, false},
	{"sliding/nokey", window.Sliding(40*time.Millisecond, 10*time.Millisecond, 0), nil, false},
	{"session/ks,ki", window.Session(3 * time.Millisecond), []string{"ks", "ki"}, false},
	{"session/kb", window.Session(2 * time.Millisecond), []string{"kb"}, true},
}

func assignArrival(rows []rrow) {
	for i := range rows {
		rows[i].arrive = i
	}
}

func TestOracle(t *testing.T) {
	for _, tc := range oracleCases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				mem := checkedMem(t)
				rows := genRows(uint64(len(tc.name)), 3000, 1, 8, tc.unique)
				assignArrival(rows)
				spec := b.spec(t, window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: tc.a, Keys: tc.keys,
					Aggs: parseAggs(t, allAggs), OutOfOrderness: 10 * time.Millisecond})
				op := mustNew(t, spec, randSchema, mem)
				got, late := collect(t, op, "src", batches(mem, rows, 257, tc.unique), true)
				want := oracle(rows, tc.a, tc.keys, spec.Aggs, tc.unique)
				if late != 0 {
					t.Fatalf("%d late rows", late)
				}
				diff(t, got, want)
			})
		})
	}
}

func diff(t *testing.T, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("got %d lines, want %d", len(got), len(want))
	g := map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	w := map[string]bool{}
	for _, s := range want {
		w[s] = true
	}
	n := 0
	for _, s := range want {
		if !g[s] && n < 5 {
			t.Errorf("missing: %s", s)
			n++
		}
	}
	n = 0
	for _, s := range got {
		if !w[s] && n < 5 {
			t.Errorf("extra:   %s", s)
			n++
		}
	}
}
