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
	"github.com/pcs-dev/pcs/pcs/ops"
)

var orderSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "ccy", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "region", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "rate", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

var order = pcs.NewDynamicComponent("order", orderSchema)

// The table's key columns are of other types than the order's fields
// (large_string vs string, int64 vs int32): keys match by value.
var fxSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ccy", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "region", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "rate", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

const fxJSON = `[
	{"ccy": "EUR", "region": 1, "rate": 1.1,  "name": "euro",   "flag": true},
	{"ccy": "EUR", "region": 2, "rate": 1.2,  "name": null,     "flag": false},
	{"ccy": "USD", "region": 1, "rate": 1.0,  "name": "dollar", "flag": null},
	{"ccy": null,  "region": 1, "rate": 9.9,  "name": "nullkey"},
	{"ccy": "GBP", "region": null, "rate": 8.8, "name": "nullregion"}
]`

const ordersJSON = `[
	{"id": 0, "ccy": "EUR", "region": 1},
	{"id": 1, "ccy": "EUR", "region": 2},
	{"id": 2, "ccy": "EUR", "region": 3},
	{"id": 3, "ccy": null,  "region": 1},
	{"id": 4, "ccy": "GBP", "region": null},
	{"id": 5, "ccy": "USD", "region": 1},
	{"id": 6, "ccy": "JPY", "region": 1},
	{"id": 7, "ccy": "EUR", "region": 1}
]`

func newOrders(t testing.TB, mem memory.Allocator, js ...string) *pcs.Dataset {
	t.Helper()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(order); err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		rec, _, err := array.RecordFromJSON(mem, orderSchema, strings.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ds.Append(map[string]arrow.RecordBatch{"order": rec})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	return ds
}

func newTable(t *testing.T, mem memory.Allocator, s *arrow.Schema, js string, keys ...string) *ops.Table {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, s, strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	tab, err := ops.NewTable(rec, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func runOrders(t *testing.T, ds *pcs.Dataset, ss ...pcs.System) [][]string {
	t.Helper()
	p, err := pcs.NewPipeline("test").Components(order).Add(ss...).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	return p.Stages()
}

func orderCol(t *testing.T, ds *pcs.Dataset, field string) arrow.Array {
	t.Helper()
	a, err := ds.Column("order", field)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// rowKey renders row i of the key columns as a Go value, nil if any is
// null: the reference computation works on these.
func rowKey(cols []arrow.Array, i int) any {
	parts := make([]string, len(cols))
	for j, c := range cols {
		if c.IsNull(i) {
			return nil
		}
		parts[j] = c.ValueStr(i)
	}
	return strings.Join(parts, "\x00")
}

// naiveLookup is the row-by-row reference: a linear scan of the table
// for each row; -1 when missing.
func naiveLookup(dsKeys, tabKeys []arrow.Array, i int) int {
	k := rowKey(dsKeys, i)
	if k == nil {
		return -1
	}
	for r := 0; r < tabKeys[0].Len(); r++ {
		if tk := rowKey(tabKeys, r); tk != nil && tk == k {
			return r
		}
	}
	return -1
}

func cols(t *testing.T, get func(string) arrow.Array, names ...string) []arrow.Array {
	out := make([]arrow.Array, len(names))
	for i, n := range names {
		out[i] = get(n)
	}
	return out
}

// checkAgainstNaive compares the value fields of ds with the reference
// computation, over all rows.
func checkAgainstNaive(t *testing.T, ds *pcs.Dataset, tab *ops.Table, keys []string, values, columns []string) {
	t.Helper()
	rec := tab.Record()
	dsGet := func(n string) arrow.Array { return orderCol(t, ds, n) }
	tabGet := func(n string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(n)[0]) }
	dk := cols(t, dsGet, keys...)
	tk := cols(t, tabGet, tab.Keys()...)
	for v, field := range values {
		got := orderCol(t, ds, field)
		src := tabGet(columns[v])
		for i := 0; i < ds.Len(); i++ {
			r := naiveLookup(dk, tk, i)
			want := "(null)"
			if r >= 0 && src.IsValid(r) {
				want = src.ValueStr(r)
			}
			g := "(null)"
			if got.IsValid(i) {
				g = got.ValueStr(i)
			}
			if g != want {
				t.Fatalf("%s[%d] = %s, want %s (table row %d)", field, i, g, want, r)
			}
		}
	}
}

func TestLookupLeft(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tab := newTable(t, mem, fxSchema, fxJSON, "ccy", "region")
	defer tab.Release()
	ds := newOrders(t, mem, ordersJSON)
	defer ds.Release()
	if err := pcs.InsertResource(ds, tab); err != nil {
		t.Fatal(err)
	}
	if err := ds.Delete(6); err != nil { // a deleted missing row is not counted
		t.Fatal(err)
	}
	var st ops.LookupStats
	lk := mustSys(t)(ops.Lookup("fx", order, []string{"ccy", "region"}, ops.LookupOptions{
		Values: []string{"rate", "label", "flag"}, Columns: []string{"rate", "name", "flag"}, Stats: &st}))
	runOrders(t, ds, lk)
	if got, want := orderCol(t, ds, "rate").String(), "[1.1 1.2 (null) (null) (null) 1 (null) 1.1]"; got != want {
		t.Errorf("rate = %s, want %s", got, want)
	}
	if got, want := orderCol(t, ds, "label").String(), `["euro" (null) (null) (null) (null) "dollar" (null) "euro"]`; got != want {
		t.Errorf("label = %s, want %s", got, want)
	}
	if got, want := orderCol(t, ds, "flag").String(), "[true false (null) (null) (null) (null) (null) true]"; got != want {
		t.Errorf("flag = %s, want %s", got, want)
	}
	checkAgainstNaive(t, ds, tab, []string{"ccy", "region"}, []string{"rate", "label", "flag"}, []string{"rate", "name", "flag"})
	// Alive rows 0..5, 7; missing: 2 (absent), 3 and 4 (null key parts).
	if st.Runs.Load() != 1 || st.Rows.Load() != 7 || st.Missing.Load() != 3 {
		t.Errorf("stats: runs %d rows %d missing %d", st.Runs.Load(), st.Rows.Load(), st.Missing.Load())
	}
	if ds.Live() != 7 {
		t.Errorf("left lookup deleted rows: Live = %d", ds.Live())
	}
}

func TestLookupInner(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tab := newTable(t, mem, fxSchema, fxJSON, "ccy", "region")
	defer tab.Release()
	ds := newOrders(t, mem, ordersJSON)
	defer ds.Release()
	if err := pcs.InsertResource(ds, tab); err != nil {
		t.Fatal(err)
	}
	if err := ds.Delete(0); err != nil { // a deleted matching row stays deleted
		t.Fatal(err)
	}
	var st ops.LookupStats
	lk := mustSys(t)(ops.Lookup("fx", order, []string{"ccy", "region"}, ops.LookupOptions{
		Values: []string{"rate"}, Inner: true, Stats: &st}))
	if got, want := lk.Meta().String(), "fx(reads: order.ccy, order.region, resource *ops.Table | writes: order.rate, rows (alive bitmap))"; got != want {
		t.Errorf("meta = %s, want %s", got, want)
	}
	runOrders(t, ds, lk)
	want := []bool{false, true, false, false, false, true, false, true}
	got := make([]bool, ds.Len())
	for i := range got {
		got[i] = ds.Alive(i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alive = %v, want %v", got, want)
	}
	if st.Rows.Load() != 7 || st.Missing.Load() != 4 {
		t.Errorf("stats: rows %d missing %d", st.Rows.Load(), st.Missing.Load())
	}
	checkAgainstNaive(t, ds, tab, []string{"ccy", "region"}, []string{"rate"}, []string{"rate"})
}

// TestLookupFrom: a named resource type per table; a single integer key
// of another width; an empty table leaves every value null.
func TestLookupFrom(t *testing.T) {
	type Regions struct{ *ops.Table }
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	regions := newTable(t, mem, fxSchema, `[{"region": 1, "name": "north"}, {"region": 3, "name": "south"}]`, "region")
	defer regions.Release()
	empty := newTable(t, mem, fxSchema, `[]`, "ccy", "region")
	defer empty.Release()
	ds := newOrders(t, mem, ordersJSON)
	defer ds.Release()
	if err := pcs.InsertResource(ds, Regions{regions}); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, empty); err != nil {
		t.Fatal(err)
	}
	var st ops.LookupStats
	rg := mustSys(t)(ops.LookupFrom[Regions]("regions", order, []string{"region"}, ops.LookupOptions{
		Values: []string{"label"}, Columns: []string{"name"}}))
	fx := mustSys(t)(ops.Lookup("fx", order, []string{"ccy", "region"}, ops.LookupOptions{
		Values: []string{"rate"}, Stats: &st}))
	if got, want := fmt.Sprint(runOrders(t, ds, rg, fx)), "[[regions fx]]"; got != want {
		t.Errorf("stages = %s, want %s", got, want)
	}
	if got, want := orderCol(t, ds, "label").String(), `["north" (null) "south" "north" (null) "north" "north" "north"]`; got != want {
		t.Errorf("label = %s, want %s", got, want)
	}
	if got := orderCol(t, ds, "rate").String(); got != "[(null) (null) (null) (null) (null) (null) (null) (null)]" {
		t.Errorf("rate from an empty table = %s", got)
	}
	if st.Missing.Load() != 8 {
		t.Errorf("missing = %d", st.Missing.Load())
	}
}

func TestLookupEmptyDataset(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tab := newTable(t, mem, fxSchema, fxJSON, "ccy", "region")
	defer tab.Release()
	ds := newOrders(t, mem, `[]`)
	defer ds.Release()
	if err := pcs.InsertResource(ds, tab); err != nil {
		t.Fatal(err)
	}
	var st ops.LookupStats
	lk := mustSys(t)(ops.Lookup("fx", order, []string{"ccy", "region"}, ops.LookupOptions{
		Values: []string{"rate", "label"}, Columns: []string{"rate", "name"}, Inner: true, Stats: &st}))
	runOrders(t, ds, lk)
	if ds.Len() != 0 || orderCol(t, ds, "rate").Len() != 0 || st.Runs.Load() != 1 || st.Rows.Load() != 0 {
		t.Fatalf("Len %d, runs %d, rows %d", ds.Len(), st.Runs.Load(), st.Rows.Load())
	}
}

// TestLookupRandom compares a run over several appended batches (columns
// that may be sliced at any offset) with the row-by-row reference.
func TestLookupRandom(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewSource(7))
	ccys := []string{"EUR", "USD", "GBP", "JPY", "CHF"}
	str := func(p float64) string {
		if rng.Float64() < p {
			return "null"
		}
		return fmt.Sprintf("%q", ccys[rng.Intn(len(ccys))])
	}
	num := func(p float64, n int) string {
		if rng.Float64() < p {
			return "null"
		}
		return fmt.Sprint(rng.Intn(n))
	}
	var tb []string
	seen := map[string]bool{}
	for len(tb) < 12 {
		c, r := str(0.1), num(0.1, 4)
		if k := c + "/" + r; !seen[k] {
			seen[k] = true
			tb = append(tb, fmt.Sprintf(`{"ccy": %s, "region": %s, "rate": %s, "name": %s}`, c, r, num(0.2, 100), str(0.2)))
		}
	}
	tab := newTable(t, mem, fxSchema, "["+strings.Join(tb, ",")+"]", "ccy", "region")
	defer tab.Release()
	var batches []string
	id := 0
	for b := 0; b < 4; b++ {
		var rows []string
		for i := 0; i < 13+b*7; i++ {
			rows = append(rows, fmt.Sprintf(`{"id": %d, "ccy": %s, "region": %s}`, id, str(0.15), num(0.15, 5)))
			id++
		}
		batches = append(batches, "["+strings.Join(rows, ",")+"]")
	}
	ds := newOrders(t, mem, batches...)
	defer ds.Release()
	if err := pcs.InsertResource(ds, tab); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < ds.Len(); i += 5 {
		if err := ds.Delete(i); err != nil {
			t.Fatal(err)
		}
	}
	// Expected stats and survivors, row by row, before the run.
	dk := cols(t, func(n string) arrow.Array { return orderCol(t, ds, n) }, "ccy", "region")
	rec := tab.Record()
	tk := []arrow.Array{rec.Column(0), rec.Column(1)}
	var wantRows, wantMissing int64
	wantAlive := make([]bool, ds.Len())
	for i := range wantAlive {
		if ds.Alive(i) {
			wantRows++
			if naiveLookup(dk, tk, i) < 0 {
				wantMissing++
			} else {
				wantAlive[i] = true
			}
		}
	}
	var st ops.LookupStats
	lk := mustSys(t)(ops.Lookup("fx", order, []string{"ccy", "region"}, ops.LookupOptions{
		Values: []string{"rate", "label"}, Columns: []string{"rate", "name"}, Inner: true, Stats: &st}))
	runOrders(t, ds, lk)
	checkAgainstNaive(t, ds, tab, []string{"ccy", "region"}, []string{"rate", "label"}, []string{"rate", "name"})
	for i, w := range wantAlive {
		if ds.Alive(i) != w {
			t.Fatalf("alive[%d] = %v, want %v", i, ds.Alive(i), w)
		}
	}
	if st.Rows.Load() != wantRows || st.Missing.Load() != wantMissing || wantMissing == 0 || wantMissing == wantRows {
		t.Fatalf("stats: rows %d missing %d, want %d %d", st.Rows.Load(), st.Missing.Load(), wantRows, wantMissing)
	}
}

func TestLookupErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cases := []struct {
		name string
		keys []string
		opts ops.LookupOptions
		is   error
	}{
		{"nokey", nil, ops.LookupOptions{Values: []string{"rate"}}, nil},
		{"novalue", []string{"ccy"}, ops.LookupOptions{}, nil},
		{"unknownkey", []string{"nope"}, ops.LookupOptions{Values: []string{"rate"}}, pcs.ErrUnknownField},
		{"unknownvalue", []string{"ccy"}, ops.LookupOptions{Values: []string{"nope"}}, pcs.ErrUnknownField},
		{"floatkey", []string{"rate"}, ops.LookupOptions{Values: []string{"label"}}, nil},
		{"keyvalue", []string{"ccy"}, ops.LookupOptions{Values: []string{"ccy"}}, nil},
		{"twice", []string{"ccy", "ccy"}, ops.LookupOptions{Values: []string{"rate"}}, nil},
		{"columns", []string{"ccy"}, ops.LookupOptions{Values: []string{"rate"}, Columns: []string{"a", "b"}}, nil},
	}
	for _, c := range cases {
		_, err := ops.Lookup(c.name, order, c.keys, c.opts)
		var oe *ops.Error
		if err == nil || !errors.As(err, &oe) || oe.System != c.name || !strings.HasPrefix(oe.Expr, "lookup(") {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
	}

	// NewTable.
	rec, _, err := array.RecordFromJSON(mem, fxSchema, strings.NewReader(`[{"ccy": "A", "region": 1}, {"ccy": "A", "region": 2}, {"ccy": "A", "region": 1}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if _, err := ops.NewTable(rec, "ccy", "region"); !errors.Is(err, ops.ErrDuplicateKey) {
		t.Errorf("duplicate keys: %v", err)
	}
	if _, err := ops.NewTable(rec, "nope"); !errors.Is(err, pcs.ErrUnknownField) {
		t.Errorf("unknown key column: %v", err)
	}
	for _, keys := range [][]string{nil, {"rate"}, {"ccy", "ccy"}} {
		if _, err := ops.NewTable(rec, keys...); err == nil {
			t.Errorf("NewTable(%v) succeeded", keys)
		}
	}

	// Run errors are permanent and leave the dataset unchanged.
	tab, err := ops.NewTable(rec, "region", "ccy") // region is not unique alone, but (region, ccy) is not either
	if err == nil {
		tab.Release()
		t.Fatal("duplicate (region, ccy) accepted")
	}
	head := rec.NewSlice(0, 2)
	defer head.Release()
	tab, err = ops.NewTable(head, "region") // keys 1, 2
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Release()
	ds := newOrders(t, mem, ordersJSON)
	defer ds.Release()
	runErr := func(s pcs.System) error {
		p, err := pcs.NewPipeline("p").Components(order).Add(s).Build()
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Run(context.Background(), ds)
		return err
	}
	lk := mustSys(t)(ops.Lookup("fx", order, []string{"region"}, ops.LookupOptions{Values: []string{"rate"}}))
	if err := runErr(lk); !errors.Is(err, pcs.ErrNoResource) || !pcs.IsPermanent(err) {
		t.Errorf("no resource: %v", err)
	}
	if err := pcs.InsertResource(ds, tab); err != nil {
		t.Fatal(err)
	}
	bad := []pcs.System{
		mustSys(t)(ops.Lookup("kind", order, []string{"ccy"}, ops.LookupOptions{Values: []string{"rate"}})),
		mustSys(t)(ops.Lookup("count", order, []string{"region", "ccy"}, ops.LookupOptions{Values: []string{"rate"}})),
		mustSys(t)(ops.Lookup("type", order, []string{"region"}, ops.LookupOptions{Values: []string{"label"}, Columns: []string{"rate"}})),
		mustSys(t)(ops.Lookup("col", order, []string{"region"}, ops.LookupOptions{Values: []string{"rate"}, Columns: []string{"nope"}})),
	}
	for _, s := range bad {
		if err := runErr(s); err == nil || !pcs.IsPermanent(err) {
			t.Errorf("%s: %v", s.Meta().Name, err)
		}
	}
	if got := orderCol(t, ds, "rate").NullN(); got != ds.Len() {
		t.Errorf("failed runs wrote rate: %d nulls", got)
	}
}

// TestLookupUnsignedKey: an int64 field finds uint8 table keys by value;
// uint64 keys above math.MaxInt64 never equal a signed key.
func TestLookupUnsignedKey(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, dt := range []arrow.DataType{arrow.PrimitiveTypes.Uint8, arrow.PrimitiveTypes.Uint64} {
		s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: dt}, {Name: "rate", Type: arrow.PrimitiveTypes.Float64}}, nil)
		js := `[{"k": 1, "rate": 0.5}, {"k": 7, "rate": 7.5}]`
		if dt.ID() == arrow.UINT64 {
			js = `[{"k": 1, "rate": 0.5}, {"k": 18446744073709551615, "rate": 9.5}]`
		}
		tab := newTable(t, mem, s, js, "k")
		ds := newOrders(t, mem, `[{"id": 1}, {"id": 7}, {"id": -1}, {"id": 0}]`)
		if err := pcs.InsertResource(ds, tab); err != nil {
			t.Fatal(err)
		}
		runOrders(t, ds, mustSys(t)(ops.Lookup("k", order, []string{"id"}, ops.LookupOptions{
			Values: []string{"rate"}})))
		want := "[0.5 7.5 (null) (null)]"
		if dt.ID() == arrow.UINT64 {
			want = "[0.5 (null) (null) (null)]"
		}
		if got := orderCol(t, ds, "rate").String(); got != want {
			t.Errorf("%s: rate = %s, want %s", dt, got, want)
		}
		ds.Release()
		tab.Release()
	}
}

// TestLookupNamedInto reads a table by name from a Tables resource and
// writes into a second component.
func TestLookupNamedInto(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newOrders(t, mem, ordersJSON)
	defer ds.Release()
	fx := newTable(t, mem, fxSchema, fxJSON, "ccy", "region")
	defer fx.Release()
	info := pcs.NewDynamicComponent("info", arrow.NewSchema([]arrow.Field{
		{Name: "fx_rate", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ccy", Type: arrow.BinaryTypes.String, Nullable: true}}, nil))
	if err := ds.Register(info); err != nil {
		t.Fatal(err)
	}
	var empty ops.Tables
	if err := pcs.InsertResource(ds, empty.With("fx", fx)); err != nil {
		t.Fatal(err)
	}
	stats := &ops.LookupStats{}
	// "ccy" is both a key (of order) and a value (of info): allowed, other components.
	s := mustSys(t)(ops.LookupNamed("fx", order, "fx", []string{"ccy", "region"},
		ops.LookupOptions{Into: info, Values: []string{"fx_rate", "ccy"}, Columns: []string{"rate", "name"}, Stats: stats}))
	if got, want := s.Meta().String(), "fx(reads: order.ccy, order.region, resource ops.Tables | writes: info.fx_rate, info.ccy)"; got != want {
		t.Errorf("meta = %s, want %s", got, want)
	}
	p, err := pcs.NewPipeline("t").Components(order, info).Add(s).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	rate, _ := ds.Column("info", "fx_rate")
	if got, want := rate.String(), "[1.1 1.2 (null) (null) (null) 1 (null) 1.1]"; got != want {
		t.Errorf("fx_rate = %s, want %s", got, want)
	}
	name, _ := ds.Column("info", "ccy")
	if got, want := name.String(), `["euro" (null) (null) (null) (null) "dollar" (null) "euro"]`; got != want {
		t.Errorf("name = %s, want %s", got, want)
	}
	if stats.Rows.Load() != 8 || stats.Missing.Load() != 4 {
		t.Errorf("rows %d missing %d, want 8 and 4", stats.Rows.Load(), stats.Missing.Load())
	}
	// A table name that is not there.
	bad := mustSys(t)(ops.LookupNamed("fx", order, "rates", []string{"ccy", "region"},
		ops.LookupOptions{Into: info, Values: []string{"fx_rate"}, Columns: []string{"rate"}}))
	p, err = pcs.NewPipeline("t").Components(order, info).Add(bad).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); !errors.Is(err, ops.ErrNoTable) || !pcs.IsPermanent(err) || !strings.Contains(err.Error(), "[fx]") {
		t.Errorf("err = %v, want permanent ErrNoTable listing [fx]", err)
	}
}

// TestLookupDictionary: a dictionary<int32, utf8> value field gets the
// used table rows as its dictionary, in order of first use.
func TestLookupDictionary(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newOrders(t, mem, ordersJSON)
	defer ds.Release()
	fx := newTable(t, mem, fxSchema, fxJSON, "ccy", "region")
	defer fx.Release()
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	info := pcs.NewDynamicComponent("info", arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: dictType, Nullable: true}}, nil))
	if err := ds.Register(info); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, fx); err != nil {
		t.Fatal(err)
	}
	s := mustSys(t)(ops.Lookup("fx", order, []string{"ccy", "region"}, ops.LookupOptions{Into: info, Values: []string{"name"}}))
	p, err := pcs.NewPipeline("t").Components(order, info).Add(s).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	col, _ := ds.Column("info", "name")
	d, ok := col.(*array.Dictionary)
	if !ok {
		t.Fatalf("name is %T", col)
	}
	// Rows 0 and 7 (EUR/1, table row 0 "euro"), 1 (EUR/2, row 1, name null), 5 (USD/1, row 2 "dollar").
	if got, want := d.Indices().String(), "[0 1 (null) (null) (null) 2 (null) 0]"; got != want {
		t.Errorf("indices = %s, want %s", got, want)
	}
	if got, want := d.Dictionary().String(), `["euro" (null) "dollar"]`; got != want {
		t.Errorf("dictionary = %s, want %s", got, want)
	}
}

// TestLookupStringKeyLengths: a one-column string key matches by value at
// every length, across the 7-byte boundary of the packed index, and
// "abc" never matches "abc\x00" or "ab".
func TestLookupStringKeyLengths(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.LargeString, Nullable: true}, {Name: "rate", Type: arrow.PrimitiveTypes.Float64}}, nil)
	tab := newTable(t, mem, s, `[{"k": "", "rate": 0}, {"k": "abc", "rate": 3}, {"k": "abc\u0000", "rate": 4},
		{"k": "seven77", "rate": 7}, {"k": "eight888", "rate": 8}, {"k": "a much longer key", "rate": 17}, {"k": null, "rate": -1}]`, "k")
	defer tab.Release()
	ds := newOrders(t, mem, `[{"id": 0, "ccy": "abc"}, {"id": 1, "ccy": "ab"}, {"id": 2, "ccy": "abc\u0000"}, {"id": 3, "ccy": ""},
		{"id": 4, "ccy": "seven77"}, {"id": 5, "ccy": "eight888"}, {"id": 6, "ccy": "eight88"}, {"id": 7, "ccy": "a much longer key"},
		{"id": 8, "ccy": null}, {"id": 9, "ccy": "a much longer kez"}]`)
	defer ds.Release()
	if err := pcs.InsertResource(ds, tab); err != nil {
		t.Fatal(err)
	}
	runOrders(t, ds, mustSys(t)(ops.Lookup("k", order, []string{"ccy"}, ops.LookupOptions{Values: []string{"rate"}})))
	if got, want := orderCol(t, ds, "rate").String(), "[3 (null) 4 0 7 8 (null) 17 (null) (null)]"; got != want {
		t.Errorf("rate = %s, want %s", got, want)
	}
	// Duplicates are found on either side of the boundary.
	for _, js := range []string{`[{"k": "abc", "rate": 1}, {"k": "abc", "rate": 2}]`, `[{"k": "eight888", "rate": 1}, {"k": "eight888", "rate": 2}]`} {
		rec, _, err := array.RecordFromJSON(mem, s, strings.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ops.NewTable(rec, "k"); !errors.Is(err, ops.ErrDuplicateKey) {
			t.Errorf("%s: err = %v, want ErrDuplicateKey", js, err)
		}
		rec.Release()
	}
}

// BenchmarkLookup: the flights job's lookup shape, 16384 rows of 3-letter
// codes against a 4,000-row table, two value columns (float64, string).
func BenchmarkLookup(b *testing.B) {
	mem := memory.NewGoAllocator()
	codes := make([]string, 4000)
	for i := range codes {
		codes[i] = string([]byte{'A' + byte(i/676%26), 'A' + byte(i/26%26), 'A' + byte(i%26)})
	}
	kb, vb := array.NewStringBuilder(mem), array.NewFloat64Builder(mem)
	for i, c := range codes {
		kb.Append(c)
		vb.Append(float64(i))
	}
	ts := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "rate", Type: arrow.PrimitiveTypes.Float64}}, nil)
	rec := array.NewRecordBatch(ts, []arrow.Array{kb.NewArray(), vb.NewArray()}, int64(len(codes)))
	tab, err := ops.NewTable(rec, "k")
	if err != nil {
		b.Fatal(err)
	}
	rec.Release()
	defer tab.Release()
	in, _, err := array.RecordFromJSON(mem, orderSchema, strings.NewReader(`[]`))
	if err != nil {
		b.Fatal(err)
	}
	cols := in.Columns()
	ids, ccys := array.NewInt64Builder(mem), array.NewStringBuilder(mem)
	for i := range 16384 {
		ids.Append(int64(i))
		ccys.Append(codes[(i*7919)%len(codes)])
	}
	cols = append([]arrow.Array{ids.NewArray(), ccys.NewArray()}, cols[2:]...)
	for i := 2; i < len(cols); i++ {
		cols[i] = array.MakeArrayOfNull(mem, cols[i].DataType(), 16384)
	}
	in.Release()
	orders := array.NewRecordBatch(orderSchema, cols, 16384)
	defer orders.Release()
	sys := mustSys(b)(ops.Lookup("k", order, []string{"ccy"}, ops.LookupOptions{Values: []string{"rate", "label"}, Columns: []string{"rate", "k"}}))
	p, err := pcs.NewPipeline("b").Components(order).Add(sys).Build()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ds := pcs.NewDataset(mem)
		if err := ds.Register(order); err != nil {
			b.Fatal(err)
		}
		if _, err := ds.Append(map[string]arrow.RecordBatch{"order": orders}); err != nil {
			b.Fatal(err)
		}
		if err := pcs.InsertResource(ds, tab); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Run(context.Background(), ds); err != nil {
			b.Fatal(err)
		}
		ds.Release()
	}
	b.ReportMetric(float64(16384*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestLookupSlicedStringKeys: a sliced key column (offsets not starting
// at 0) finds the same rows as the whole column's slice of results.
func TestLookupSlicedStringKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "rate", Type: arrow.PrimitiveTypes.Float64}}, nil)
	tab := newTable(t, mem, s, `[{"k": "ab", "rate": 1}, {"k": "cdefghij", "rate": 2}, {"k": "x", "rate": 3}]`, "k")
	defer tab.Release()
	rec, _, err := array.RecordFromJSON(mem, orderSchema, strings.NewReader(
		`[{"id": 0, "ccy": "zzzzzzzzzz"}, {"id": 1, "ccy": "x"}, {"id": 2, "ccy": "ab"}, {"id": 3, "ccy": "cdefghij"}, {"id": 4, "ccy": "ab"}]`))
	if err != nil {
		t.Fatal(err)
	}
	part := rec.NewSlice(1, 5)
	rec.Release()
	defer part.Release()
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(order); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Append(map[string]arrow.RecordBatch{"order": part}); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, tab); err != nil {
		t.Fatal(err)
	}
	runOrders(t, ds, mustSys(t)(ops.Lookup("k", order, []string{"ccy"}, ops.LookupOptions{Values: []string{"rate"}})))
	if got, want := orderCol(t, ds, "rate").String(), "[3 1 2 1]"; got != want {
		t.Errorf("rate = %s, want %s", got, want)
	}
}
