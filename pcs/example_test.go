package pcs_test

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// Order is a component: one Arrow column per tagged field.
type Order struct {
	ID    int64   `arrow:"id"`
	Qty   int64   `arrow:"qty"`
	Price float64 `arrow:"price"`
	Total float64 `arrow:"total"`
	Big   bool    `arrow:"big"`
}

// Example builds a two-stage pipeline: "total" and "flag" have disjoint
// writes and share stage 0; "sum" reads the whole component and follows.
func Example() {
	orders := pcs.MustComponent[Order]("order")
	qty := pcs.MustField[*array.Int64](orders, "qty")
	price := pcs.MustField[*array.Float64](orders, "price")
	total := pcs.MustField[*array.Float64](orders, "total")
	big := pcs.MustField[*array.Boolean](orders, "big")
	type Revenue float64

	totals := pcs.SystemFunc(pcs.Meta("total").Read(qty, price).Write(total), func(ctx context.Context, ds *pcs.Dataset) error {
		q, err := qty.Get(ds)
		if err != nil {
			return err
		}
		p, err := price.Get(ds)
		if err != nil {
			return err
		}
		b := array.NewFloat64Builder(ds.Allocator())
		defer b.Release()
		for i := 0; i < q.Len(); i++ {
			b.Append(float64(q.Value(i)) * p.Value(i))
		}
		out := b.NewFloat64Array()
		defer out.Release()
		return total.Set(ds, out)
	})
	flag := pcs.SystemFunc(pcs.Meta("flag").Read(qty).Write(big), func(ctx context.Context, ds *pcs.Dataset) error {
		q, err := qty.Get(ds)
		if err != nil {
			return err
		}
		b := array.NewBooleanBuilder(ds.Allocator())
		defer b.Release()
		for i := 0; i < q.Len(); i++ {
			b.Append(q.Value(i) >= 10)
		}
		out := b.NewBooleanArray()
		defer out.Release()
		return big.Set(ds, out)
	})
	sum := pcs.SystemFunc(pcs.Meta("sum").Read(orders).Write(pcs.Resource[Revenue]()), func(ctx context.Context, ds *pcs.Dataset) error {
		t, err := total.Get(ds)
		if err != nil {
			return err
		}
		var r Revenue
		for _, v := range t.Float64Values() {
			r += Revenue(v)
		}
		return pcs.InsertResource(ds, r)
	})

	p, err := pcs.NewPipeline("orders").Components(orders).Add(totals, flag, sum).Build()
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Stages())

	ds := pcs.NewDataset(memory.DefaultAllocator)
	defer ds.Release()
	if err := ds.Register(orders); err != nil {
		panic(err)
	}
	if _, err := pcs.AppendRows(ds, orders, []Order{{ID: 1, Qty: 2, Price: 2.5}, {ID: 2, Qty: 10, Price: 1}}); err != nil {
		panic(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		panic(err)
	}
	rows, _ := ds.Batch("order")
	defer rows.Release()
	out, _ := orders.Rows(rows)
	rev, _ := pcs.GetResource[Revenue](ds)
	fmt.Printf("%+v\n%+v\nrevenue %.1f\n", out[0], out[1], rev)
	// Output:
	// [[total flag] [sum]]
	// {ID:1 Qty:2 Price:2.5 Total:5 Big:false}
	// {ID:2 Qty:10 Price:1 Total:10 Big:true}
	// revenue 15.0
}

// ExampleParallelRows doubles a column on several goroutines, each working
// on a zero-copy slice, and gets the parts back in row order.
func ExampleParallelRows() {
	mem := memory.DefaultAllocator
	b := array.NewFloat64Builder(mem)
	for i := 0; i < 100_000; i++ {
		b.Append(float64(i))
	}
	in := b.NewFloat64Array()
	b.Release()
	defer in.Release()

	out, err := pcs.ParallelRows(context.Background(), mem, in.Len(), pcs.ParallelOptions{Workers: 4},
		func(ctx context.Context, r pcs.RowRange) (*array.Float64, error) {
			part := pcs.SliceArray(in, r)
			defer part.Release()
			ob := array.NewFloat64Builder(mem)
			defer ob.Release()
			for _, v := range part.Float64Values() {
				ob.Append(2 * v)
			}
			return ob.NewFloat64Array(), nil
		})
	if err != nil {
		panic(err)
	}
	defer out.Release()
	fmt.Println(out.Len(), out.Value(0), out.Value(50_000), out.Value(99_999))
	// Output: 100000 0 100000 199998
}
