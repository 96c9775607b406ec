package jsonl

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/internal/fileopt"
)

const (
	// DefaultBatchRows is the number of rows per batch a Source yields
	// unless WithBatchRows says otherwise (64 Ki rows).
	DefaultBatchRows = 64 << 10

	// DefaultInferRows is the number of lines a Source reads to infer the
	// schema unless WithInferRows says otherwise.
	DefaultInferRows = 10_000

	// DefaultMaxLineBytes is the longest line a Source reads unless
	// WithMaxLineBytes says otherwise (64 MiB).
	DefaultMaxLineBytes = fileopt.DefaultMaxLineBytes
)

// SourceOption configures NewSource. Options are applied in order; one
// that returns an error makes NewSource fail with it.
type SourceOption = fileopt.Source[sourceConfig]

// SinkOption configures NewSink. Options are applied in order; one that
// returns an error makes NewSink fail with it.
type SinkOption = fileopt.Sink[sinkConfig]

// Option configures both a Source and a Sink (WithAllocator).
type Option = fileopt.Both[sourceConfig, sinkConfig]

type sourceConfig struct {
	fileopt.SourceBase     // Mem, BatchRows
	fileopt.TextSourceBase // Schema, InferRows
}

type sinkConfig struct {
	fileopt.SinkBase // Mem, Atomic
}

// WithAllocator sets the allocator of the batches a Source builds, and
// of the columns a Sink decodes from dictionary columns (default
// memory.DefaultAllocator). nil is ErrInvalidOption.
func WithAllocator(mem memory.Allocator) Option {
	return fileopt.Allocator[sourceConfig, sinkConfig](ErrInvalidOption, mem)
}

// WithSchema gives the schema and turns inference off. Each object's
// keys are matched to the columns by name; any Arrow type that the
// package supports may be used, nested ones included (a struct column
// reads a JSON object, a list column a JSON array). See the package doc
// for what each type accepts.
func WithSchema(schema *arrow.Schema) SourceOption {
	return fileopt.Schema[sourceConfig](ErrInvalidOption, schema)
}

// WithInferRows sets how many lines (objects) the inference reads (n >
// 0; default DefaultInferRows), or -1 to read the whole file first (one
// more pass). Ignored with WithSchema.
func WithInferRows(n int) SourceOption {
	return fileopt.InferRows[sourceConfig](ErrInvalidOption, n)
}

// WithBatchRows sets the maximum number of rows per batch (n > 0;
// default DefaultBatchRows). Every batch but the last has exactly n rows.
func WithBatchRows(n int) SourceOption {
	return fileopt.BatchRows[sourceConfig](ErrInvalidOption, int64(n))
}

// WithMaxLineBytes sets the longest line the Source reads, in bytes,
// without its line break (n > 0; default DefaultMaxLineBytes). A longer
// line fails the read that meets it (NewSource while inferring, or Read)
// with a *ParseError wrapping ErrLineTooLong and naming the line; the
// Source holds about n bytes of it at most, so a hostile file cannot
// exhaust memory.
func WithMaxLineBytes(n int64) SourceOption {
	return fileopt.MaxLineBytes[sourceConfig](ErrInvalidOption, n)
}

// WithAtomicRename makes the Sink write to a hidden temporary file in the
// destination directory (".<name>.<random>.tmp") and rename it to path
// when Close completes it (after fsync), so that readers never see a
// partial file. A sink that fails, or is closed with a done ctx, removes
// its temporary file. Default false: the file is written in place (and
// removed on failure).
func WithAtomicRename(on bool) SinkOption { return fileopt.AtomicRename[sinkConfig](on) }
