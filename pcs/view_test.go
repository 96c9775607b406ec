package pcs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// reading has one field of every type View has an accessor for.
type reading struct {
	ID    int64     `arrow:"id"`
	Temp  float64   `arrow:"temp"`
	Hum   float32   `arrow:"hum"`
	Count int32     `arrow:"count"`
	Big   uint64    `arrow:"big"`
	Small uint32    `arrow:"small"`
	OK    bool      `arrow:"ok"`
	Name  string    `arrow:"name"`
	Blob  []byte    `arrow:"blob"`
	At    time.Time `arrow:"at"`
}

func sampleReadings(n int) []reading {
	out := make([]reading, n)
	base := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	for i := range out {
		out[i] = reading{
			ID: int64(i)*1000 - 7, Temp: float64(i) * 1.5, Hum: float32(i) / 8, Count: int32(-i),
			Big: uint64(1)<<63 + uint64(i), Small: uint32(i * 3), OK: i%2 == 1,
			Name: strings.Repeat("n", i%4) + string(rune('A'+i%26)), Blob: []byte{byte(i), 0, byte(255 - i)},
			At: base.Add(time.Duration(i) * time.Minute),
		}
	}
	return out
}

// readingsDataset returns a dataset holding rows of component c; the
// caller releases it.
func readingsDataset(t *testing.T, mem memory.Allocator, c *pcs.Component[reading], rows []reading) *pcs.Dataset {
	t.Helper()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(c); err != nil {
		t.Fatal(err)
	}
	if r, err := pcs.AppendRows(ds, c, rows); err != nil || r != (pcs.RowRange{Lo: 0, Hi: len(rows)}) {
		t.Fatalf("AppendRows = %v, %v", r, err)
	}
	return ds
}

func TestViewAccessors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[reading]("reading")
	rows := sampleReadings(9)
	ds := readingsDataset(t, mem, c, rows)
	defer ds.Release()

	v, err := ds.View("reading")
	if err != nil {
		t.Fatal(err)
	}
	if v.Component() != "reading" || v.Len() != len(rows) {
		t.Fatalf("view %q len %d", v.Component(), v.Len())
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ids, err := v.Int64("id")
	must(err)
	temp, err := v.Float64("temp")
	must(err)
	hum, err := v.Float32("hum")
	must(err)
	cnt, err := v.Int32("count")
	must(err)
	big, err := v.Uint64("big")
	must(err)
	small, err := v.Uint32("small")
	must(err)
	ok, err := v.Bool("ok")
	must(err)
	name, err := v.String("name")
	must(err)
	blob, err := v.Binary("blob")
	must(err)
	at, err := v.Timestamp("at")
	must(err)
	if unit := at.DataType().(*arrow.TimestampType).Unit; unit != arrow.Nanosecond {
		t.Errorf("at unit %v", unit)
	}
	for i, r := range rows {
		if ids.Value(i) != r.ID || temp.Value(i) != r.Temp || hum.Value(i) != r.Hum || cnt.Value(i) != r.Count ||
			big.Value(i) != r.Big || small.Value(i) != r.Small || ok.Value(i) != r.OK || name.Value(i) != r.Name ||
			string(blob.Value(i)) != string(r.Blob) || int64(at.Value(i)) != r.At.UnixNano() {
			t.Errorf("row %d differs from %+v", i, r)
		}
	}
	for _, a := range []arrow.Array{ids, temp, hum, cnt, big, small, ok, name, blob, at} {
		if a.Len() != len(rows) {
			t.Errorf("%s column has %d rows", a.DataType(), a.Len())
		}
	}
	col, err := v.Column("temp")
	must(err)
	if col != arrow.Array(temp) {
		t.Error("Column and Float64 returned different arrays for one field")
	}
	// The view is live: it sees rows appended later.
	if _, err := pcs.AppendRows(ds, c, rows[:2]); err != nil {
		t.Fatal(err)
	}
	if v.Len() != len(rows)+2 {
		t.Errorf("view len %d after append, want %d", v.Len(), len(rows)+2)
	}
	if ids, err = v.Int64("id"); err != nil || ids.Len() != len(rows)+2 || ids.Value(len(rows)+1) != rows[1].ID {
		t.Errorf("after append: %v, %v", ids, err)
	}
}

func TestViewErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[reading]("reading")
	ds := readingsDataset(t, mem, c, sampleReadings(3))
	defer ds.Release()

	if _, err := ds.View("weather"); !errors.Is(err, pcs.ErrUnknownComponent) || !strings.Contains(err.Error(), "weather") {
		t.Errorf("View(weather) err = %v, want ErrUnknownComponent naming it", err)
	}
	v, err := ds.View("reading")
	if err != nil {
		t.Fatal(err)
	}
	// Every accessor on a field of another type.
	wrong := map[string]func() error{
		"Float64(id)":     func() error { _, err := v.Float64("id"); return err },
		"Float32(temp)":   func() error { _, err := v.Float32("temp"); return err },
		"Int64(count)":    func() error { _, err := v.Int64("count"); return err },
		"Int32(id)":       func() error { _, err := v.Int32("id"); return err },
		"Uint64(id)":      func() error { _, err := v.Uint64("id"); return err },
		"Uint32(count)":   func() error { _, err := v.Uint32("count"); return err },
		"Bool(small)":     func() error { _, err := v.Bool("small"); return err },
		"String(blob)":    func() error { _, err := v.String("blob"); return err },
		"Binary(name)":    func() error { _, err := v.Binary("name"); return err },
		"Timestamp(big)":  func() error { _, err := v.Timestamp("big"); return err },
		"Float64(hum)":    func() error { _, err := v.Float64("hum"); return err },
		"Int64(at)":       func() error { _, err := v.Int64("at"); return err },
		"Uint64(ok)":      func() error { _, err := v.Uint64("ok"); return err },
		"Timestamp(name)": func() error { _, err := v.Timestamp("name"); return err },
	}
	for what, call := range wrong {
		err := call()
		field := what[strings.Index(what, "(")+1 : len(what)-1]
		if !errors.Is(err, pcs.ErrFieldType) {
			t.Errorf("%s: err = %v, want ErrFieldType", what, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "reading") || !strings.Contains(msg, field) {
			t.Errorf("%s: error %q does not name component and field", what, msg)
		}
	}
	for what, call := range map[string]func() error{
		"Column":    func() error { _, err := v.Column("pressure"); return err },
		"Float64":   func() error { _, err := v.Float64("pressure"); return err },
		"Timestamp": func() error { _, err := v.Timestamp("pressure"); return err },
	} {
		err := call()
		if !errors.Is(err, pcs.ErrUnknownField) {
			t.Errorf("%s(pressure): err = %v, want ErrUnknownField", what, err)
		} else if msg := err.Error(); !strings.Contains(msg, "reading") || !strings.Contains(msg, "pressure") {
			t.Errorf("%s(pressure): error %q does not name component and field", what, msg)
		}
	}
}

func TestFieldRef(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[reading]("reading")
	rows := sampleReadings(6)
	ds := readingsDataset(t, mem, c, rows)
	defer ds.Release()

	temp, err := pcs.NewField[*array.Float64](c, "temp")
	if err != nil {
		t.Fatal(err)
	}
	if temp.Component() != "reading" || temp.Name() != "temp" || temp.String() != "reading.temp" ||
		!arrow.TypeEqual(temp.Type(), arrow.PrimitiveTypes.Float64) {
		t.Fatalf("FieldRef %q %q %q %s", temp.Component(), temp.Name(), temp.String(), temp.Type())
	}
	got, err := temp.Get(ds)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if got.Value(i) != r.Temp {
			t.Fatalf("temp[%d] = %v, want %v", i, got.Value(i), r.Temp)
		}
	}
	name := pcs.MustField[*array.String](c, "name")
	names, err := name.Get(ds)
	if err != nil || names.Value(5) != rows[5].Name {
		t.Fatalf("name.Get = %v, %v", names, err)
	}
	at := pcs.MustField[*array.Timestamp](c, "at")
	if ats, err := at.Get(ds); err != nil || int64(ats.Value(2)) != rows[2].At.UnixNano() {
		t.Fatalf("at.Get = %v, %v", ats, err)
	}

	// Set replaces the column; the dataset keeps its own reference.
	b := array.NewFloat64Builder(mem)
	for i := range rows {
		b.Append(float64(-i))
	}
	next := b.NewFloat64Array()
	b.Release()
	if err := temp.Set(ds, next); err != nil {
		t.Fatal(err)
	}
	next.Release() // the dataset's reference keeps it alive
	got, err = temp.Get(ds)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if got.Value(i) != float64(-i) {
			t.Fatalf("after Set temp[%d] = %v", i, got.Value(i))
		}
	}
	// Set with the wrong row count changes nothing.
	short := array.NewFloat64Builder(mem)
	short.Append(1)
	one := short.NewFloat64Array()
	short.Release()
	defer one.Release()
	if err := temp.Set(ds, one); !errors.Is(err, pcs.ErrRowCount) {
		t.Errorf("Set(1 row) err = %v, want ErrRowCount", err)
	}
	if cur, _ := temp.Get(ds); cur != got {
		t.Error("a failed Set replaced the column")
	}

	// Errors of NewField name component and field.
	if _, err := pcs.NewField[*array.Float64](c, "pressure"); !errors.Is(err, pcs.ErrUnknownField) ||
		!strings.Contains(err.Error(), "reading") || !strings.Contains(err.Error(), "pressure") {
		t.Errorf("NewField(pressure) err = %v, want ErrUnknownField naming reading and pressure", err)
	}
	if _, err := pcs.NewField[*array.Int64](c, "temp"); !errors.Is(err, pcs.ErrFieldType) ||
		!strings.Contains(err.Error(), "reading") || !strings.Contains(err.Error(), "temp") {
		t.Errorf("NewField[*array.Int64](temp) err = %v, want ErrFieldType naming reading and temp", err)
	}
	if _, err := pcs.NewField[*array.Timestamp](c, "id"); !errors.Is(err, pcs.ErrFieldType) {
		t.Errorf("NewField[*array.Timestamp](id) err = %v, want ErrFieldType", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustField of an unknown field did not panic")
			}
		}()
		pcs.MustField[*array.Float64](c, "pressure")
	}()

	// A dataset without the component.
	empty := pcs.NewDataset(mem)
	defer empty.Release()
	if _, err := temp.Get(empty); !errors.Is(err, pcs.ErrUnknownComponent) {
		t.Errorf("Get on a dataset without the component: err = %v", err)
	}
	if err := temp.Set(empty, got); !errors.Is(err, pcs.ErrUnknownComponent) {
		t.Errorf("Set on a dataset without the component: err = %v", err)
	}
}

// A FieldRef made from one schema used on a dataset whose component of the
// same name has another one (a dynamic or IPC-decoded component) must
// report the mismatch, not panic.
func TestFieldRefOtherSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[reading]("reading")
	temp := pcs.MustField[*array.Float64](c, "temp")
	at := pcs.MustField[*array.Timestamp](c, "at")
	hum := pcs.MustField[*array.Float32](c, "hum")

	other := pcs.NewDynamicComponent("reading", arrow.NewSchema([]arrow.Field{
		{Name: "temp", Type: arrow.PrimitiveTypes.Int64},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
	}, nil))
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(other); err != nil {
		t.Fatal(err)
	}
	if _, err := temp.Get(ds); !errors.Is(err, pcs.ErrFieldType) || !strings.Contains(err.Error(), "reading.temp") {
		t.Errorf("Get of an int64 column through a float64 FieldRef: err = %v, want ErrFieldType", err)
	}
	if _, err := hum.Get(ds); !errors.Is(err, pcs.ErrUnknownField) {
		t.Errorf("Get of a field the dataset's component lacks: err = %v, want ErrUnknownField", err)
	}
	// Same Go array type, other Arrow type: Get works (it is a timestamp
	// array), Set with a timestamp[ns] array is rejected.
	if _, err := at.Get(ds); err != nil {
		t.Errorf("at.Get: %v", err)
	}
	b := array.NewTimestampBuilder(mem, pcs.TimestampNS)
	arr := b.NewTimestampArray()
	b.Release()
	defer arr.Release()
	if err := at.Set(ds, arr); !errors.Is(err, pcs.ErrSchemaMismatch) {
		t.Errorf("Set of a timestamp[ns] into a timestamp[ms] column: err = %v, want ErrSchemaMismatch", err)
	}
}

// FieldRef works on dynamic components like on typed ones.
func TestFieldRefDynamic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dc := pcs.NewDynamicComponent("px", arrow.NewSchema([]arrow.Field{
		{Name: "sym", Type: arrow.BinaryTypes.String},
		{Name: "last", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil))
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(dc); err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(mem, dc.Schema())
	defer rb.Release()
	rb.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "c"}, nil)
	rb.Field(1).(*array.Float64Builder).AppendValues([]float64{1, 0, 3}, []bool{true, false, true})
	rec := rb.NewRecordBatch()
	defer rec.Release()
	if _, err := ds.Append(map[string]arrow.RecordBatch{"px": rec}); err != nil {
		t.Fatal(err)
	}
	last := pcs.MustField[*array.Float64](dc, "last")
	got, err := last.Get(ds)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 3 || got.Value(0) != 1 || !got.IsNull(1) || got.Value(2) != 3 {
		t.Fatalf("last = %v", got)
	}
}
