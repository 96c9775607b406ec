package pcs_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// trade exercises every mapping rule the component documents: tag names,
// untagged names, pointer fields (nullable), time.Time and *time.Time, and
// a skipped field.
type trade struct {
	ID      int64      `arrow:"id"`
	Price   float64    `arrow:"price"`
	Symbol  string     `arrow:"symbol"`
	Active  bool       `arrow:"active"`
	At      time.Time  `arrow:"at"`
	Settled *time.Time `arrow:"settled"`
	Qty     *int64     `arrow:"qty"`
	Note    *string    `arrow:"note"`
	Raw     []byte     `arrow:"raw"`
	Venue   string     // untagged: column named after the Go field
	Scratch string     `arrow:"-"`
}

func ptr[T any](v T) *T { return &v }

func sampleTrades() []trade {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	t0 := time.Date(2024, 3, 15, 9, 30, 0, 123456789, time.UTC)
	t1 := time.Date(1999, 12, 31, 23, 59, 59, 1, paris)
	t2 := time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC) // near the end of the int64 ns range
	return []trade{
		{ID: 1, Price: 101.25, Symbol: "ACME", Active: true, At: t0, Settled: ptr(t1), Qty: ptr(int64(10)), Note: ptr("first"), Raw: []byte{1, 2, 3}, Venue: "XNAS", Scratch: "dropped"},
		{ID: -2, Price: -0.5, Symbol: "", Active: false, At: t1, Settled: nil, Qty: nil, Note: nil, Raw: nil, Venue: "", Scratch: "dropped too"},
		{ID: math.MaxInt64, Price: math.Inf(1), Symbol: "日本語", Active: true, At: t2, Settled: ptr(t0), Qty: ptr(int64(math.MinInt64)), Note: ptr(""), Raw: []byte{}, Venue: "XPAR"},
	}
}

func TestComponentSchemaFromStruct(t *testing.T) {
	c, err := pcs.NewComponent[trade]("trade")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "trade" || c.String() != "trade.*" {
		t.Fatalf("Name/String = %q/%q", c.Name(), c.String())
	}
	want := []struct {
		name     string
		typ      arrow.DataType
		nullable bool
	}{
		{"id", arrow.PrimitiveTypes.Int64, false},
		{"price", arrow.PrimitiveTypes.Float64, false},
		{"symbol", arrow.BinaryTypes.String, false},
		{"active", arrow.FixedWidthTypes.Boolean, false},
		{"at", &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, false},
		{"settled", &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, true},
		{"qty", arrow.PrimitiveTypes.Int64, true},
		{"note", arrow.BinaryTypes.String, true},
		{"raw", arrow.BinaryTypes.Binary, false},
		{"Venue", arrow.BinaryTypes.String, false},
	}
	s := c.Schema()
	if s.NumFields() != len(want) {
		t.Fatalf("schema has %d fields, want %d: %s", s.NumFields(), len(want), s)
	}
	for i, w := range want {
		f := s.Field(i)
		if f.Name != w.name || !arrow.TypeEqual(f.Type, w.typ) || f.Nullable != w.nullable {
			t.Errorf("field %d = %s %s nullable=%v, want %s %s nullable=%v", i, f.Name, f.Type, f.Nullable, w.name, w.typ, w.nullable)
		}
	}
	if len(s.FieldIndices("Scratch")) != 0 || len(s.FieldIndices("-")) != 0 {
		t.Errorf("field tagged arrow:\"-\" is in the schema: %s", s)
	}
	if !arrow.TypeEqual(pcs.TimestampNS, want[4].typ) {
		t.Errorf("TimestampNS = %s", pcs.TimestampNS)
	}
}

// TestComponentBatchValues checks the columns Batch builds against the Go
// values, field by field, without going back through Rows.
func TestComponentBatchValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[trade]("trade")
	rows := sampleTrades()
	rec, err := c.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != int64(len(rows)) || !rec.Schema().Equal(c.Schema()) {
		t.Fatalf("batch: %d rows, schema %s", rec.NumRows(), rec.Schema())
	}
	col := func(name string) arrow.Array {
		t.Helper()
		idx := rec.Schema().FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no column %q", name)
		}
		return rec.Column(idx[0])
	}
	ids := col("id").(*array.Int64)
	prices := col("price").(*array.Float64)
	syms := col("symbol").(*array.String)
	act := col("active").(*array.Boolean)
	at := col("at").(*array.Timestamp)
	settled := col("settled").(*array.Timestamp)
	qty := col("qty").(*array.Int64)
	note := col("note").(*array.String)
	raw := col("raw").(*array.Binary)
	venue := col("Venue").(*array.String)
	for i, r := range rows {
		if ids.Value(i) != r.ID || prices.Value(i) != r.Price || syms.Value(i) != r.Symbol ||
			act.Value(i) != r.Active || venue.Value(i) != r.Venue || string(raw.Value(i)) != string(r.Raw) {
			t.Errorf("row %d: scalar columns differ from %+v", i, r)
		}
		if at.IsNull(i) || int64(at.Value(i)) != r.At.UnixNano() {
			t.Errorf("row %d: at = %v, want %d ns", i, at.Value(i), r.At.UnixNano())
		}
		if (r.Settled == nil) != settled.IsNull(i) || r.Settled != nil && int64(settled.Value(i)) != r.Settled.UnixNano() {
			t.Errorf("row %d: settled = %v (null %v), want %v", i, settled.Value(i), settled.IsNull(i), r.Settled)
		}
		if (r.Qty == nil) != qty.IsNull(i) || r.Qty != nil && qty.Value(i) != *r.Qty {
			t.Errorf("row %d: qty mismatch", i)
		}
		if (r.Note == nil) != note.IsNull(i) || r.Note != nil && note.Value(i) != *r.Note {
			t.Errorf("row %d: note mismatch", i)
		}
	}
}

func equalTrade(a, b trade) bool {
	eqTime := func(x, y *time.Time) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return x.Equal(*y)
	}
	eqPtr := func(x, y *int64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	eqStr := func(x, y *string) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return a.ID == b.ID && a.Price == b.Price && a.Symbol == b.Symbol && a.Active == b.Active &&
		a.At.Equal(b.At) && eqTime(a.Settled, b.Settled) && eqPtr(a.Qty, b.Qty) && eqStr(a.Note, b.Note) &&
		string(a.Raw) == string(b.Raw) && a.Venue == b.Venue && a.Scratch == b.Scratch
}

func TestComponentRowsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[trade]("trade")
	rows := sampleTrades()
	rec, err := c.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	got, err := c.Rows(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("got %d rows, want %d", len(got), len(rows))
	}
	for i := range rows {
		want := rows[i]
		want.Scratch = "" // arrow:"-" is not stored
		if !equalTrade(got[i], want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want)
		}
		if got[i].Settled != nil && got[i].Settled == rows[i].Settled {
			t.Errorf("row %d: Rows returned the input's pointer, not a new value", i)
		}
	}
	if got[1].Settled != nil || got[1].Qty != nil || got[1].Note != nil {
		t.Errorf("nulls did not come back as nil pointers: %+v", got[1])
	}
	if got[2].Note == nil || *got[2].Note != "" {
		t.Errorf("empty non-nil string lost: %+v", got[2].Note)
	}

	// Empty slices give an empty batch and back.
	empty, err := c.Batch(mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Release()
	if empty.NumRows() != 0 || !empty.Schema().Equal(c.Schema()) {
		t.Fatalf("empty batch: %d rows, schema %s", empty.NumRows(), empty.Schema())
	}
	if back, err := c.Rows(empty); err != nil || len(back) != 0 {
		t.Fatalf("Rows(empty) = %v, %v", back, err)
	}
}

// TestComponentRecordToRowsToRecord goes the other way: a RecordBatch built
// directly with Arrow builders converts to []T and back to an equal batch.
func TestComponentRecordToRowsToRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[trade]("trade")
	b := array.NewRecordBuilder(mem, c.Schema())
	defer b.Release()
	const n = 50
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i*i - 100))
		b.Field(1).(*array.Float64Builder).Append(float64(i) / 4)
		b.Field(2).(*array.StringBuilder).Append(strings.Repeat("x", i%5))
		b.Field(3).(*array.BooleanBuilder).Append(i%3 == 0)
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 1_000_000_007))
		if i%4 == 0 {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(-int64(i) * 86_400_000_000_000))
		}
		if i%2 == 0 {
			b.Field(6).AppendNull()
		} else {
			b.Field(6).(*array.Int64Builder).Append(int64(-i))
		}
		if i%5 == 1 {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.StringBuilder).Append(string(rune('a' + i%26)))
		}
		b.Field(8).(*array.BinaryBuilder).Append([]byte{byte(i), byte(i >> 8)})
		b.Field(9).(*array.StringBuilder).Append("v" + string(rune('0'+i%10)))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	rows, err := c.Rows(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows", len(rows))
	}
	// Spot-check decoded Go values against what was built.
	if rows[3].At.UnixNano() != 3*1_000_000_007 || rows[3].Settled == nil || rows[3].Settled.UnixNano() != -3*86_400_000_000_000 {
		t.Errorf("row 3 times: %v %v", rows[3].At, rows[3].Settled)
	}
	if rows[4].Settled != nil || rows[4].Qty != nil || rows[5].Qty == nil || *rows[5].Qty != -5 || rows[6].Note != nil {
		t.Errorf("nullable fields decoded wrong: %+v %+v %+v", rows[4], rows[5], rows[6])
	}
	again, err := c.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Release()
	if !array.RecordEqual(rec, again) {
		t.Fatalf("record -> rows -> record changed the data:\n%v\n%v", rec, again)
	}
}

type narrow struct {
	ID    int64      `arrow:"id"`
	Score float64    `arrow:"score"`
	Name  string     `arrow:"name"`
	At    *time.Time `arrow:"at"`
}

func narrowSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "score", Type: arrow.PrimitiveTypes.Float32},
		{Name: "name", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
}

func TestComponentWithSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := narrowSchema()
	c, err := pcs.NewComponent[narrow]("narrow", pcs.WithSchema(s))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Schema().Equal(s) {
		t.Fatalf("schema %s, want %s", c.Schema(), s)
	}
	at := time.Date(2030, 6, 1, 12, 0, 0, 5_000_000, time.UTC) // whole milliseconds
	rows := []narrow{
		{ID: 7, Score: 0.5, Name: "a", At: &at},
		{ID: -2147483648, Score: -3, Name: "b", At: nil},
		{ID: 2147483647, Score: 1e10, Name: "a", At: &at},
	}
	rec, err := c.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if !rec.Schema().Equal(s) {
		t.Fatalf("batch schema %s, want %s", rec.Schema(), s)
	}
	ids, ok := rec.Column(0).(*array.Int32)
	if !ok {
		t.Fatalf("id column is %T, want *array.Int32", rec.Column(0))
	}
	for i, r := range rows {
		if int64(ids.Value(i)) != r.ID {
			t.Errorf("id[%d] = %d, want %d", i, ids.Value(i), r.ID)
		}
	}
	if _, ok := rec.Column(1).(*array.Float32); !ok {
		t.Errorf("score column is %T", rec.Column(1))
	}
	dict, ok := rec.Column(2).(*array.Dictionary)
	if !ok {
		t.Fatalf("name column is %T", rec.Column(2))
	}
	if dict.GetValueIndex(0) != dict.GetValueIndex(2) || dict.GetValueIndex(0) == dict.GetValueIndex(1) {
		t.Errorf("dictionary indices %d %d %d", dict.GetValueIndex(0), dict.GetValueIndex(1), dict.GetValueIndex(2))
	}
	ts := rec.Column(3).(*array.Timestamp)
	if !ts.IsNull(1) || ts.IsNull(0) || int64(ts.Value(0)) != at.UnixMilli() {
		t.Errorf("at column %v, want %d ms and a null", ts, at.UnixMilli())
	}

	got, err := c.Rows(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		w, g := rows[i], got[i]
		if g.ID != w.ID || g.Score != w.Score || g.Name != w.Name || (g.At == nil) != (w.At == nil) || g.At != nil && !g.At.Equal(*w.At) {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}

	// Out of range for int32: the cast is checked, not truncated.
	if b, err := c.Batch(mem, []narrow{{ID: 1 << 40}}); err == nil {
		b.Release()
		t.Error("Batch accepted an int64 that int32 cannot hold")
	}

	// A batch with T's natural schema is not the component's schema.
	natural := pcs.MustComponent[narrow]("narrow")
	nb, err := natural.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Release()
	if _, err := c.Rows(nb); !errors.Is(err, pcs.ErrSchemaMismatch) {
		t.Errorf("Rows(natural batch) err = %v, want ErrSchemaMismatch", err)
	}
	if _, err := natural.Rows(rec); !errors.Is(err, pcs.ErrSchemaMismatch) {
		t.Errorf("natural.Rows(narrow batch) err = %v, want ErrSchemaMismatch", err)
	}
}

func TestComponentErrors(t *testing.T) {
	if _, err := pcs.NewComponent[int]("n"); err == nil || !errors.Is(err, pcs.ErrBuild) {
		t.Errorf("NewComponent[int] err = %v, want ErrBuild", err)
	}
	if _, err := pcs.NewComponent[*narrow]("p"); err == nil {
		t.Error("NewComponent[*struct] accepted a pointer type")
	}
	if _, err := pcs.NewComponent[[]narrow]("s"); err == nil {
		t.Error("NewComponent[[]struct] accepted a slice type")
	}
	for _, name := range []string{"", "a.b", "a*"} {
		if _, err := pcs.NewComponent[narrow](name); !errors.Is(err, pcs.ErrBuild) {
			t.Errorf("NewComponent(%q) err = %v, want ErrBuild", name, err)
		}
	}
	type unsupported struct {
		C chan int `arrow:"c"`
	}
	if _, err := pcs.NewComponent[unsupported]("u"); err == nil {
		t.Error("NewComponent accepted a chan field")
	}

	ts := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	bad := map[string]*arrow.Schema{
		"too few fields": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		}, nil),
		"too many fields": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "score", Type: arrow.PrimitiveTypes.Float64},
			{Name: "name", Type: arrow.BinaryTypes.String}, {Name: "at", Type: ts, Nullable: true},
			{Name: "extra", Type: arrow.PrimitiveTypes.Int64},
		}, nil),
		"renamed field": arrow.NewSchema([]arrow.Field{
			{Name: "ident", Type: arrow.PrimitiveTypes.Int64}, {Name: "score", Type: arrow.PrimitiveTypes.Float64},
			{Name: "name", Type: arrow.BinaryTypes.String}, {Name: "at", Type: ts, Nullable: true},
		}, nil),
		"uncastable type": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64})},
			{Name: "score", Type: arrow.PrimitiveTypes.Float64},
			{Name: "name", Type: arrow.BinaryTypes.String}, {Name: "at", Type: ts, Nullable: true},
		}, nil),
	}
	for what, s := range bad {
		_, err := pcs.NewComponent[narrow]("narrow", pcs.WithSchema(s))
		if !errors.Is(err, pcs.ErrSchemaMismatch) {
			t.Errorf("%s: err = %v, want ErrSchemaMismatch", what, err)
		} else if !strings.Contains(err.Error(), "narrow") {
			t.Errorf("%s: error %q does not name the component", what, err)
		}
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustComponent[int] did not panic")
			}
		}()
		pcs.MustComponent[int]("n")
	}()
}

// A time.Time outside timestamp[ns]'s range (years 1678..2262), the zero
// time.Time among them, cannot be stored; Batch must refuse it rather
// than store a wrapped-around instant.
func TestComponentTimeOutOfRange(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	type ev struct {
		At  time.Time  `arrow:"at"`
		Opt *time.Time `arrow:"opt"`
	}
	c := pcs.MustComponent[ev]("ev")
	ok := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, rows := range [][]ev{
		{{At: ok}, {At: time.Time{}}},
		{{At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{{At: ok, Opt: ptr(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC))}},
	} {
		rec, err := c.Batch(mem, rows)
		if err == nil {
			got, _ := c.Rows(rec)
			rec.Release()
			t.Errorf("Batch(%v) stored an unrepresentable time; it reads back as %v", rows, got)
		}
	}
}

// Fields promoted from an embedded struct are columns too (arreflect's
// rules); their time.Time fields must round-trip like top-level ones.
func TestComponentEmbeddedTime(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	type stamps struct {
		Created time.Time  `arrow:"created"`
		Deleted *time.Time `arrow:"deleted"`
	}
	type doc struct {
		ID int64 `arrow:"id"`
		stamps
	}
	c, err := pcs.NewComponent[doc]("doc")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"created", "deleted"} {
		idx := c.Schema().FieldIndices(name)
		if len(idx) != 1 || !arrow.TypeEqual(c.Schema().Field(idx[0]).Type, pcs.TimestampNS) {
			t.Fatalf("field %q not a timestamp[ns, UTC] column: %s", name, c.Schema())
		}
	}
	t0 := time.Date(2021, 2, 3, 4, 5, 6, 7, time.UTC)
	rows := []doc{{ID: 1, stamps: stamps{Created: t0, Deleted: &t0}}, {ID: 2, stamps: stamps{Created: t0.Add(time.Hour)}}}
	rec, err := c.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	got, err := c.Rows(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		w, g := rows[i], got[i]
		if g.ID != w.ID || !g.Created.Equal(w.Created) || (g.Deleted == nil) != (w.Deleted == nil) || g.Deleted != nil && !g.Deleted.Equal(*w.Deleted) {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestDynamicComponent(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}}, nil)
	c := pcs.NewDynamicComponent("dyn", s)
	if c.Name() != "dyn" || c.Schema() != s || c.String() != "dyn.*" {
		t.Fatalf("dynamic component %q %s %q", c.Name(), c.Schema(), c.String())
	}
	var _ pcs.AnyComponent = c
	var _ pcs.AnyComponent = pcs.MustComponent[narrow]("n")
}

// A nil embedded pointer gives nulls in its time columns, and a shallower
// field of the same name shadows a promoted time field (arreflect's rule),
// which then must not be treated as a time.
func TestComponentEmbeddedTimePointerAndShadowing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	type Stamps struct {
		Created time.Time `arrow:"created"`
		Updated time.Time `arrow:"updated"`
	}
	type doc struct {
		ID int64 `arrow:"id"`
		*Stamps
		Created string `arrow:"created"` // shadows Stamps.Created
	}
	c, err := pcs.NewComponent[doc]("doc")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Schema()
	ci, ui := s.FieldIndices("created"), s.FieldIndices("updated")
	if len(ci) != 1 || len(ui) != 1 || !arrow.TypeEqual(s.Field(ci[0]).Type, arrow.BinaryTypes.String) ||
		!arrow.TypeEqual(s.Field(ui[0]).Type, pcs.TimestampNS) || !s.Field(ui[0]).Nullable {
		t.Fatalf("schema %s: want created utf8, updated nullable timestamp[ns, UTC]", s)
	}
	t0 := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	rows := []doc{{ID: 1, Stamps: &Stamps{Updated: t0}, Created: "c1"}, {ID: 2, Created: "c2"}}
	rec, err := c.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	up := rec.Column(ui[0]).(*array.Timestamp)
	if up.IsNull(0) || int64(up.Value(0)) != t0.UnixNano() || !up.IsNull(1) {
		t.Fatalf("updated column %v, want [%d null]", up, t0.UnixNano())
	}
	if cr := rec.Column(ci[0]).(*array.String); cr.Value(0) != "c1" || cr.Value(1) != "c2" {
		t.Fatalf("created column %v", cr)
	}
	got, err := c.Rows(rec)
	if err != nil {
		t.Fatal(err)
	}
	// arreflect leaves a nil embedded pointer nil when decoding (its
	// documented rule), so only the top-level fields come back here.
	if got[0].ID != 1 || got[0].Created != "c1" || got[1].ID != 2 || got[1].Created != "c2" {
		t.Fatalf("rows back: %+v %+v", got[0], got[1])
	}
}

// Dictionary-encoded strings through WithSchema: values are encoded, the
// index type's range is checked, and Rows decodes them.
func TestComponentWithSchemaDictionary(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	type tag struct {
		Name *string `arrow:"name"`
	}
	mk := func(idx arrow.DataType) *pcs.Component[tag] {
		t.Helper()
		s := arrow.NewSchema([]arrow.Field{{Name: "name", Nullable: true,
			Type: &arrow.DictionaryType{IndexType: idx, ValueType: arrow.BinaryTypes.String}}}, nil)
		c, err := pcs.NewComponent[tag]("tag", pcs.WithSchema(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rows := make([]tag, 300)
	for i := range rows {
		if i%7 != 3 {
			rows[i].Name = ptr("v" + strings.Repeat("x", i%150))
		}
	}
	c16 := mk(arrow.PrimitiveTypes.Int16)
	rec, err := c16.Batch(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	d := rec.Column(0).(*array.Dictionary)
	if d.Dictionary().Len() != 150 {
		t.Errorf("dictionary has %d values, want 150 distinct", d.Dictionary().Len())
	}
	vals := d.Dictionary().(*array.String)
	for i, r := range rows {
		if (r.Name == nil) != d.IsNull(i) || r.Name != nil && vals.Value(d.GetValueIndex(i)) != *r.Name {
			t.Fatalf("row %d decoded wrong", i)
		}
	}
	back, err := c16.Rows(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if (rows[i].Name == nil) != (back[i].Name == nil) || rows[i].Name != nil && *rows[i].Name != *back[i].Name {
			t.Fatalf("row %d: %v, want %v", i, back[i].Name, rows[i].Name)
		}
	}
	// 150 distinct values do not fit int8 indices.
	if r8, err := mk(arrow.PrimitiveTypes.Int8).Batch(mem, rows); err == nil {
		r8.Release()
		t.Error("int8-indexed dictionary accepted 150 distinct values")
	}
}
