// Command etl_parallel runs the etl example's pipeline over a large,
// deterministically generated set of transactions (1,000,000 rows by
// default) and spreads the enrich system's work over zero-copy row slices
// with pcs.ParallelRows. The component, resources and the validate and
// report systems live in package txn, shared with the etl example.
//
//	go run ./examples/etl_parallel -rows 1000000 -workers 0
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/examples/internal/txn"
	"github.com/pcs-dev/pcs/pcs"
)

// generate returns n transactions drawn from a PCG generator seeded with
// seed: the same n and seed always give the same rows. About one in twenty
// amounts is negative (a refund), a few are zero.
func generate(n int, seed uint64) []txn.Transaction {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	currencies := []string{"USD", "EUR", "GBP", "JPY"}
	txs := make([]txn.Transaction, n)
	for i := range txs {
		cur := currencies[r.IntN(len(currencies))]
		var amount float64
		if cur == "JPY" {
			amount = float64(r.IntN(200_000)) // whole yen
		} else {
			amount = float64(r.IntN(200_000)) / 100 // cents
		}
		if r.IntN(20) == 0 {
			amount = -amount
		}
		txs[i] = txn.Transaction{ID: int64(i + 1), Amount: amount, Currency: cur}
	}
	return txs
}

// enrichSystem sets usd_amount = amount * FXRates[currency], splitting the
// rows over workers with pcs.ParallelRows. Each worker reads zero-copy
// slices of the input columns and builds the output for its slice;
// ParallelRows concatenates the slices in row order. A currency without a
// rate is a permanent error, which also cancels the other workers.
func enrichSystem(opts pcs.ParallelOptions) pcs.System {
	return pcs.SystemFunc(txn.EnrichMeta(), func(ctx context.Context, ds *pcs.Dataset) error {
		in, err := txn.ReadEnrichInput(ds)
		if err != nil {
			return err
		}
		mem := ds.Allocator()
		out, err := pcs.ParallelRows(ctx, mem, ds.Len(), opts, func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
			am := pcs.SliceArray(in.Amount, r)
			defer am.Release()
			cur := pcs.SliceArray(in.Currency, r)
			defer cur.Release()
			usd, err := txn.ToUSD(ctx, mem, in.Rates, am, cur, r.Lo)
			if err != nil {
				return nil, err
			}
			return usd, nil
		})
		if err != nil {
			return err
		}
		defer out.Release()
		return txn.USDAmount.Set(ds, out.(*array.Float64))
	})
}

// newPipeline plans validate, enrich (parallel per opts) and report.
func newPipeline(opts pcs.ParallelOptions) (*pcs.Pipeline, error) {
	return txn.NewPipeline("etl_parallel", enrichSystem(opts))
}

// config is what a run processes and how.
type config struct {
	rows     int
	seed     uint64
	parallel pcs.ParallelOptions
	mem      memory.Allocator
}

// runWith generates cfg.rows transactions, runs the pipeline on them and
// prints the plan, row counts, timings and the summary.
func runWith(ctx context.Context, w io.Writer, cfg config) error {
	p, err := newPipeline(cfg.parallel)
	if err != nil {
		return err
	}
	fmt.Fprint(w, p)

	t0 := time.Now()
	txs := generate(cfg.rows, cfg.seed)
	fmt.Fprintf(w, "generated %d rows in %v\n", len(txs), time.Since(t0).Round(time.Millisecond))
	parts := pcs.SplitRows(len(txs), cfg.parallel)
	fmt.Fprintf(w, "enrich splits them into %d slice(s) of about %d rows\n", len(parts), parts[0].Len())

	t0 = time.Now()
	ds, err := txn.Load(cfg.mem, txs)
	if err != nil {
		return err
	}
	defer ds.Release()
	fmt.Fprintf(w, "loaded %d rows into the dataset in %v\n", ds.Len(), time.Since(t0).Round(time.Millisecond))
	stats, err := p.Run(ctx, ds)
	if err != nil {
		return err
	}
	var rate float64
	if stats.Duration > 0 {
		rate = float64(stats.Rows) / stats.Duration.Seconds()
	}
	fmt.Fprintf(w, "pipeline processed %d rows in %v (%.0f rows/s)\n", stats.Rows, stats.Duration.Round(time.Microsecond), rate)
	for i, st := range stats.Stages {
		fmt.Fprintf(w, "  stage %d %v: %v\n", i, st.Systems, st.Duration.Round(time.Microsecond))
	}

	s, err := pcs.GetResource[txn.Summary](ds)
	if err != nil {
		return err
	}
	txn.PrintSummary(w, s)
	return nil
}

func main() {
	rows := flag.Int("rows", 1_000_000, "number of transactions to generate")
	workers := flag.Int("workers", 0, "goroutines for enrich (0: GOMAXPROCS)")
	seed := flag.Uint64("seed", 1, "random seed of the generated data")
	flag.Parse()
	if *rows < 0 || *workers < 0 {
		fmt.Fprintln(os.Stderr, "etl_parallel: -rows and -workers must be >= 0")
		os.Exit(2)
	}
	cfg := config{
		rows:     *rows,
		seed:     *seed,
		parallel: pcs.ParallelOptions{Workers: *workers},
		mem:      memory.DefaultAllocator,
	}
	fmt.Printf("GOMAXPROCS=%d\n", runtime.GOMAXPROCS(0))
	if err := runWith(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "etl_parallel:", err)
		os.Exit(1)
	}
}
