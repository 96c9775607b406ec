package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/examples/internal/txn"
	"github.com/pcs-dev/pcs/pcs"
)

// testRows keeps go test -race fast while still giving every worker many
// thousand rows.
const testRows = 200_000

// sequential computes usd_amount, valid and the summary of txs with plain
// loops, independently of the pipeline.
func sequential(txs []txn.Transaction, rates txn.FXRates) (usd []float64, valid []bool, s txn.Summary) {
	usd = make([]float64, len(txs))
	valid = make([]bool, len(txs))
	s = txn.Summary{Count: len(txs), ByCurrency: map[string]txn.CurrencyTotal{}}
	for i, t := range txs {
		usd[i] = t.Amount * rates[t.Currency]
		valid[i] = t.Amount > 0
		if !valid[i] {
			s.Invalid++
			continue
		}
		s.Valid++
		s.TotalUSD += usd[i]
		c := s.ByCurrency[t.Currency]
		c.Count++
		c.USD += usd[i]
		s.ByCurrency[t.Currency] = c
	}
	return usd, valid, s
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generate(1000, 7), generate(1000, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("generate(1000, 7) differs between calls")
	}
	if reflect.DeepEqual(a, generate(1000, 8)) {
		t.Fatal("generate ignores its seed")
	}
	_, _, s := sequential(generate(testRows, 1), txn.Rates())
	if s.Invalid == 0 || len(s.ByCurrency) != 4 {
		t.Fatalf("generated data should mix currencies and invalid rows: %+v", s)
	}
}

func TestParallelMatchesSequential(t *testing.T) {
	txs := generate(testRows, 1)
	wantUSD, wantValid, wantSum := sequential(txs, txn.Rates())
	for _, opts := range []pcs.ParallelOptions{
		{},                          // the defaults main uses
		{Workers: 7, MinRows: 1000}, // uneven slices, more workers than CPUs
		{Workers: 1},                // one slice on the system's goroutine
	} {
		t.Run(fmt.Sprintf("workers=%d,minrows=%d", opts.Workers, opts.MinRows), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			if opts.Workers == 7 {
				if n := len(pcs.SplitRows(testRows, opts)); n != 7 {
					t.Fatalf("SplitRows gives %d slices, want 7", n)
				}
			}

			p, err := newPipeline(opts)
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{{"validate", "enrich"}, {"report"}}
			if got := p.Stages(); !reflect.DeepEqual(got, want) {
				t.Fatalf("Stages() = %v, want %v", got, want)
			}
			ds, stats, err := txn.Process(context.Background(), p, mem, txs)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Release()
			if stats.Rows != testRows || stats.SystemsRun != 3 {
				t.Errorf("stats = %+v, want %d rows and 3 systems run", stats, testRows)
			}

			usd, err := txn.USDAmount.Get(ds)
			if err != nil {
				t.Fatal(err)
			}
			valid, err := txn.Valid.Get(ds)
			if err != nil {
				t.Fatal(err)
			}
			if usd.Len() != testRows || valid.Len() != testRows || usd.NullN() != 0 {
				t.Fatalf("usd_amount has %d rows (%d null), valid %d rows; want %d, no null", usd.Len(), usd.NullN(), valid.Len(), testRows)
			}
			bad := 0
			for i := range testRows {
				if usd.Value(i) != wantUSD[i] || valid.Value(i) != wantValid[i] {
					if bad++; bad <= 5 {
						t.Errorf("row %d: usd_amount %v valid %v, want %v %v", i, usd.Value(i), valid.Value(i), wantUSD[i], wantValid[i])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d rows differ", bad, testRows)
			}

			got, err := pcs.GetResource[txn.Summary](ds)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantSum) {
				t.Errorf("summary = %+v, want %+v", got, wantSum)
			}
		})
	}
}

func TestRunOutput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	const rows = 50_000
	cfg := config{rows: rows, seed: 3, parallel: pcs.ParallelOptions{Workers: 4, MinRows: 10_000}, mem: mem}
	var buf bytes.Buffer
	if err := runWith(context.Background(), &buf, cfg); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log("\n" + out)

	_, _, s := sequential(generate(rows, 3), txn.Rates())
	lit := func(line string) *regexp.Regexp { return regexp.MustCompile("^" + regexp.QuoteMeta(line) + "$") }
	re := func(pattern string) *regexp.Regexp { return regexp.MustCompile("^" + pattern + "$") }
	const dur = `[0-9.]+(ns|µs|ms|s)`
	want := []*regexp.Regexp{
		lit("pipeline etl_parallel: 3 systems in 2 stages"),
		lit("  stage 0   validate(reads: transaction.amount | writes: transaction.valid)"),
		lit("            enrich(reads: transaction.amount, transaction.currency, resource txn.FXRates | writes: transaction.usd_amount)"),
		lit("  stage 1   report(reads: transaction.* | writes: resource txn.Summary)"),
		re(`generated 50000 rows in ` + dur),
		lit("enrich splits them into 4 slice(s) of about 12500 rows"),
		re(`loaded 50000 rows into the dataset in ` + dur),
		re(`pipeline processed 50000 rows in ` + dur + ` \([0-9]+ rows/s\)`),
		re(`  stage 0 \[validate enrich\]: ` + dur),
		re(`  stage 1 \[report\]: ` + dur),
		lit(fmt.Sprintf("transactions: %d (valid %d, invalid %d)", s.Count, s.Valid, s.Invalid)),
		lit(fmt.Sprintf("total USD (valid rows): %.2f", s.TotalUSD)),
	}
	for _, c := range []string{"EUR", "GBP", "JPY", "USD"} {
		want = append(want, lit(fmt.Sprintf("  %s: %d rows, %.2f USD", c, s.ByCurrency[c].Count, s.ByCurrency[c].USD)))
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d output lines, want %d", len(got), len(want))
	}
	for i, w := range want {
		if !w.MatchString(got[i]) {
			t.Errorf("line %d = %q, want match of %s", i+1, got[i], w)
		}
	}
}

func TestUnknownCurrencyStopsAllWorkers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	txs := generate(testRows, 1)
	const badRow = 123_457
	txs[badRow].Currency = "XAU"
	p, err := newPipeline(pcs.ParallelOptions{Workers: 7, MinRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := txn.Process(context.Background(), p, mem, txs)
	if err == nil {
		ds.Release()
		t.Fatal("process succeeded with an unknown currency")
	}
	var se *pcs.SystemError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *pcs.SystemError", err, err)
	}
	if se.System != "enrich" || se.Attempts != 1 || !pcs.IsPermanent(err) {
		t.Errorf("error %v: want a permanent failure of enrich after 1 attempt, got system %q, %d attempts", err, se.System, se.Attempts)
	}
	if msg := fmt.Sprintf("row %d: unknown currency %q", badRow, "XAU"); !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not contain %q", err, msg)
	}
}
