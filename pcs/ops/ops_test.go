package ops_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/expr"
	"github.com/pcs-dev/pcs/pcs/ops"
)

var itemSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "total", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "m32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
}, nil)

var item = pcs.NewDynamicComponent("item", itemSchema)

const smallJSON = `[
	{"id": 0, "qty": 1,    "price": 2.5,  "name": "a",  "n32": 1},
	{"id": 1, "qty": 5,    "price": null, "name": "b",  "n32": null},
	{"id": 2, "qty": null, "price": 4.0,  "name": null, "n32": 3},
	{"id": 3, "qty": 7,    "price": 1.5,  "name": "d",  "n32": 4},
	{"id": 4, "qty": 3,    "price": 20.0, "name": "e",  "n32": 5},
	{"id": 5, "qty": null, "price": null, "name": "f",  "n32": 6}
]`

func newDataset(t *testing.T, mem memory.Allocator, js string) *pcs.Dataset {
	t.Helper()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(item); err != nil {
		t.Fatal(err)
	}
	rec, _, err := array.RecordFromJSON(mem, itemSchema, strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if _, err := ds.Append(map[string]arrow.RecordBatch{"item": rec}); err != nil {
		t.Fatal(err)
	}
	return ds
}

func run(t *testing.T, ds *pcs.Dataset, ss ...pcs.System) [][]string {
	t.Helper()
	p, err := pcs.NewPipeline("test").Components(item).Add(ss...).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	return p.Stages()
}

func alive(ds *pcs.Dataset) []bool {
	out := make([]bool, ds.Len())
	for i := range out {
		out[i] = ds.Alive(i)
	}
	return out
}

func column(t *testing.T, ds *pcs.Dataset, field string) arrow.Array {
	t.Helper()
	a, err := ds.Column("item", field)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustSys(t testing.TB) func(pcs.System, error) pcs.System {
	return func(s pcs.System, err error) pcs.System {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestFilterNulls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	f := mustSys(t)(ops.Filter("keep", item, "qty > 2 and price < 10"))
	run(t, ds, f)
	// row 1: price null -> null -> deleted; row 2: qty null; row 4: price 20.
	want := []bool{false, false, false, true, false, false}
	if got := alive(ds); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("alive = %v, want %v", got, want)
	}
	if ds.Live() != 1 {
		t.Fatalf("Live = %d", ds.Live())
	}
}

func TestFilterConstantAndAlreadyDeleted(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	if err := ds.Delete(3); err != nil {
		t.Fatal(err)
	}
	run(t, ds, mustSys(t)(ops.Filter("all", item, "true")))
	if ds.Live() != 5 || ds.Alive(3) {
		t.Fatalf("true filter: Live = %d, alive(3) = %v", ds.Live(), ds.Alive(3))
	}
	run(t, ds, mustSys(t)(ops.Filter("null", item, "null")))
	if ds.Live() != 0 {
		t.Fatalf("null filter: Live = %d", ds.Live())
	}
}

func TestDeriveNulls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	total := mustSys(t)(ops.Derive("total", item, "total", "qty * price"))
	label := mustSys(t)(ops.Derive("label", item, "label", "qty + 1")) // int64 -> string by cast
	m32 := mustSys(t)(ops.Derive("m32", item, "m32", "if(n32 > 2, n32, null)"))
	stages := run(t, ds, total, label, m32)
	if fmt.Sprint(stages) != "[[total label m32]]" {
		t.Fatalf("stages = %v", stages)
	}
	tot := column(t, ds, "total").(*array.Float64)
	wantTot := []any{2.5, nil, nil, 10.5, 60.0, nil}
	for i, w := range wantTot {
		if w == nil {
			if tot.IsValid(i) {
				t.Errorf("total[%d] = %v, want null", i, tot.Value(i))
			}
		} else if !tot.IsValid(i) || tot.Value(i) != w.(float64) {
			t.Errorf("total[%d] = %v, want %v", i, tot.ValueStr(i), w)
		}
	}
	lab := column(t, ds, "label").(*array.String)
	if got := lab.String(); got != `["2" "6" (null) "8" "4" (null)]` {
		t.Errorf("label = %s", got)
	}
	m := column(t, ds, "m32").(*array.Int32)
	if got := m.String(); got != `[(null) (null) 3 4 5 6]` {
		t.Errorf("m32 = %s", got)
	}
}

func TestDeriveSelfReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	inc := mustSys(t)(ops.Derive("inc", item, "price", "price + 1"))
	if got := inc.Meta().String(); got != "inc(reads: item.price | writes: item.price)" {
		t.Fatalf("meta = %s", got)
	}
	run(t, ds, inc)
	if got := column(t, ds, "price").String(); got != "[3.5 (null) 5 2.5 21 (null)]" {
		t.Fatalf("price = %s", got)
	}
}

func TestEmptyDataset(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, `[]`)
	defer ds.Release()
	f := mustSys(t)(ops.Filter("keep", item, "qty in (1, 2, 3) and starts_with(name, 'a')"))
	d := mustSys(t)(ops.Derive("total", item, "total", "qty * price"))
	l := mustSys(t)(ops.Derive("label", item, "label", "price"))
	run(t, ds, f, d, l)
	if ds.Len() != 0 || ds.Live() != 0 {
		t.Fatalf("Len = %d, Live = %d", ds.Len(), ds.Live())
	}
	if n := column(t, ds, "total").Len(); n != 0 {
		t.Fatalf("total has %d rows", n)
	}
}

func TestMeta(t *testing.T) {
	f := mustSys(t)(ops.Filter("keep", item, "price > 1 and qty > price and price is not null"))
	if got, want := f.Meta().String(), "keep(reads: item.price, item.qty | writes: rows (alive bitmap))"; got != want {
		t.Errorf("filter meta = %s, want %s", got, want)
	}
	c := mustSys(t)(ops.Filter("const", item, "1 < 2"))
	if got, want := c.Meta().String(), "const(reads: - | writes: rows (alive bitmap))"; got != want {
		t.Errorf("constant filter meta = %s, want %s", got, want)
	}
	d := mustSys(t)(ops.Derive("tot", item, "total", "coalesce(price, 0.0) * qty"))
	if got, want := d.Meta().String(), "tot(reads: item.price, item.qty | writes: item.total)"; got != want {
		t.Errorf("derive meta = %s, want %s", got, want)
	}
	cast := mustSys(t)(ops.Derive("lab", item, "label", "qty * 2"))
	if got, want := cast.Meta().String(), "lab(reads: item.qty | writes: item.label)"; got != want {
		t.Errorf("casting derive meta = %s, want %s", got, want)
	}
	if len(d.Meta().Reads) != 2 || len(d.Meta().Writes) != 1 {
		t.Errorf("derive refs: %d reads, %d writes", len(d.Meta().Reads), len(d.Meta().Writes))
	}
}

func TestStages(t *testing.T) {
	f := mustSys(t)(ops.Filter("keep", item, "qty > 0"))
	tot := mustSys(t)(ops.Derive("total", item, "total", "price * 2"))
	lab := mustSys(t)(ops.Derive("label", item, "label", "name"))
	post := mustSys(t)(ops.Derive("post", item, "m32", "n32"))
	usesTotal := mustSys(t)(ops.Derive("uses_total", item, "price", "total + 1"))
	p, err := pcs.NewPipeline("p").Components(item).Add(f, tot, lab, post, usesTotal).Build()
	if err != nil {
		t.Fatal(err)
	}
	// Filter writes rows, which every system reads: it is a stage of its
	// own. total and label and post are disjoint; uses_total reads total
	// and writes price, which total reads.
	if got, want := fmt.Sprint(p.Stages()), "[[keep] [total label post] [uses_total]]"; got != want {
		t.Fatalf("stages = %s, want %s", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name, src, field string
		derive           bool
		kind             error
		pos              string
	}{
		{"f1", "qty > 'x'", "", false, expr.ErrType, "1:5"},
		{"f2", "qty > 1 and\n  nope = 2", "", false, expr.ErrUnknownColumn, "2:3"},
		{"f3", "qty >", "", false, expr.ErrSyntax, "1:6"},
		{"f4", "qty + 1", "", false, expr.ErrType, "1:1"},
		{"d1", "price + name", "total", true, expr.ErrType, "1:7"},
		{"d2", "qty + 1", "n32", true, expr.ErrType, "1:1"},             // int64 to int32: no cast
		{"d3", "date '2001-01-01'", "total", true, expr.ErrType, "1:1"}, // date32 to float64: not castable
	}
	for _, c := range cases {
		var err error
		if c.derive {
			_, err = ops.Derive(c.name, item, c.field, c.src)
		} else {
			_, err = ops.Filter(c.name, item, c.src)
		}
		if err == nil {
			t.Errorf("%s: %q compiled", c.name, c.src)
			continue
		}
		var oe *ops.Error
		if !errors.As(err, &oe) || oe.System != c.name || oe.Expr != c.src {
			t.Errorf("%s: error %v (%T) does not name the system and expression", c.name, err, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("system %q", c.name)) {
			t.Errorf("%s: message %q lacks the system name", c.name, err)
		}
		var ee *expr.Error
		if !errors.As(err, &ee) {
			t.Errorf("%s: %v carries no expr.Error", c.name, err)
			continue
		}
		if ee.Pos.String() != c.pos || !errors.Is(err, c.kind) {
			t.Errorf("%s: %v: pos %s kind %v, want %s %v", c.name, err, ee.Pos, ee.Kind, c.pos, c.kind)
		}
	}
	_, err := ops.Derive("d4", item, "nope", "qty")
	var oe *ops.Error
	if !errors.Is(err, pcs.ErrUnknownField) || !errors.As(err, &oe) || oe.System != "d4" {
		t.Errorf("unknown field: %v", err)
	}
}

// TestRunErrors: failures on the data or on a dataset with another
// schema are permanent (no retry), and leave the dataset unchanged.
func TestRunErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	// string -> float64 is expr's parsing cast: "a" does not parse.
	d := mustSys(t)(ops.Derive("parse", item, "total", "name"))
	p, err := pcs.NewPipeline("p").Components(item).Add(d).Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(context.Background(), ds)
	if err == nil || !pcs.IsPermanent(err) || !errors.Is(err, expr.ErrEval) {
		t.Fatalf("run error = %v", err)
	}
	if n := column(t, ds, "total").NullN(); n != 6 {
		t.Fatalf("total changed: %d nulls", n)
	}

	// A dataset whose "item" has qty as float64.
	other := pcs.NewDynamicComponent("item", arrow.NewSchema([]arrow.Field{
		{Name: "qty", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil))
	ds2 := pcs.NewDataset(mem)
	defer ds2.Release()
	if err := ds2.Register(other); err != nil {
		t.Fatal(err)
	}
	f := mustSys(t)(ops.Filter("keep", item, "qty > 1"))
	err = f.Run(context.Background(), ds2)
	if err == nil || !pcs.IsPermanent(err) {
		t.Fatalf("schema mismatch: %v", err)
	}
}

// TestPipeline runs Filter then Derive over random data with nulls and
// compares with a row-by-row computation.
func TestPipeline(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewSource(7))
	const n = 1000
	type row struct {
		qty   *int64
		price *float64
	}
	rows := make([]row, n)
	var sb strings.Builder
	sb.WriteString("[")
	for i := range rows {
		if i > 0 {
			sb.WriteString(",")
		}
		q, pr := "null", "null"
		if r.Intn(5) > 0 {
			v := int64(r.Intn(20) - 5)
			rows[i].qty = &v
			q = fmt.Sprint(v)
		}
		if r.Intn(5) > 0 {
			v := float64(r.Intn(400)) / 4
			rows[i].price = &v
			pr = fmt.Sprint(v)
		}
		fmt.Fprintf(&sb, `{"id": %d, "qty": %s, "price": %s}`, i, q, pr)
	}
	sb.WriteString("]")
	ds := newDataset(t, mem, sb.String())
	defer ds.Release()

	f := mustSys(t)(ops.Filter("keep", item, "qty >= 3 or price is null"))
	d := mustSys(t)(ops.Derive("total", item, "total", "coalesce(price, 0.5) * qty + 1"))
	stages := run(t, ds, f, d)
	if fmt.Sprint(stages) != "[[keep] [total]]" {
		t.Fatalf("stages = %v", stages)
	}
	tot := column(t, ds, "total").(*array.Float64)
	for i, rw := range rows {
		// SQL WHERE: null is false.
		keep := rw.qty != nil && *rw.qty >= 3 || rw.price == nil
		if ds.Alive(i) != keep {
			t.Fatalf("row %d: alive %v, want %v", i, ds.Alive(i), keep)
		}
		if rw.qty == nil {
			if tot.IsValid(i) {
				t.Fatalf("row %d: total %v, want null", i, tot.Value(i))
			}
			continue
		}
		p := 0.5
		if rw.price != nil {
			p = *rw.price
		}
		want := p*float64(*rw.qty) + 1
		if !tot.IsValid(i) || tot.Value(i) != want {
			t.Fatalf("row %d: total %s, want %v", i, tot.ValueStr(i), want)
		}
	}
	// Compact after the pipeline still sees the derived values.
	live := ds.Live()
	if err := ds.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ds.Len() != live {
		t.Fatalf("after compact: %d rows, want %d", ds.Len(), live)
	}
}

// TestSlicedColumns: columns at a bit offset not a multiple of 8 (a
// dataset built from a sliced batch) give the same results.
func TestSlicedColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	full, _, err := array.RecordFromJSON(mem, itemSchema, strings.NewReader(`[
		{"id": 9, "qty": 9, "price": 9}, {"id": 9}, {"id": 9, "qty": 1}, `+smallJSON[1:]))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Release()
	rec := full.NewSlice(3, full.NumRows())
	defer rec.Release()
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(item); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Append(map[string]arrow.RecordBatch{"item": rec}); err != nil {
		t.Fatal(err)
	}
	run(t, ds,
		mustSys(t)(ops.Filter("keep", item, "not (qty <= 2) and price is not null")),
		mustSys(t)(ops.Derive("label", item, "label", "qty > 4")))
	if got, want := fmt.Sprint(alive(ds)), "[false false false true true false]"; got != want {
		t.Fatalf("alive = %s, want %s", got, want)
	}
	if got := column(t, ds, "label").String(); got != `["false" "true" (null) "true" "false" (null)]` {
		t.Fatalf("label = %s", got)
	}
}
