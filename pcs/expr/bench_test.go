package expr_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/expr"
)

// The filter and derive of the flights demo.
const (
	benchFilter = "delay > 15 and distance > 0"
	benchDerive = "delay * 1.5 + distance / 100"
)

// flightSchema is flights-3m.parquet's schema (see examples/flights).
var flightSchema = arrow.NewSchema([]arrow.Field{
	{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "distance", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "destination", Type: arrow.BinaryTypes.LargeString, Nullable: true},
}, nil)

var airports = []string{"ATL", "LAX", "ORD", "DFW", "DEN", "JFK", "SFO", "SEA", "LAS", "MCO", "EWR", "CLT", "PHX", "IAH", "MIA", "BOS", "MSP", "DTW", "PHL", "LGA"}

func flightBatch(mem memory.Allocator, n int) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(42, 42))
	b := array.NewRecordBuilder(mem, flightSchema)
	defer b.Release()
	date := b.Field(0).(*array.TimestampBuilder)
	delay := b.Field(1).(*array.Int64Builder)
	dist := b.Field(2).(*array.Int64Builder)
	orig := b.Field(3).(*array.LargeStringBuilder)
	dest := b.Field(4).(*array.LargeStringBuilder)
	for _, bl := range b.Fields() {
		bl.Reserve(n)
	}
	for i := 0; i < n; i++ {
		date.Append(arrow.Timestamp(978307200_000000 + int64(i)*60_000_000))
		if r.IntN(33) == 0 {
			delay.AppendNull()
		} else {
			delay.Append(r.Int64N(211) - 30)
		}
		if r.IntN(100) == 0 {
			dist.AppendNull()
		} else {
			dist.Append(r.Int64N(3001))
		}
		orig.Append(airports[r.IntN(len(airports))])
		dest.Append(airports[r.IntN(len(airports))])
	}
	return b.NewRecordBatch()
}

// pcsFilterDerive is the vectorized path: Filter, then Eval on the kept
// rows.
func pcsFilterDerive(ctx context.Context, filter, derive *expr.Expr, rec arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, arrow.Array, error) {
	kept, err := filter.Filter(ctx, rec, mem)
	if err != nil {
		return nil, nil, err
	}
	d, err := derive.Eval(ctx, kept, mem)
	if err != nil {
		kept.Release()
		return nil, nil, err
	}
	return kept, d, nil
}

// pcsMaskDerive is the vectorized path of the PCS model: a mask and a
// derived column over all rows.
func pcsMaskDerive(ctx context.Context, filter, derive *expr.Expr, rec arrow.RecordBatch, mem memory.Allocator) (*array.Boolean, arrow.Array, error) {
	mask, err := filter.Mask(ctx, rec, mem)
	if err != nil {
		return nil, nil, err
	}
	d, err := derive.Eval(ctx, rec, mem)
	if err != nil {
		mask.Release()
		return nil, nil, err
	}
	return mask, d, nil
}

// ---- the per-row baselines: interpreters over boxed values ----

// walk interprets the syntax tree for one row: a type switch per node, the
// columns looked up by name in the row's environment, values boxed in
// interfaces (nil = null). It knows what the benchmark uses, with the
// package's semantics (SQL logic, int64/float64 promotion, integer
// division, null on division by zero); and/or stop early when they can.
func walk(n expr.Node, env map[string]any) any {
	switch n := n.(type) {
	case *expr.Ident:
		return env[n.Name]
	case *expr.Literal:
		return n.Value
	case *expr.Binary:
		switch n.Op {
		case "and":
			x := walk(n.L, env)
			if x == false {
				return false
			}
			return and3(x, walk(n.R, env))
		case "or":
			x := walk(n.L, env)
			if x == true {
				return true
			}
			return or3(x, walk(n.R, env))
		}
		return arith(n.Op, walk(n.L, env), walk(n.R, env))
	}
	panic(fmt.Sprintf("walk: %T not supported", n))
}

// rowFn evaluates an expression for one row of boxed values (nil = null).
type rowFn func(row []any) any

// compileRows turns the syntax tree into closures over a boxed row, with
// the columns resolved to row positions once: a faster row engine than
// walk (what expression libraries compile to), still one row at a time.
func compileRows(n expr.Node, slots map[string]int) rowFn {
	switch n := n.(type) {
	case *expr.Ident:
		k := slots[n.Name]
		return func(row []any) any { return row[k] }
	case *expr.Literal:
		v := n.Value
		return func([]any) any { return v }
	case *expr.Binary:
		l, r := compileRows(n.L, slots), compileRows(n.R, slots)
		switch n.Op {
		case "and":
			return func(row []any) any {
				x := l(row)
				if x == false {
					return false
				}
				return and3(x, r(row))
			}
		case "or":
			return func(row []any) any {
				x := l(row)
				if x == true {
					return true
				}
				return or3(x, r(row))
			}
		}
		op := n.Op
		return func(row []any) any { return arith(op, l(row), r(row)) }
	}
	panic(fmt.Sprintf("compileRows: %T not supported", n))
}

func arith(op string, x, y any) any {
	if x == nil || y == nil {
		return nil
	}
	xi, xInt := x.(int64)
	yi, yInt := y.(int64)
	if xInt && yInt {
		switch op {
		case "+":
			return xi + yi
		case "-":
			return xi - yi
		case "*":
			return xi * yi
		case "/":
			if yi == 0 {
				return nil
			}
			return xi / yi
		case ">":
			return xi > yi
		case "<":
			return xi < yi
		case "=":
			return xi == yi
		}
		panic("arith: " + op)
	}
	xf, yf := toFloat(x), toFloat(y)
	switch op {
	case "+":
		return xf + yf
	case "-":
		return xf - yf
	case "*":
		return xf * yf
	case "/":
		if yf == 0 {
			return nil
		}
		return xf / yf
	case ">":
		return xf > yf
	case "<":
		return xf < yf
	case "=":
		return xf == yf
	}
	panic("arith: " + op)
}

func toFloat(v any) float64 {
	if i, ok := v.(int64); ok {
		return float64(i)
	}
	return v.(float64)
}

// rowEngine is a per-row evaluator of the benchmark's two expressions.
type rowEngine struct {
	load           func(delay, distance any) // sets the current row
	filter, derive func() any
}

// astEngine walks the syntax trees for each row.
func astEngine(tb testing.TB) rowEngine {
	f, d := parseBench(tb)
	env := map[string]any{}
	return rowEngine{
		load:   func(delay, distance any) { env["delay"], env["distance"] = delay, distance },
		filter: func() any { return walk(f, env) },
		derive: func() any { return walk(d, env) },
	}
}

// closureEngine runs closures compiled from the syntax trees.
func closureEngine(tb testing.TB) rowEngine {
	f, d := parseBench(tb)
	slots := map[string]int{"delay": 0, "distance": 1}
	ff, df := compileRows(f, slots), compileRows(d, slots)
	row := make([]any, 2)
	return rowEngine{
		load:   func(delay, distance any) { row[0], row[1] = delay, distance },
		filter: func() any { return ff(row) },
		derive: func() any { return df(row) },
	}
}

func parseBench(tb testing.TB) (expr.Node, expr.Node) {
	f, err := expr.Parse(benchFilter)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := expr.Parse(benchDerive)
	if err != nil {
		tb.Fatal(err)
	}
	return f, d
}

// loadRow boxes row i's delay and distance into the engine.
func (en rowEngine) loadRow(delay, dist *array.Int64, i int) {
	var a, b any
	if delay.IsValid(i) {
		a = delay.Value(i)
	}
	if dist.IsValid(i) {
		b = dist.Value(i)
	}
	en.load(a, b)
}

// perRowMaskDerive evaluates the filter for each row into a mask, and the
// derive for the kept rows (null elsewhere).
func perRowMaskDerive(en rowEngine, rec arrow.RecordBatch, mem memory.Allocator) (*array.Boolean, arrow.Array) {
	delay := rec.Column(1).(*array.Int64)
	dist := rec.Column(2).(*array.Int64)
	n := int(rec.NumRows())
	mb := array.NewBooleanBuilder(mem)
	defer mb.Release()
	db := array.NewFloat64Builder(mem)
	defer db.Release()
	mb.Reserve(n)
	db.Reserve(n)
	for i := 0; i < n; i++ {
		en.loadRow(delay, dist, i)
		keep := en.filter() == true
		mb.UnsafeAppend(keep)
		if !keep {
			db.UnsafeAppendBoolToBitmap(false)
			continue
		}
		switch v := en.derive().(type) {
		case float64:
			db.UnsafeAppend(v)
		default:
			db.UnsafeAppendBoolToBitmap(false)
		}
	}
	return mb.NewBooleanArray(), db.NewArray()
}

// perRowFilterDerive evaluates the filter for each row and appends the
// kept rows, and their derived value, to builders: the output of Filter
// then Eval.
func perRowFilterDerive(en rowEngine, rec arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, arrow.Array) {
	date := rec.Column(0).(*array.Timestamp)
	delay := rec.Column(1).(*array.Int64)
	dist := rec.Column(2).(*array.Int64)
	orig := rec.Column(3).(*array.LargeString)
	dest := rec.Column(4).(*array.LargeString)
	b := array.NewRecordBuilder(mem, rec.Schema())
	defer b.Release()
	db := array.NewFloat64Builder(mem)
	defer db.Release()
	for i := 0; i < int(rec.NumRows()); i++ {
		en.loadRow(delay, dist, i)
		if en.filter() != true {
			continue
		}
		appendTS(b.Field(0).(*array.TimestampBuilder), date, i)
		appendI64(b.Field(1).(*array.Int64Builder), delay, i)
		appendI64(b.Field(2).(*array.Int64Builder), dist, i)
		appendLS(b.Field(3).(*array.LargeStringBuilder), orig, i)
		appendLS(b.Field(4).(*array.LargeStringBuilder), dest, i)
		switch v := en.derive().(type) {
		case float64:
			db.Append(v)
		default:
			db.AppendNull()
		}
	}
	return b.NewRecordBatch(), db.NewArray()
}

func appendTS(b *array.TimestampBuilder, a *array.Timestamp, i int) {
	if a.IsNull(i) {
		b.AppendNull()
	} else {
		b.Append(a.Value(i))
	}
}

func appendI64(b *array.Int64Builder, a *array.Int64, i int) {
	if a.IsNull(i) {
		b.AppendNull()
	} else {
		b.Append(a.Value(i))
	}
}

func appendLS(b *array.LargeStringBuilder, a *array.LargeString, i int) {
	if a.IsNull(i) {
		b.AppendNull()
	} else {
		b.Append(a.Value(i))
	}
}

// TestPerRowBaselinesAgree checks that the benchmarked paths compute the
// same things.
func TestPerRowBaselinesAgree(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	rec := flightBatch(mem, 20000)
	defer rec.Release()
	filter, derive := expr.MustCompile(benchFilter, flightSchema), expr.MustCompile(benchDerive, flightSchema)

	mask, all, err := pcsMaskDerive(ctx, filter, derive, rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer mask.Release()
	defer all.Release()
	kept, d, err := pcsFilterDerive(ctx, filter, derive, rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Release()
	defer d.Release()
	if kept.NumRows() == 0 || kept.NumRows() == rec.NumRows() {
		t.Fatalf("filter kept %d of %d rows: not a useful benchmark", kept.NumRows(), rec.NumRows())
	}

	for name, en := range map[string]rowEngine{"ast": astEngine(t), "closures": closureEngine(t)} {
		mask2, some := perRowMaskDerive(en, rec, mem)
		if !array.Equal(mask, mask2) {
			t.Errorf("%s: masks differ", name)
		}
		for i := 0; i < mask.Len(); i++ {
			if mask.Value(i) && !sameValue(goValue(all, i), goValue(some, i)) {
				t.Fatalf("%s row %d: derived %v, per-row %v", name, i, goValue(all, i), goValue(some, i))
			}
		}
		mask2.Release()
		some.Release()

		kept2, d2 := perRowFilterDerive(en, rec, mem)
		if !array.RecordEqual(kept, kept2) {
			t.Errorf("%s: filtered batches differ", name)
		}
		if !array.Equal(d, d2) {
			t.Errorf("%s: derived columns differ", name)
		}
		kept2.Release()
		d2.Release()
	}
}

// benchPair runs a "pcs" and a "per-row" sub-benchmark over 1M flight rows.
func benchPair(b *testing.B, pcs func(context.Context, *expr.Expr, *expr.Expr, arrow.RecordBatch, memory.Allocator) error,
	perRow func(rowEngine, arrow.RecordBatch, memory.Allocator), engine func(testing.TB) rowEngine) {
	const rows = 1_000_000
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(b, 0)
	rec := flightBatch(mem, rows)
	defer rec.Release()
	ctx := context.Background()

	b.Run("pcs", func(b *testing.B) {
		filter := expr.MustCompile(benchFilter, flightSchema)
		derive := expr.MustCompile(benchDerive, flightSchema)
		cpu0 := cpuTime()
		for b.Loop() {
			if err := pcs(ctx, filter, derive, rec, mem); err != nil {
				b.Fatal(err)
			}
		}
		reportPerRow(b, rows, cpu0)
	})
	b.Run("per-row", func(b *testing.B) {
		en := engine(b)
		cpu0 := cpuTime()
		for b.Loop() {
			perRow(en, rec, mem)
		}
		reportPerRow(b, rows, cpu0)
	})
}

func maskDerive(ctx context.Context, filter, derive *expr.Expr, rec arrow.RecordBatch, mem memory.Allocator) error {
	mask, d, err := pcsMaskDerive(ctx, filter, derive, rec, mem)
	if err == nil {
		mask.Release()
		d.Release()
	}
	return err
}

func filterDerive(ctx context.Context, filter, derive *expr.Expr, rec arrow.RecordBatch, mem memory.Allocator) error {
	kept, d, err := pcsFilterDerive(ctx, filter, derive, rec, mem)
	if err == nil {
		kept.Release()
		d.Release()
	}
	return err
}

func rowsMaskDerive(en rowEngine, rec arrow.RecordBatch, mem memory.Allocator) {
	mask, d := perRowMaskDerive(en, rec, mem)
	mask.Release()
	d.Release()
}

func rowsFilterDerive(en rowEngine, rec arrow.RecordBatch, mem memory.Allocator) {
	kept, d := perRowFilterDerive(en, rec, mem)
	kept.Release()
	d.Release()
}

// BenchmarkFilterDerive: the filter "delay > 15 and distance > 0" and the
// derive "delay * 1.5 + distance / 100" over 1M flight rows, applied the
// way a PCS pipeline applies them: the filter gives a mask (the dataset's
// alive bitmap; dropped rows are compacted away later) and the derive a
// column. "pcs" runs Mask and Eval, vectorized; "per-row" walks the syntax
// tree for each row over boxed values, evaluating the derive only for the
// rows the filter keeps (an advantage to it).
func BenchmarkFilterDerive(b *testing.B) {
	benchPair(b, maskDerive, rowsMaskDerive, astEngine)
}

// BenchmarkFilterDeriveCompiledRows is BenchmarkFilterDerive against a
// stronger row engine: closures compiled from the syntax tree, columns
// resolved once (what expression libraries do), still a row at a time.
func BenchmarkFilterDeriveCompiledRows(b *testing.B) {
	benchPair(b, maskDerive, rowsMaskDerive, closureEngine)
}

// BenchmarkFilterCompactDerive is the same work with the filter applied
// at once: the kept rows of all five columns (two of them large_utf8) are
// copied into a new batch ("pcs": Filter, then Eval on it; "per-row": the
// tree walker appends the kept rows to builders).
func BenchmarkFilterCompactDerive(b *testing.B) {
	benchPair(b, filterDerive, rowsFilterDerive, astEngine)
}

// reportPerRow reports the wall time per row, and the CPU time per row
// since cpu0.
func reportPerRow(b *testing.B, rows int, cpu0 time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(rows), "cpu-ns/row")
	}
}

// BenchmarkConcat: the flights job's route, concat(origin, '-',
// destination) over 1M rows of two large_utf8 columns.
func BenchmarkConcat(b *testing.B) {
	const rows = 1_000_000
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(b, 0)
	rec := flightBatch(mem, rows)
	defer rec.Release()
	route := expr.MustCompile("concat(origin, '-', destination)", flightSchema)
	cpu0 := cpuTime()
	for b.Loop() {
		out, err := route.Eval(context.Background(), rec, mem)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	reportPerRow(b, rows, cpu0)
}
