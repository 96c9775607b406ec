// Command etl runs a small PCS pipeline over hand-written payment
// transactions: it flags non-positive amounts as invalid, converts every
// amount to US dollars with an FX-rate resource, and summarizes the valid
// rows into a Summary resource.
//
// validate and enrich touch disjoint fields, so the pipeline runs them
// concurrently in stage 0; report reads the whole component, so it waits
// for both in stage 1. The component, resources and systems live in
// package txn, shared with the etl_parallel example.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/examples/internal/txn"
	"github.com/pcs-dev/pcs/pcs"
)

// transactions returns the example's input rows.
func transactions() []txn.Transaction {
	return []txn.Transaction{
		{ID: 1, Amount: 120.50, Currency: "USD"},
		{ID: 2, Amount: 89.99, Currency: "EUR"},
		{ID: 3, Amount: 15000, Currency: "JPY"},
		{ID: 4, Amount: 42.00, Currency: "GBP"},
		{ID: 5, Amount: -15.00, Currency: "USD"}, // refund
		{ID: 6, Amount: 310.25, Currency: "EUR"},
		{ID: 7, Amount: 0, Currency: "GBP"}, // zero amount
		{ID: 8, Amount: 7.49, Currency: "USD"},
		{ID: 9, Amount: 2300, Currency: "JPY"},
		{ID: 10, Amount: 1999.00, Currency: "USD"},
		{ID: 11, Amount: -250.00, Currency: "EUR"}, // chargeback
		{ID: 12, Amount: 64.10, Currency: "GBP"},
		{ID: 13, Amount: 980000, Currency: "JPY"},
		{ID: 14, Amount: 12.34, Currency: "EUR"},
		{ID: 15, Amount: 0.01, Currency: "USD"},
		{ID: 16, Amount: -0.99, Currency: "JPY"}, // reversal
		{ID: 17, Amount: 455.00, Currency: "GBP"},
		{ID: 18, Amount: 73.80, Currency: "EUR"},
		{ID: 19, Amount: 5000.00, Currency: "USD"},
		{ID: 20, Amount: 18.75, Currency: "GBP"},
	}
}

// newPipeline plans validate, the sequential enrich, and report.
func newPipeline() (*pcs.Pipeline, error) {
	return txn.NewPipeline("etl", txn.Enrich())
}

// runWith prints the plan, processes txs and prints the summary.
func runWith(ctx context.Context, w io.Writer, mem memory.Allocator, txs []txn.Transaction) error {
	p, err := newPipeline()
	if err != nil {
		return err
	}
	fmt.Fprint(w, p)
	ds, stats, err := txn.Process(ctx, p, mem, txs)
	if err != nil {
		return err
	}
	defer ds.Release()
	s, err := pcs.GetResource[txn.Summary](ds)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "ran %d systems in %d stages, %d retries\n", stats.SystemsRun, len(stats.Stages), stats.Retries)
	txn.PrintSummary(w, s)
	return nil
}

// run processes the example's transactions and prints to w.
func run(ctx context.Context, w io.Writer) error {
	return runWith(ctx, w, memory.DefaultAllocator, transactions())
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "etl:", err)
		os.Exit(1)
	}
}
