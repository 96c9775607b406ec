package csv

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/internal/fileopt"
)

const (
	// DefaultBatchRows is the number of rows per batch a Source yields
	// unless WithBatchRows says otherwise (64 Ki rows).
	DefaultBatchRows = 64 << 10

	// DefaultInferRows is the number of data rows a Source reads to infer
	// the column types unless WithInferRows says otherwise.
	DefaultInferRows = 10_000

	// DefaultMaxLineBytes is the longest record a Source reads unless
	// WithMaxLineBytes says otherwise (64 MiB).
	DefaultMaxLineBytes = fileopt.DefaultMaxLineBytes

	// DefaultDelimiter separates fields unless WithDelimiter says
	// otherwise.
	DefaultDelimiter = ','
)

// SourceOption configures NewSource. Options are applied in order; one
// that returns an error makes NewSource fail with it.
type SourceOption = fileopt.Source[sourceConfig]

// SinkOption configures NewSink. Options are applied in order; one that
// returns an error makes NewSink fail with it.
type SinkOption = fileopt.Sink[sinkConfig]

// Option configures both a Source and a Sink (WithDelimiter, WithHeader,
// WithAllocator).
type Option = fileopt.Both[sourceConfig, sinkConfig]

type sourceConfig struct {
	fileopt.SourceBase     // Mem, BatchRows
	fileopt.TextSourceBase // Schema, InferRows
	comma                  rune
	header                 bool
	lazyQuotes             bool
	types                  map[string]arrow.DataType
	nulls                  []string // besides ""
	parallel               int      // goroutines parsing; 1: Read parses
}

type sinkConfig struct {
	fileopt.SinkBase // Mem, Atomic
	comma            rune
	header           bool
}

func defaultSourceConfig() sourceConfig {
	return sourceConfig{
		SourceBase:     fileopt.NewSourceBase(DefaultBatchRows),
		TextSourceBase: fileopt.NewTextSourceBase(DefaultInferRows),
		comma:          DefaultDelimiter,
		header:         true,
		parallel:       1,
	}
}

func defaultSinkConfig() sinkConfig {
	return sinkConfig{SinkBase: fileopt.NewSinkBase(), comma: DefaultDelimiter, header: true}
}

// WithDelimiter sets the field delimiter (default ','; ';', '\t' and '|'
// are common). It may not be '"', '\r', '\n', the Unicode replacement
// character or an invalid rune (ErrInvalidOption).
func WithDelimiter(r rune) Option {
	check := func() error {
		if r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError || !utf8.ValidRune(r) {
			return fmt.Errorf("%w: delimiter %q", ErrInvalidOption, r)
		}
		return nil
	}
	return fileopt.BothFuncs(
		func(c *sourceConfig) error { c.comma = r; return check() },
		func(c *sinkConfig) error { c.comma = r; return check() },
	)
}

// WithHeader says whether the first record of the file is a header
// naming the columns (default true). A Source without a header names the
// columns "f0", "f1", ... (unless WithSchema names them); a Sink without
// a header writes data records only.
func WithHeader(on bool) Option {
	return fileopt.BothFuncs(
		func(c *sourceConfig) error { c.header = on; return nil },
		func(c *sinkConfig) error { c.header = on; return nil },
	)
}

// WithAllocator sets the allocator of the batches a Source builds, and
// of the columns a Sink decodes from dictionary columns (default
// memory.DefaultAllocator). nil is ErrInvalidOption.
func WithAllocator(mem memory.Allocator) Option {
	return fileopt.Allocator[sourceConfig, sinkConfig](ErrInvalidOption, mem)
}

// WithSchema gives the schema of the file and turns inference off: the
// columns are read as these types, in this order, with these names. With
// a header (WithHeader, default true), the header must name the same
// columns in the same order (ErrHeader otherwise). Every type must be
// readable (ErrUnsupportedType): bool, int8..int64, uint8..uint64,
// float16, float32, float64, utf8, large_utf8, binary, large_binary and
// fixed_size_binary (base64, as the Sink writes them), date32 and date64
// ("2006-01-02"), timestamps of any unit and zone (see the package doc
// for the accepted forms), decimal128 and decimal256.
func WithSchema(schema *arrow.Schema) SourceOption {
	return fileopt.Schema[sourceConfig](ErrInvalidOption, schema)
}

// WithColumnTypes fixes the types of the named columns and infers the
// others (the types must be readable, see WithSchema). A name the file
// does not have is ErrInvalidOption at NewSource. Ignored with
// WithSchema.
func WithColumnTypes(types map[string]arrow.DataType) SourceOption {
	types = maps.Clone(types)
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		c.types = types
		return nil
	})
}

// WithInferRows sets how many data rows the inference reads (n > 0;
// default DefaultInferRows), or -1 to read the whole file first (one
// more pass over it). A value after those rows that does not fit the
// inferred type is an error of the Read that meets it (a *ParseError
// with the line). Ignored with WithSchema.
func WithInferRows(n int) SourceOption {
	return fileopt.InferRows[sourceConfig](ErrInvalidOption, n)
}

// WithBatchRows sets the maximum number of rows per batch (n > 0;
// default DefaultBatchRows). Every batch but the last has exactly n rows.
func WithBatchRows(n int) SourceOption {
	return fileopt.BatchRows[sourceConfig](ErrInvalidOption, int64(n))
}

// WithNullValues adds cell texts that mean null (e.g. "NA", "NULL",
// "\\N"), for columns of every type, strings included. The empty cell is
// always null. Default: only the empty cell.
func WithNullValues(values ...string) SourceOption {
	values = slices.Clone(values)
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		c.nulls = values
		return nil
	})
}

// WithMaxLineBytes sets the longest record the Source reads, in bytes
// (n > 0; default DefaultMaxLineBytes): a record is a line, or several
// when a quoted field holds line breaks. A longer record fails the read
// that meets it (NewSource while inferring, or Read) with a *ParseError
// wrapping ErrLineTooLong whose Line is where the record starts; the
// Source holds about n bytes of it at most, so a hostile file cannot
// exhaust memory.
func WithMaxLineBytes(n int64) SourceOption {
	return fileopt.MaxLineBytes[sourceConfig](ErrInvalidOption, n)
}

// WithLazyQuotes makes the Source accept quotes in unquoted fields and
// non-doubled quotes in quoted fields, as encoding/csv's LazyQuotes does
// (default false: they are syntax errors).
func WithLazyQuotes(on bool) SourceOption {
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		c.lazyQuotes = on
		return nil
	})
}

// WithAtomicRename makes the Sink write to a hidden temporary file in the
// destination directory (".<name>.<random>.tmp") and rename it to path
// when Close completes it (after fsync), so that readers never see a
// partial file. A sink that fails, or is closed with a done ctx, removes
// its temporary file. Default false: the file is written in place (and
// removed on failure).
func WithAtomicRename(on bool) SinkOption { return fileopt.AtomicRename[sinkConfig](on) }

// WithParallel makes the Source parse the file on n goroutines (n >= 1;
// default 1: Read parses, on the caller's goroutine; 0 means
// runtime.GOMAXPROCS(0)). One goroutine reads the file and cuts it into
// segments of about 8 MiB at record boundaries (line breaks outside
// quoted fields, told by the parity of the quotes before them), each
// ending after a multiple of the batch rows; n goroutines parse the
// segments; Read returns their batches in file order. The batches are
// those of a serial Source, row for row, and so are the errors
// (WithMaxLineBytes included). Memory: about 2n segments of text and
// their batches are held ahead of Read. With WithLazyQuotes, a quote
// does not tell where fields end, and the Source parses serially.
// Close stops the goroutines.
func WithParallel(n int) SourceOption {
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: parallel goroutines must be >= 0, got %d", ErrInvalidOption, n)
		}
		if n == 0 {
			n = runtime.GOMAXPROCS(0)
		}
		c.parallel = n
		return nil
	})
}
