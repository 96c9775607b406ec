// Package txn is the part of the etl and etl_parallel examples they share:
// the "transaction" component, the FX-rate and summary resources, and the
// validate, enrich and report systems of their pipeline.
//
// The pipeline has three systems. validate and enrich touch disjoint
// fields, so they run concurrently in stage 0; report reads the whole
// component, so it waits for both in stage 1. The examples differ only in
// the enrich system they plug in (see NewPipeline) and in their data and
// printing.
package txn

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// Transaction is one row of the "transaction" component, whose columns are
// id (int64), amount (float64), currency (utf8), valid (bool) and
// usd_amount (float64). ID, Amount (in units of Currency) and Currency (an
// ISO 4217 code) are input; Valid and USDAmount (in US dollars) are
// computed by the pipeline and are ignored on input.
type Transaction struct {
	ID        int64   `arrow:"id"`
	Amount    float64 `arrow:"amount"`
	Currency  string  `arrow:"currency"`
	Valid     bool    `arrow:"valid"`
	USDAmount float64 `arrow:"usd_amount"`
}

// Component is the "transaction" component, and Amount, Currency, Valid
// and USDAmount are typed handles on its amount, currency, valid and
// usd_amount columns. Each column has one element per dataset row
// (pcs.Dataset.Len, deleted rows included).
var (
	Component = pcs.MustComponent[Transaction]("transaction")
	Amount    = pcs.MustField[*array.Float64](Component, "amount")
	Currency  = pcs.MustField[*array.String](Component, "currency")
	Valid     = pcs.MustField[*array.Boolean](Component, "valid")
	USDAmount = pcs.MustField[*array.Float64](Component, "usd_amount")
)

// FXRates maps an ISO 4217 currency code to the US dollar value of one
// unit of it. It is a read-only resource: replace it, never mutate it.
type FXRates map[string]float64

// Rates returns fixed, illustrative rates for USD, EUR, GBP and JPY (US
// dollars per unit), not market data. Each call returns a new map, which
// the caller owns.
func Rates() FXRates {
	return FXRates{"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067}
}

// CurrencyTotal is the valid rows of one currency: how many there are and
// the sum of their usd_amount, in US dollars.
type CurrencyTotal struct {
	Count int
	USD   float64
}

// Summary is the resource the report system writes. Count, Valid and
// Invalid count rows (Count = Valid + Invalid); the US dollar totals count
// only valid rows.
type Summary struct {
	Count      int                      // all rows
	Valid      int                      // rows with amount > 0
	Invalid    int                      // rows with amount <= 0 (or null)
	TotalUSD   float64                  // sum of usd_amount over valid rows
	ByCurrency map[string]CurrencyTotal // valid rows per currency code
}

// Validate returns the "validate" system: it reads amount and writes
// valid = amount > 0 (false for a null amount) for every row.
func Validate() pcs.System {
	meta := pcs.Meta("validate").Read(Amount).Write(Valid)
	return pcs.SystemFunc(meta, func(ctx context.Context, ds *pcs.Dataset) error {
		amount, err := Amount.Get(ds)
		if err != nil {
			return err
		}
		b := array.NewBooleanBuilder(ds.Allocator())
		defer b.Release()
		b.Reserve(amount.Len())
		for i := range amount.Len() {
			b.UnsafeAppend(amount.IsValid(i) && amount.Value(i) > 0)
		}
		valid := b.NewBooleanArray()
		defer valid.Release()
		return Valid.Set(ds, valid)
	})
}

// EnrichMeta declares what an enrich system accesses: it reads amount,
// currency and the FXRates resource and writes usd_amount. Every enrich
// system given to NewPipeline should use it (renamed if it likes), so
// that the plan stays the same.
func EnrichMeta() pcs.SystemMeta {
	return pcs.Meta("enrich").Read(Amount, Currency, pcs.Resource[FXRates]()).Write(USDAmount)
}

// EnrichInput is what an enrich system reads. Amount and Currency are
// borrowed from the dataset (see pcs.FieldRef.Get) and have one element
// per dataset row.
type EnrichInput struct {
	Rates    FXRates
	Amount   *array.Float64
	Currency *array.String
}

// ReadEnrichInput gets the FXRates resource and the amount and currency
// columns of ds. It must run inside a system declared with EnrichMeta;
// errors are those of pcs.GetResource and pcs.FieldRef.Get.
func ReadEnrichInput(ds *pcs.Dataset) (EnrichInput, error) {
	rates, err := pcs.GetResource[FXRates](ds)
	if err != nil {
		return EnrichInput{}, err
	}
	amount, err := Amount.Get(ds)
	if err != nil {
		return EnrichInput{}, err
	}
	currency, err := Currency.Get(ds)
	if err != nil {
		return EnrichInput{}, err
	}
	return EnrichInput{Rates: rates, Amount: amount, Currency: currency}, nil
}

// cancelCheck is how many rows ToUSD converts between two looks at ctx.
const cancelCheck = 1 << 14

// ToUSD returns amount[i] * rates[currency[i]] for every i, in US dollars,
// as a new array allocated from mem that the caller releases. amount and
// currency must have the same length and are only read; lo is the dataset
// row of their first element (0 for whole columns, r.Lo for a slice r),
// used in error messages. A currency without a rate is a pcs.Permanent
// error naming the row and the currency (retrying cannot fix the input);
// ToUSD also returns ctx's error if ctx is done, checking every 16384 rows.
func ToUSD(ctx context.Context, mem memory.Allocator, rates FXRates, amount *array.Float64, currency *array.String, lo int) (*array.Float64, error) {
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.Reserve(amount.Len())
	for i := range amount.Len() {
		if i%cancelCheck == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rate, ok := rates[currency.Value(i)]
		if !ok {
			return nil, pcs.Permanent(fmt.Errorf("row %d: unknown currency %q", lo+i, currency.Value(i)))
		}
		b.UnsafeAppend(amount.Value(i) * rate)
	}
	return b.NewFloat64Array(), nil
}

// Enrich returns the sequential "enrich" system: it sets usd_amount =
// amount * FXRates[currency] for every row on the system's goroutine. An
// unknown currency fails the run with the permanent error of ToUSD.
func Enrich() pcs.System {
	return pcs.SystemFunc(EnrichMeta(), func(ctx context.Context, ds *pcs.Dataset) error {
		in, err := ReadEnrichInput(ds)
		if err != nil {
			return err
		}
		usd, err := ToUSD(ctx, ds.Allocator(), in.Rates, in.Amount, in.Currency, 0)
		if err != nil {
			return err
		}
		defer usd.Release()
		return USDAmount.Set(ds, usd)
	})
}

// Report returns the "report" system: it reads valid, currency and
// usd_amount and inserts a Summary of all dataset rows. It declares a read
// of the whole component, so it runs after every system that writes any
// of its fields.
func Report() pcs.System {
	meta := pcs.Meta("report").Read(Component).Write(pcs.Resource[Summary]())
	return pcs.SystemFunc(meta, func(ctx context.Context, ds *pcs.Dataset) error {
		valid, err := Valid.Get(ds)
		if err != nil {
			return err
		}
		currency, err := Currency.Get(ds)
		if err != nil {
			return err
		}
		usd, err := USDAmount.Get(ds)
		if err != nil {
			return err
		}
		s := Summary{Count: ds.Len(), ByCurrency: map[string]CurrencyTotal{}}
		for i := range ds.Len() {
			if !valid.Value(i) {
				s.Invalid++
				continue
			}
			s.Valid++
			s.TotalUSD += usd.Value(i)
			c := s.ByCurrency[currency.Value(i)]
			c.Count++
			c.USD += usd.Value(i)
			s.ByCurrency[currency.Value(i)] = c
		}
		return pcs.InsertResource(ds, s)
	})
}

// NewPipeline plans a pipeline called name of Validate, enrich and Report
// over Component. enrich must be declared with EnrichMeta (Enrich, or a
// parallel variant); errors are those of pcs.PipelineBuilder.Build.
func NewPipeline(name string, enrich pcs.System) (*pcs.Pipeline, error) {
	return pcs.NewPipeline(name).
		Components(Component).
		Add(Validate(), enrich, Report()).
		Build()
}

// Load returns a new dataset, allocated from mem, holding txs as the
// transaction component (len(txs) rows) and Rates as the FXRates
// resource. txs is only read. The caller releases the dataset, which is
// nil on error.
func Load(mem memory.Allocator, txs []Transaction) (*pcs.Dataset, error) {
	ds := pcs.NewDataset(mem)
	if err := ds.Register(Component); err != nil {
		ds.Release()
		return nil, err
	}
	if _, err := pcs.AppendRows(ds, Component, txs); err != nil {
		ds.Release()
		return nil, err
	}
	if err := pcs.InsertResource(ds, Rates()); err != nil {
		ds.Release()
		return nil, err
	}
	return ds, nil
}

// Process loads txs with Load and runs p on them. The caller releases the
// dataset, which is nil on error; the stats are those p.Run returned (zero
// if loading failed).
func Process(ctx context.Context, p *pcs.Pipeline, mem memory.Allocator, txs []Transaction) (*pcs.Dataset, pcs.RunStats, error) {
	ds, err := Load(mem, txs)
	if err != nil {
		return nil, pcs.RunStats{}, err
	}
	stats, err := p.Run(ctx, ds)
	if err != nil {
		ds.Release()
		return nil, stats, err
	}
	return ds, stats, nil
}

// PrintSummary writes s to w: the row counts, the US dollar total of the
// valid rows, then one line per currency in alphabetical order, amounts
// with two decimals. Write errors are ignored.
func PrintSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "transactions: %d (valid %d, invalid %d)\n", s.Count, s.Valid, s.Invalid)
	fmt.Fprintf(w, "total USD (valid rows): %.2f\n", s.TotalUSD)
	currencies := make([]string, 0, len(s.ByCurrency))
	for c := range s.ByCurrency {
		currencies = append(currencies, c)
	}
	slices.Sort(currencies)
	for _, c := range currencies {
		fmt.Fprintf(w, "  %s: %d rows, %.2f USD\n", c, s.ByCurrency[c].Count, s.ByCurrency[c].USD)
	}
}
