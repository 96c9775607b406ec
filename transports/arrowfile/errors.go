package arrowfile

import "errors"

var (
	// ErrClosed is returned by Read, Write and Flush after Close.
	ErrClosed = errors.New("arrowfile: closed")

	// ErrInvalidOption is returned (wrapped) by NewSource and NewSink when
	// an option's value is not valid.
	ErrInvalidOption = errors.New("arrowfile: invalid option")

	// ErrNotArrow is returned (wrapped, with the path and the decoder's
	// error) by NewSource when the file is neither an Arrow IPC file nor
	// an Arrow IPC stream.
	ErrNotArrow = errors.New("arrowfile: not Arrow IPC data")
)

// Schema mismatches on Write are reported with transports.ErrSchemaMismatch.
