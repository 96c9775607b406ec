package window_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
)

func TestParseAgg(t *testing.T) {
	for in, want := range map[string]window.Agg{
		"avg(delay) as avg_delay":       {Func: "avg", Column: "delay", As: "avg_delay"},
		"COUNT(*)":                      {Func: "count"},
		"count(delay)":                  {Func: "count", Column: "delay"},
		"count(distinct origin) AS n":   {Func: "count_distinct", Column: "origin", As: "n"},
		" count_distinct( `origin` ) ":  {Func: "count_distinct", Column: "origin"},
		"last(delay) as last_delay":     {Func: "last", Column: "delay", As: "last_delay"},
		"max(`dep delay`) as max_delay": {Func: "max", Column: "dep delay", As: "max_delay"},
	} {
		got, err := window.ParseAgg(in)
		if err != nil || got != want {
			t.Errorf("ParseAgg(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"median(x)", "avg delay", "sum(distinct x)", ""} {
		if _, err := window.ParseAgg(in); !errors.Is(err, window.ErrSpec) {
			t.Errorf("ParseAgg(%q): %v, want ErrSpec", in, err)
		}
	}
}

func TestParseAssigner(t *testing.T) {
	for in, want := range map[string]window.Assigner{
		"tumbling(1h)":          window.Tumbling(time.Hour, 0),
		"tumbling(1h, 15m)":     window.Tumbling(time.Hour, 15*time.Minute),
		"sliding(7d, 1d)":       window.Sliding(7*24*time.Hour, 24*time.Hour, 0),
		"Sliding(10s,5s,-1s)":   window.Sliding(10*time.Second, 5*time.Second, -time.Second),
		"session(30m)":          window.Session(30 * time.Minute),
		" session( 1500ms ) ":   window.Session(1500 * time.Millisecond),
		"tumbling(2000ms, 0ms)": window.Tumbling(2*time.Second, 0),
	} {
		got, err := window.ParseAssigner(in)
		if err != nil || got != want {
			t.Errorf("ParseAssigner(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, err := window.ParseAssigner(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"hopping(1h)", "sliding(1h, 2h)", "tumbling(0s)", "session(1us)", "tumbling", "sliding(1h)"} {
		if _, err := window.ParseAssigner(in); !errors.Is(err, window.ErrSpec) {
			t.Errorf("ParseAssigner(%q): %v, want ErrSpec", in, err)
		}
	}
}

// TestTimeColumns: the same events as int64 epochs of every unit, as
// timestamps of every unit and as RFC 3339 strings give the same windows.
func TestTimeColumns(t *testing.T) {
	msTimes := []int64{-1500, 1000, 1999, 2000, 5500}
	want := []string{"-2000|0|1|false", "0|2000|2|false", "2000|4000|1|false", "4000|6000|1|false"}
	type variant struct {
		dt   arrow.DataType
		spec window.TimeSpec
		app  func(b array.Builder, ms int64)
	}
	intCol := func(unit time.Duration) variant {
		return variant{arrow.PrimitiveTypes.Int64, window.TimeSpec{Column: "t", Unit: unit}, func(b array.Builder, ms int64) {
			b.(*array.Int64Builder).Append(ms * int64(time.Millisecond) / int64(unit))
		}}
	}
	tsCol := func(u arrow.TimeUnit) variant {
		return variant{&arrow.TimestampType{Unit: u}, window.TimeSpec{Column: "t"}, func(b array.Builder, ms int64) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(ms * int64(time.Millisecond) / int64(u.Multiplier())))
		}}
	}
	variants := map[string]variant{
		"int64 ms": intCol(time.Millisecond), "int64 s": intCol(time.Second), "int64 us": intCol(time.Microsecond), "int64 ns": intCol(time.Nanosecond),
		"ts s": tsCol(arrow.Second), "ts ms": tsCol(arrow.Millisecond), "ts us": tsCol(arrow.Microsecond), "ts ns": tsCol(arrow.Nanosecond),
		"rfc3339": {arrow.BinaryTypes.String, window.TimeSpec{Column: "t", Format: "rfc3339"}, func(b array.Builder, ms int64) {
			b.(*array.StringBuilder).Append(time.UnixMilli(ms).UTC().Format(time.RFC3339Nano))
		}},
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			mem := checkedMem(t)
			schema := arrow.NewSchema([]arrow.Field{{Name: "t", Type: v.dt}}, nil)
			b := array.NewRecordBuilder(mem, schema)
			times := msTimes
			if name == "ts s" || name == "int64 s" { // whole seconds only
				times = []int64{-2000, 1000, 1000, 2000, 5000}
			}
			for _, ms := range times {
				v.app(b.Field(0), ms)
			}
			rec := b.NewRecordBatch()
			b.Release()
			op := mustNew(t, window.Spec{Time: v.spec, Assigner: window.Tumbling(2*time.Second, 0), Aggs: []window.Agg{{Func: "count"}}}, schema, mem)
			got, _ := collect(t, op, "s", []arrow.RecordBatch{rec}, true)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	// bad strings are an error
	schema := arrow.NewSchema([]arrow.Field{{Name: "t", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).Append("yesterday")
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	op := mustNew(t, window.Spec{Time: window.TimeSpec{Column: "t", Format: "rfc3339"}, Assigner: window.Tumbling(time.Second, 0), Aggs: []window.Agg{{Func: "count"}}}, schema, nil)
	if _, err := op.Process(ctx, "s", rec); !errors.Is(err, window.ErrEventTime) {
		t.Fatalf("got %v, want ErrEventTime", err)
	}
}

// FuzzRestore: Restore never panics on outside bytes.
func FuzzRestore(f *testing.F) {
	spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Session(time.Second), Keys: []string{"k"},
		Aggs: []window.Agg{{Func: "sum", Column: "v"}, {Func: "count_distinct", Column: "k"}, {Func: "first", Column: "k"}}}
	op, err := window.New(spec, simpleSchema, nil)
	if err != nil {
		f.Fatal(err)
	}
	rec := simpleBatch(memory.DefaultAllocator, []int64{1, 2, 5000}, []string{"a", "b", "a"}, []int64{1, 2, 3})
	out, _ := op.Process(ctx, "s", rec)
	out.Release()
	rec.Release()
	snap, err := op.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add(snap[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		op, _ := window.New(spec, simpleSchema, nil)
		if op.Restore(b) == nil {
			if _, err := op.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}
