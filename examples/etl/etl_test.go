package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/examples/internal/txn"
	"github.com/pcs-dev/pcs/pcs"
)

func TestPlan(t *testing.T) {
	p, err := newPipeline()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"validate", "enrich"}, {"report"}}
	if got := p.Stages(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Stages() = %v, want %v", got, want)
	}
}

// expected computes the summary of txs with a plain loop, independently of
// the pipeline.
func expected(txs []txn.Transaction, rates txn.FXRates) txn.Summary {
	s := txn.Summary{ByCurrency: map[string]txn.CurrencyTotal{}}
	for _, t := range txs {
		s.Count++
		if t.Amount <= 0 {
			s.Invalid++
			continue
		}
		s.Valid++
		usd := t.Amount * rates[t.Currency]
		s.TotalUSD += usd
		c := s.ByCurrency[t.Currency]
		c.Count++
		c.USD += usd
		s.ByCurrency[t.Currency] = c
	}
	return s
}

func TestRunOutput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	var buf bytes.Buffer
	if err := runWith(context.Background(), &buf, mem, transactions()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log("\n" + out)

	want := expected(transactions(), txn.Rates())
	if want.Invalid == 0 || len(want.ByCurrency) < 4 {
		t.Fatalf("test data should mix currencies and invalid rows: %+v", want)
	}
	lines := []string{
		"pipeline etl: 3 systems in 2 stages",
		"  stage 0   validate(reads: transaction.amount | writes: transaction.valid)",
		"            enrich(reads: transaction.amount, transaction.currency, resource txn.FXRates | writes: transaction.usd_amount)",
		"  stage 1   report(reads: transaction.* | writes: resource txn.Summary)",
		"ran 3 systems in 2 stages, 0 retries",
		fmt.Sprintf("transactions: %d (valid %d, invalid %d)", want.Count, want.Valid, want.Invalid),
		fmt.Sprintf("total USD (valid rows): %.2f", want.TotalUSD),
	}
	for _, c := range []string{"EUR", "GBP", "JPY", "USD"} {
		ct := want.ByCurrency[c]
		lines = append(lines, fmt.Sprintf("  %s: %d rows, %.2f USD", c, ct.Count, ct.USD))
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !slices.Equal(got, lines) {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(lines, "\n"))
	}
}

// TestRun checks that main's entry point prints what runWith prints for the
// example's data.
func TestRun(t *testing.T) {
	var got, want bytes.Buffer
	if err := run(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if err := runWith(context.Background(), &want, mem, transactions()); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("run printed:\n%s\nrunWith printed:\n%s", got.String(), want.String())
	}
}

func TestProcessRowsAndSummary(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	p, err := newPipeline()
	if err != nil {
		t.Fatal(err)
	}
	in := transactions()
	ds, stats, err := txn.Process(context.Background(), p, mem, in)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Release()
	if stats.SystemsRun != 3 || stats.Retries != 0 {
		t.Errorf("stats = %+v, want 3 systems run and no retry", stats)
	}

	batch, err := ds.Batch(txn.Component.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Release()
	rows, err := txn.Component.Rows(batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(in) {
		t.Fatalf("%d rows, want %d", len(rows), len(in))
	}
	rates := txn.Rates()
	for i, r := range rows {
		want := in[i]
		want.Valid = in[i].Amount > 0
		want.USDAmount = in[i].Amount * rates[in[i].Currency]
		if r != want {
			t.Errorf("row %d = %+v, want %+v", i, r, want)
		}
	}

	got, err := pcs.GetResource[txn.Summary](ds)
	if err != nil {
		t.Fatal(err)
	}
	if want := expected(in, rates); !reflect.DeepEqual(got, want) {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
}

func TestUnknownCurrencyIsPermanent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	in := transactions()
	in[7].Currency = "CHF"
	var buf bytes.Buffer
	err := runWith(context.Background(), &buf, mem, in)
	if err == nil {
		t.Fatal("runWith succeeded with an unknown currency")
	}
	var se *pcs.SystemError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *pcs.SystemError", err, err)
	}
	if se.System != "enrich" || se.Stage != 0 || se.Attempts != 1 {
		t.Errorf("SystemError = {System: %q, Stage: %d, Attempts: %d}, want enrich, stage 0, 1 attempt (no retry)", se.System, se.Stage, se.Attempts)
	}
	if !pcs.IsPermanent(err) {
		t.Errorf("error %v is not permanent", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `row 7: unknown currency "CHF"`) {
		t.Errorf("error %q does not name row 7 and currency CHF", msg)
	}
}
