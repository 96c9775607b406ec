package window_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/state/pebblestate"
	"github.com/pcs-dev/pcs/pcs/window"
)

var ctx = context.Background()

// simpleSchema: ts timestamp[ms], k string, v int64.
var simpleSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func simpleBatch(mem memory.Allocator, ts []int64, keys []string, vals []int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, simpleSchema)
	defer b.Release()
	for i, t := range ts {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(t))
		k := "a"
		if keys != nil {
			k = keys[i]
		}
		b.Field(1).(*array.StringBuilder).Append(k)
		b.Field(2).(*array.Int64Builder).Append(vals[i])
	}
	return b.NewRecordBatch()
}

func checkedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// mustNew returns a new operator, closed when the test ends.
func mustNew(t testing.TB, spec window.Spec, schema *arrow.Schema, mem memory.Allocator) *window.Operator {
	t.Helper()
	op, err := window.New(spec, schema, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Close(); err != nil {
			t.Error(err)
		}
	})
	return op
}

// backend is a state configuration the window tests run against: the
// in-memory state, or a Pebble store with so few entries in memory that
// every test spills and reads state back many times.
type backend struct {
	name   string
	pebble bool
}

var backends = []backend{{"memory", false}, {"pebble", true}}

// spec returns spec with this backend's state (each operator its own
// store, in a directory of the test).
func (b backend) spec(t testing.TB, spec window.Spec) window.Spec {
	if b.pebble {
		spec.State = func() (pcs.StateBackend, error) { return pebblestate.Open(t.TempDir(), pebblestate.Truncate()) }
		spec.MaxResident = 4
	}
	return spec
}

// eachBackend runs f as a subtest per backend.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// resultLines renders a result batch as sorted lines "key|start|end|agg...|upd".
func resultLines(rec arrow.RecordBatch) []string {
	if rec == nil {
		return nil
	}
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var parts []string
		for c := 0; c < int(rec.NumCols()); c++ {
			col := rec.Column(c)
			if col.IsNull(r) {
				parts = append(parts, "null")
				continue
			}
			switch a := col.(type) {
			case *array.Timestamp:
				parts = append(parts, fmt.Sprint(int64(a.Value(r))))
			case *array.Float64:
				parts = append(parts, fmt.Sprintf("%.6g", a.Value(r)))
			default:
				parts = append(parts, a.ValueStr(r))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// collect runs batches through op (each released here) and returns all
// result lines (sorted) and the late row count.
func collect(t testing.TB, op *window.Operator, source string, recs []arrow.RecordBatch, flush bool) ([]string, int) {
	t.Helper()
	var lines []string
	late := 0
	add := func(out window.Output, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, resultLines(out.Results)...)
		if out.Late != nil {
			late += int(out.Late.NumRows())
		}
		out.Release()
	}
	for _, rec := range recs {
		add(op.Process(ctx, source, rec))
		rec.Release()
	}
	if flush {
		add(op.Flush(ctx))
	}
	sort.Strings(lines)
	return lines, late
}
