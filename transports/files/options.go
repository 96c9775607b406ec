package files

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/csv"
)

// Option configures Open or Create. Options are applied in order; one
// that returns an error makes the call fail with it. Each option says
// which call it belongs to; given to the other one, it is an error
// wrapping ErrUnsupported.
type Option func(*config) error

// use says which calls an option belongs to.
type use int

const (
	forOpen use = 1 << iota
	forCreate
)

type config struct {
	format      Format
	mem         memory.Allocator
	columns     []string
	batchRows   int64
	parallel    bool
	schema      *arrow.Schema
	partitionBy []string
	rollRows    int64
	rollBytes   int64
	maxLine     int64

	// given names the options given, with the calls they belong to.
	given []givenOption
}

type givenOption struct {
	name string
	use  use
}

func newConfig(opts []Option) (*config, error) {
	cfg := &config{mem: memory.DefaultAllocator}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// check returns an ErrUnsupported error for the first option given that
// does not belong to call (forOpen or forCreate).
func (c *config) check(call use, path string) error {
	names := map[use]string{forOpen: "Open", forCreate: "Create"}
	for _, g := range c.given {
		if g.use&call == 0 {
			return fmt.Errorf("%w: %s: %s is an option of %s, not %s", ErrUnsupported, path, g.name, names[g.use], names[call])
		}
	}
	return nil
}

func (c *config) note(name string, u use) { c.given = append(c.given, givenOption{name, u}) }

// WithFormat makes Open and Create use format f instead of detecting it
// (Sniff) or taking it from the extension (FormatOf). An unknown Format
// is ErrInvalidOption.
func WithFormat(f Format) Option {
	return func(c *config) error {
		if f < Parquet || f > Avro {
			return fmt.Errorf("%w: unknown format %v", ErrInvalidOption, f)
		}
		c.format = f
		c.note("WithFormat", forOpen|forCreate)
		return nil
	}
}

// WithAllocator sets the allocator of the batches a source builds and of
// the buffers a sink encodes with (default memory.DefaultAllocator).
// Open and Create; nil is ErrInvalidOption.
func WithAllocator(mem memory.Allocator) Option {
	return func(c *config) error {
		if mem == nil {
			return fmt.Errorf("%w: nil allocator", ErrInvalidOption)
		}
		c.mem = mem
		c.note("WithAllocator", forOpen|forCreate)
		return nil
	}
}

// WithColumns makes Open return only the named top-level columns, in
// that order. Parquet reads only those columns from disk; the other
// formats read every column and drop the rest (no copy). A name the file
// does not have is an error wrapping ErrUnknownColumn; an empty list or
// a name given twice is ErrInvalidOption. Open only.
func WithColumns(names ...string) Option {
	names = slices.Clone(names)
	return func(c *config) error {
		if len(names) == 0 {
			return fmt.Errorf("%w: WithColumns needs at least one column", ErrInvalidOption)
		}
		for i, n := range names {
			if slices.Contains(names[:i], n) {
				return fmt.Errorf("%w: column %q listed twice in WithColumns", ErrInvalidOption, n)
			}
		}
		c.columns = names
		c.note("WithColumns", forOpen)
		return nil
	}
}

// WithBatchRows sets the most rows of a batch Open's source returns
// (n > 0). Parquet, CSV and JSONL decode batches of n rows (every one
// but the last full; defaults: their packages' DefaultBatchRows, 64 Ki
// rows); Arrow IPC batches come as they were written, and those longer
// than n are sliced (no copy: a slice shares its batch's buffers, so
// util.TotalRecordSize counts the whole batch for each slice). Open only.
func WithBatchRows(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: batch rows must be > 0, got %d", ErrInvalidOption, n)
		}
		c.batchRows = n
		c.note("WithBatchRows", forOpen)
		return nil
	}
}

// WithSchema makes Open return exactly the columns of schema, in its
// order: the schema a caller declared (a component's fields). CSV and
// JSONL parse each declared column as its declared type instead of
// inferring one (so that a string stays a string; a date or timestamp
// reads every form inference reads), and a declared column the file
// lacks reads as nulls. A dictionary column of a CSV or JSONL file
// reads as its value type and a duration as int64 (the text they hold),
// present or missing: converting them is the caller's business. Parquet and Arrow files keep their own
// types (converting them is the caller's business), Parquet reads only
// those columns, and a declared column the file lacks is an error
// wrapping ErrUnknownColumn that names it, the file and the file's
// columns. With WithColumns too, or a nil schema, Open fails with
// ErrInvalidOption. Open only.
func WithSchema(schema *arrow.Schema) Option {
	return func(c *config) error {
		if schema == nil {
			return fmt.Errorf("%w: nil schema", ErrInvalidOption)
		}
		c.schema = schema
		c.note("WithSchema", forOpen)
		return nil
	}
}

// DefaultMaxLineBytes is the longest line (for CSV, record) a CSV or
// JSON Lines source reads unless WithMaxLineBytes says otherwise.
const DefaultMaxLineBytes = csv.DefaultMaxLineBytes

// WithMaxLineBytes sets the longest line (for CSV, record) a CSV or
// JSON Lines source reads (n > 0; default DefaultMaxLineBytes, 64 MiB): a longer one fails the read with a
// *transports.ParseError wrapping transports.ErrLineTooLong that names
// the file and the line, having held about n bytes of it in memory at
// most. Other formats ignore it (their readers bound their own
// messages). Open only.
func WithMaxLineBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: max line bytes must be > 0, got %d", ErrInvalidOption, n)
		}
		c.maxLine = n
		c.note("WithMaxLineBytes", forOpen)
		return nil
	}
}

// WithParallel makes a Parquet source decode the columns of each batch
// concurrently, one goroutine per column (parquet.WithParallel), and a
// CSV source parse segments of the file on GOMAXPROCS goroutines
// (csv.WithParallel). Other formats ignore it: it changes speed, not
// results. Open only.
func WithParallel(on bool) Option {
	return func(c *config) error {
		c.parallel = on
		c.note("WithParallel", forOpen)
		return nil
	}
}

// WithPartitionBy makes a Parquet sink write Hive-style partition
// directories "<col>=<value>/" under path's directory, numbered files
// named after path's base name in each (parquet.WithPartitionBy; the
// partition columns are not stored in the files). Create only, Parquet
// only (ErrUnsupported otherwise).
func WithPartitionBy(cols ...string) Option {
	cols = slices.Clone(cols)
	return func(c *config) error {
		c.partitionBy = cols
		c.note("WithPartitionBy", forCreate)
		return nil
	}
}

// WithRollRows makes a Parquet sink start a new numbered file after n
// rows (n > 0; parquet.WithRollRows). Create only, Parquet only
// (ErrUnsupported otherwise).
func WithRollRows(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: roll rows must be > 0, got %d", ErrInvalidOption, n)
		}
		c.rollRows = n
		c.note("WithRollRows", forCreate)
		return nil
	}
}

// WithRollBytes makes a Parquet sink start a new numbered file when the
// current one reaches about n bytes (n > 0; parquet.WithRollBytes).
// Create only, Parquet only (ErrUnsupported otherwise).
func WithRollBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: roll bytes must be > 0, got %d", ErrInvalidOption, n)
		}
		c.rollBytes = n
		c.note("WithRollBytes", forCreate)
		return nil
	}
}
