package pcs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

type payment struct {
	Amount   float64 `arrow:"amount"`
	Currency string  `arrow:"currency"`
	Valid    bool    `arrow:"valid"`
	Label    string  `arrow:"label"`
}

var (
	payments = pcs.MustComponent[payment]("payment")
	amount   = pcs.MustField[*array.Float64](payments, "amount")
	currency = pcs.MustField[*array.String](payments, "currency")
	valid    = pcs.MustField[*array.Boolean](payments, "valid")
	label    = pcs.MustField[*array.String](payments, "label")
)

// TestMap: Map1 and Map2 declare their reads and write, map row by row,
// give null for a null input without calling fn, and release everything
// (checked allocator).
func TestMap(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(payments); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, payments, []payment{{Amount: 12.5, Currency: "EUR"}, {Amount: -3, Currency: "USD"}, {Amount: 0, Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	// a null amount in row 1
	b := array.NewFloat64Builder(mem)
	b.AppendValues([]float64{12.5, 0, 0}, []bool{true, false, true})
	amounts := b.NewFloat64Array()
	b.Release()
	defer amounts.Release()
	if err := amount.Set(ds, amounts); err != nil {
		t.Fatal(err)
	}
	calls := 0
	isValid := pcs.Map1("valid", amount, valid, func(a float64) bool { calls++; return a > 0 })
	describe := pcs.Map2("label", amount, currency, label, func(a float64, c string) string { return fmt.Sprintf("%.2f %s", a, c) })
	p, err := pcs.NewPipeline("p").Components(payments).Add(isValid, describe).Build()
	if err != nil {
		t.Fatal(err)
	}
	if s := p.String(); !strings.Contains(s, "valid(reads: payment.amount | writes: payment.valid)") ||
		!strings.Contains(s, "label(reads: payment.amount, payment.currency | writes: payment.label)") {
		t.Errorf("plan:\n%s", s)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	v, _ := valid.Get(ds)
	l, _ := label.Get(ds)
	if got := fmt.Sprint(v, l); got != `[true (null) false] ["12.50 EUR" (null) "0.00 EUR"]` {
		t.Errorf("got %s", got)
	}
	if calls != 2 {
		t.Errorf("fn called %d times, want 2 (not for the null)", calls)
	}
}

// TestMapWrongOutputType: an fn whose result the output field's builder
// does not take fails at once, naming the field and the types.
func TestMapWrongOutputType(t *testing.T) {
	ds := pcs.NewDataset(memory.NewGoAllocator())
	defer ds.Release()
	if err := ds.Register(payments); err != nil {
		t.Fatal(err)
	}
	wrong := pcs.Map1("valid", amount, valid, func(a float64) int64 { return 1 })
	p, err := pcs.NewPipeline("p").Components(payments).Add(wrong).Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(context.Background(), ds)
	var se *pcs.SystemError
	if !errors.As(err, &se) || se.Attempts != 1 || !errors.Is(err, pcs.ErrFieldType) || !strings.Contains(err.Error(), "payment.valid") || !strings.Contains(err.Error(), "int64") {
		t.Fatalf("err = %v", err)
	}
}

// ExampleMap1 is the rule `valid = amount > 0` as a system.
func ExampleMap1() {
	type Payment struct {
		Amount float64 `arrow:"amount"`
		Valid  bool    `arrow:"valid"`
	}
	payments := pcs.MustComponent[Payment]("payment")
	amount := pcs.MustField[*array.Float64](payments, "amount")
	valid := pcs.MustField[*array.Boolean](payments, "valid")

	rule := pcs.Map1("valid", amount, valid, func(a float64) bool { return a > 0 })

	p, _ := pcs.NewPipeline("payments").Components(payments).Add(rule).Build()
	ds := pcs.NewDataset(memory.DefaultAllocator)
	defer ds.Release()
	_ = ds.Register(payments)
	_, _ = pcs.AppendRows(ds, payments, []Payment{{Amount: 10}, {Amount: -2}})
	if _, err := p.Run(context.Background(), ds); err != nil {
		fmt.Println(err)
	}
	v, _ := valid.Get(ds)
	fmt.Println(v)
	// Output: [true false]
}
