package parquet

import "errors"

var (
	// ErrClosed is returned by Read, Write and Flush after Close.
	ErrClosed = errors.New("parquet: closed")

	// ErrUnknownColumn is returned (wrapped, with the column and the file
	// named) by NewSource when WithColumns names a column the file does
	// not have.
	ErrUnknownColumn = errors.New("parquet: unknown column")

	// ErrInvalidOption is returned (wrapped) by NewSource and NewSink when
	// an option's value is out of range or options contradict each other.
	ErrInvalidOption = errors.New("parquet: invalid option")
)

// Schema mismatches on Write are reported with transports.ErrSchemaMismatch.
