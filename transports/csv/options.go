package csv

import (
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	// DefaultBatchRows is the number of rows per batch a Source yields
	// unless WithBatchRows says otherwise (64 Ki rows).
	DefaultBatchRows = 64 << 10

	// DefaultInferRows is the number of data rows a Source reads to infer
	// the column types unless WithInferRows says otherwise.
	DefaultInferRows = 10_000

	// DefaultDelimiter separates fields unless WithDelimiter says
	// otherwise.
	DefaultDelimiter = ','
)

// SourceOption configures NewSource. Options are applied in order; one
// that returns an error makes NewSource fail with it.
type SourceOption interface {
	applySource(*sourceConfig) error
}

// SinkOption configures NewSink. Options are applied in order; one that
// returns an error makes NewSink fail with it.
type SinkOption interface {
	applySink(*sinkConfig) error
}

// Option configures both a Source and a Sink (WithDelimiter, WithHeader).
type Option interface {
	SourceOption
	SinkOption
}

type sourceOptionFunc func(*sourceConfig) error

func (f sourceOptionFunc) applySource(c *sourceConfig) error { return f(c) }

type sinkOptionFunc func(*sinkConfig) error

func (f sinkOptionFunc) applySink(c *sinkConfig) error { return f(c) }

type sourceConfig struct {
	mem        memory.Allocator
	comma      rune
	header     bool
	lazyQuotes bool
	schema     *arrow.Schema // explicit: no inference
	types      map[string]arrow.DataType
	inferRows  int
	batchRows  int
	nulls      []string // besides ""
}

type sinkConfig struct {
	comma  rune
	header bool
	atomic bool
}

func defaultSourceConfig() sourceConfig {
	return sourceConfig{
		mem:       memory.DefaultAllocator,
		comma:     DefaultDelimiter,
		header:    true,
		inferRows: DefaultInferRows,
		batchRows: DefaultBatchRows,
	}
}

func defaultSinkConfig() sinkConfig {
	return sinkConfig{comma: DefaultDelimiter, header: true}
}

type bothOption struct {
	src  func(*sourceConfig) error
	sink func(*sinkConfig) error
}

func (o bothOption) applySource(c *sourceConfig) error { return o.src(c) }
func (o bothOption) applySink(c *sinkConfig) error     { return o.sink(c) }

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
	return bothOption{
		src:  func(c *sourceConfig) error { c.comma = r; return check() },
		sink: func(c *sinkConfig) error { c.comma = r; return check() },
	}
}

// WithHeader says whether the first record of the file is a header
// naming the columns (default true). A Source without a header names the
// columns "f0", "f1", ... (unless WithSchema names them); a Sink without
// a header writes data records only.
func WithHeader(on bool) Option {
	return bothOption{
		src:  func(c *sourceConfig) error { c.header = on; return nil },
		sink: func(c *sinkConfig) error { c.header = on; return nil },
	}
}

// WithAllocator sets the allocator of the batches a Source builds
// (default memory.DefaultAllocator).
func WithAllocator(mem memory.Allocator) SourceOption {
	return sourceOptionFunc(func(c *sourceConfig) error {
		if mem == nil {
			return fmt.Errorf("%w: nil allocator", ErrInvalidOption)
		}
		c.mem = mem
		return nil
	})
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
	return sourceOptionFunc(func(c *sourceConfig) error {
		if schema == nil {
			return fmt.Errorf("%w: nil schema", ErrInvalidOption)
		}
		c.schema = schema
		return nil
	})
}

// WithColumnTypes fixes the types of the named columns and infers the
// others (the types must be readable, see WithSchema). A name the file
// does not have is ErrInvalidOption at NewSource. Ignored with
// WithSchema.
func WithColumnTypes(types map[string]arrow.DataType) SourceOption {
	types = maps.Clone(types)
	return sourceOptionFunc(func(c *sourceConfig) error {
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
	return sourceOptionFunc(func(c *sourceConfig) error {
		if n <= 0 && n != -1 {
			return fmt.Errorf("%w: infer rows must be > 0 or -1, got %d", ErrInvalidOption, n)
		}
		c.inferRows = n
		return nil
	})
}

// WithBatchRows sets the maximum number of rows per batch (n > 0;
// default DefaultBatchRows). Every batch but the last has exactly n rows.
func WithBatchRows(n int) SourceOption {
	return sourceOptionFunc(func(c *sourceConfig) error {
		if n <= 0 {
			return fmt.Errorf("%w: batch rows must be > 0, got %d", ErrInvalidOption, n)
		}
		c.batchRows = n
		return nil
	})
}

// WithNullValues adds cell texts that mean null (e.g. "NA", "NULL",
// "\\N"), for columns of every type, strings included. The empty cell is
// always null. Default: only the empty cell.
func WithNullValues(values ...string) SourceOption {
	values = slices.Clone(values)
	return sourceOptionFunc(func(c *sourceConfig) error {
		c.nulls = values
		return nil
	})
}

// WithLazyQuotes makes the Source accept quotes in unquoted fields and
// non-doubled quotes in quoted fields, as encoding/csv's LazyQuotes does
// (default false: they are syntax errors).
func WithLazyQuotes(on bool) SourceOption {
	return sourceOptionFunc(func(c *sourceConfig) error {
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
func WithAtomicRename(on bool) SinkOption {
	return sinkOptionFunc(func(c *sinkConfig) error {
		c.atomic = on
		return nil
	})
}
