package jsonl

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	// DefaultBatchRows is the number of rows per batch a Source yields
	// unless WithBatchRows says otherwise (64 Ki rows).
	DefaultBatchRows = 64 << 10

	// DefaultInferRows is the number of lines a Source reads to infer the
	// schema unless WithInferRows says otherwise.
	DefaultInferRows = 10_000
)

// SourceOption configures NewSource. Options are applied in order; one
// that returns an error makes NewSource fail with it.
type SourceOption func(*sourceConfig) error

// SinkOption configures NewSink. Options are applied in order; one that
// returns an error makes NewSink fail with it.
type SinkOption func(*sinkConfig) error

type sourceConfig struct {
	mem       memory.Allocator
	schema    *arrow.Schema
	inferRows int
	batchRows int
}

type sinkConfig struct {
	atomic bool
}

// WithAllocator sets the allocator of the batches a Source builds
// (default memory.DefaultAllocator).
func WithAllocator(mem memory.Allocator) SourceOption {
	return func(c *sourceConfig) error {
		if mem == nil {
			return fmt.Errorf("%w: nil allocator", ErrInvalidOption)
		}
		c.mem = mem
		return nil
	}
}

// WithSchema gives the schema and turns inference off. Each object's
// keys are matched to the columns by name; any Arrow type that the
// package supports may be used, nested ones included (a struct column
// reads a JSON object, a list column a JSON array). See the package doc
// for what each type accepts.
func WithSchema(schema *arrow.Schema) SourceOption {
	return func(c *sourceConfig) error {
		if schema == nil {
			return fmt.Errorf("%w: nil schema", ErrInvalidOption)
		}
		c.schema = schema
		return nil
	}
}

// WithInferRows sets how many lines (objects) the inference reads (n >
// 0; default DefaultInferRows), or -1 to read the whole file first (one
// more pass). Ignored with WithSchema.
func WithInferRows(n int) SourceOption {
	return func(c *sourceConfig) error {
		if n <= 0 && n != -1 {
			return fmt.Errorf("%w: infer rows must be > 0 or -1, got %d", ErrInvalidOption, n)
		}
		c.inferRows = n
		return nil
	}
}

// WithBatchRows sets the maximum number of rows per batch (n > 0;
// default DefaultBatchRows). Every batch but the last has exactly n rows.
func WithBatchRows(n int) SourceOption {
	return func(c *sourceConfig) error {
		if n <= 0 {
			return fmt.Errorf("%w: batch rows must be > 0, got %d", ErrInvalidOption, n)
		}
		c.batchRows = n
		return nil
	}
}

// WithAtomicRename makes the Sink write to a hidden temporary file in the
// destination directory (".<name>.<random>.tmp") and rename it to path
// when Close completes it (after fsync), so that readers never see a
// partial file. A sink that fails, or is closed with a done ctx, removes
// its temporary file. Default false: the file is written in place (and
// removed on failure).
func WithAtomicRename(on bool) SinkOption {
	return func(c *sinkConfig) error {
		c.atomic = on
		return nil
	}
}
