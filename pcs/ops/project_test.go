package ops_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
)

// runWith builds a pipeline over comps and runs ss on ds (which has item
// appended); extra components are registered on ds first.
func runWith(t *testing.T, ds *pcs.Dataset, extra []pcs.AnyComponent, ss ...pcs.System) {
	t.Helper()
	if err := ds.Register(extra...); err != nil {
		t.Fatal(err)
	}
	p, err := pcs.NewPipeline("test").Components(append([]pcs.AnyComponent{item}, extra...)...).Add(ss...).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
}

// batchJSON renders component comp of ds as JSON rows.
func batchJSON(t *testing.T, ds *pcs.Dataset, comp string) string {
	t.Helper()
	rec, err := ds.Batch(comp)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	b, err := rec.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestProject(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	s, out, err := ops.Project("project", item, "out", []string{"name", "qty"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.Schema().String(), "schema:\n  fields: 2\n    - name: type=utf8, nullable\n    - qty: type=int64, nullable"; got != want {
		t.Errorf("schema = %q, want %q", got, want)
	}
	if got, want := s.Meta().String(), "project(reads: item.name, item.qty | writes: out.name, out.qty)"; got != want {
		t.Errorf("meta = %s, want %s", got, want)
	}
	runWith(t, ds, []pcs.AnyComponent{out}, s)
	want := `[{"name":"a","qty":1}
,{"name":"b","qty":5}
,{"name":null,"qty":null}
,{"name":"d","qty":7}
,{"name":"e","qty":3}
,{"name":"f","qty":null}
]`
	if got := batchJSON(t, ds, "out"); got != want {
		t.Errorf("out =\n%s\nwant\n%s", got, want)
	}
	// Zero copy: the projected column is the item column.
	a, _ := ds.Column("item", "qty")
	b, _ := ds.Column("out", "qty")
	if a.Data().Buffers()[1] != b.Data().Buffers()[1] {
		t.Error("project copied a column of the same type")
	}
}

func TestRename(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	s, out, err := ops.Rename("rename", item, "out", map[string]string{"qty": "quantity", "name": "title"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range out.Schema().Fields() {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, ","), "id,quantity,price,title,total,label,n32,m32"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
	if got, want := s.(interface{ String() string }).String(), "copy rename: rename(name as title, qty as quantity)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	runWith(t, ds, []pcs.AnyComponent{out}, s)
	q, _ := ds.Column("out", "quantity")
	if got, want := q.String(), "[1 5 (null) 7 3 (null)]"; got != want {
		t.Errorf("quantity = %s, want %s", got, want)
	}
	title, _ := ds.Column("out", "title")
	if got, want := title.String(), `["a" "b" (null) "d" "e" "f"]`; got != want {
		t.Errorf("title = %s, want %s", got, want)
	}
}

func TestCast(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	s, out, err := ops.Cast("cast", item, "out", map[string]arrow.DataType{
		"qty": arrow.PrimitiveTypes.Float64, "n32": arrow.PrimitiveTypes.Int64, "price": arrow.PrimitiveTypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	runWith(t, ds, []pcs.AnyComponent{out}, s)
	for field, want := range map[string]string{
		"qty":   "[1 5 (null) 7 3 (null)]",
		"n32":   "[1 (null) 3 4 5 6]",
		"price": "[2.5 (null) 4 1.5 20 (null)]",
		"name":  `["a" "b" (null) "d" "e" "f"]`,
	} {
		col, err := ds.Column("out", field)
		if err != nil {
			t.Fatal(err)
		}
		if got := col.String(); got != want {
			t.Errorf("%s = %s, want %s", field, got, want)
		}
	}
	q, _ := ds.Column("out", "qty")
	if _, ok := q.(*array.Float64); !ok {
		t.Errorf("qty is %T", q)
	}
}

func TestCastLossyIsPermanent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	s, out, err := ops.Cast("cast", item, "out", map[string]arrow.DataType{"price": arrow.PrimitiveTypes.Int64})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Register(out); err != nil {
		t.Fatal(err)
	}
	p, err := pcs.NewPipeline("test").Components(item, out).Add(s).Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(context.Background(), ds)
	if err == nil || !pcs.IsPermanent(err) || !strings.Contains(err.Error(), "item.price") {
		t.Fatalf("err = %v, want a permanent cast error naming item.price (2.5 is not an integer)", err)
	}
}

func TestProjectEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, `[]`)
	defer ds.Release()
	s, out, err := ops.Cast("cast", item, "out", map[string]arrow.DataType{"qty": arrow.PrimitiveTypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	runWith(t, ds, []pcs.AnyComponent{out}, s)
	q, _ := ds.Column("out", "qty")
	if q.Len() != 0 {
		t.Errorf("len %d", q.Len())
	}
}

func TestProjectErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func() error
		want string
		is   error
	}{
		{"project no field", func() error { _, _, err := ops.Project("p", item, "o", nil); return err }, "no field", nil},
		{"project unknown", func() error { _, _, err := ops.Project("p", item, "o", []string{"nope"}); return err }, `no field "nope"`, pcs.ErrUnknownField},
		{"project twice", func() error { _, _, err := ops.Project("p", item, "o", []string{"id", "id"}); return err }, "named twice", nil},
		{"project same name", func() error { _, _, err := ops.Project("p", item, "item", []string{"id"}); return err }, "other than", nil},
		{"rename collision", func() error {
			_, _, err := ops.Rename("r", item, "o", map[string]string{"qty": "price"})
			return err
		}, `two fields called "price"`, nil},
		{"rename unknown", func() error { _, _, err := ops.Rename("r", item, "o", map[string]string{"x": "y"}); return err }, `no field "x"`, pcs.ErrUnknownField},
		{"cast impossible", func() error {
			_, _, err := ops.Cast("c", item, "o", map[string]arrow.DataType{"qty": arrow.ListOf(arrow.PrimitiveTypes.Int64)})
			return err
		}, "cannot cast", pcs.ErrFieldType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make()
			var oe *ops.Error
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want *ops.Error containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func TestDeriveInto(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(t, mem, smallJSON)
	defer ds.Release()
	flags := pcs.NewDynamicComponent("flags", arrow.NewSchema([]arrow.Field{
		{Name: "big", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "qty2", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil))
	big := mustSys(t)(ops.DeriveInto("big", item, flags, "big", "qty > 4"))
	qty2 := mustSys(t)(ops.DeriveInto("qty2", item, flags, "qty2", "qty * 2")) // int64 cast to float64
	if got, want := big.Meta().String(), "big(reads: item.qty | writes: flags.big)"; got != want {
		t.Errorf("meta = %s, want %s", got, want)
	}
	runWith(t, ds, []pcs.AnyComponent{flags}, big, qty2)
	b, _ := ds.Column("flags", "big")
	if got, want := b.String(), "[false true (null) true false (null)]"; got != want {
		t.Errorf("big = %s, want %s", got, want)
	}
	q, _ := ds.Column("flags", "qty2")
	if got, want := q.String(), "[2 10 (null) 14 6 (null)]"; got != want {
		t.Errorf("qty2 = %s, want %s", got, want)
	}
	if _, err := ops.DeriveInto("x", item, flags, "nope", "1"); !errors.Is(err, pcs.ErrUnknownField) {
		t.Errorf("unknown target: err = %v", err)
	}
}
