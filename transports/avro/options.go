package avro

import (
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/internal/fileopt"
)

// DefaultBatchRows is the number of rows per batch a Source yields
// unless WithBatchRows says otherwise (64 Ki rows).
const DefaultBatchRows = 64 << 10

// SourceOption configures NewSource. Options are applied in order; one
// that returns an error makes NewSource fail with it.
type SourceOption = fileopt.Source[sourceConfig]

type sourceConfig struct {
	fileopt.SourceBase // Mem, BatchRows
}

// WithAllocator sets the allocator of the batches (default
// memory.DefaultAllocator). nil is ErrInvalidOption.
func WithAllocator(mem memory.Allocator) SourceOption {
	return fileopt.SourceAllocator[sourceConfig](ErrInvalidOption, mem)
}

// WithBatchRows sets the maximum number of rows per batch (n > 0;
// default DefaultBatchRows). Every batch but the last has exactly n rows.
func WithBatchRows(n int) SourceOption {
	return fileopt.BatchRows[sourceConfig](ErrInvalidOption, int64(n))
}
