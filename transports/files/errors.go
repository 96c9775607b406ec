package files

import "errors"

var (
	// ErrUnknownFormat is returned (wrapped, naming the path and the
	// formats this package knows) by FormatOf and Create for a name with
	// no known extension, and by Sniff and Open for a file whose bytes
	// and name match no format.
	ErrUnknownFormat = errors.New("files: not a known format")

	// ErrUnsupported is returned (wrapped, naming the option and the
	// path) by Open and Create for an option that the file's format, or
	// the call, does not support: WithPartitionBy, WithRollRows and
	// WithRollBytes on a format other than Parquet, a Create option given
	// to Open or an Open option given to Create.
	ErrUnsupported = errors.New("files: option not supported")

	// ErrInvalidOption is returned (wrapped) by Open and Create when an
	// option's value is out of range (a format package's own
	// ErrInvalidOption may be returned too, for values it checks).
	ErrInvalidOption = errors.New("files: invalid option")

	// ErrUnknownColumn is returned (wrapped, naming the column, the file
	// and the file's columns) by Open when WithColumns names a column the
	// file does not have.
	ErrUnknownColumn = errors.New("files: unknown column")
)
