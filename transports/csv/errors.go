package csv

import (
	"errors"

	"github.com/pcs-dev/pcs/transports"
)

var (
	// ErrClosed is returned by Read after Source.Close, and by Write and
	// Flush after Sink.Close.
	ErrClosed = errors.New("csv: closed")

	// ErrInvalidOption is returned (wrapped) by NewSource and NewSink
	// when an option's value is out of range.
	ErrInvalidOption = errors.New("csv: invalid option")

	// ErrUnsupportedType is returned (wrapped, naming the column) by
	// NewSource for an explicit schema, and by NewSink, when a column's
	// type has no CSV representation here: only bool, integers, floats,
	// utf8, large_utf8, binary types (base64), date32, date64,
	// timestamps and decimals are read and written.
	ErrUnsupportedType = errors.New("csv: unsupported column type")

	// ErrHeader is returned (wrapped) by NewSource when the file's header
	// does not name the columns of the explicit schema (WithSchema), in
	// number or in name.
	ErrHeader = errors.New("csv: header does not match the schema")
)

// ParseError reports where the data of a file is bad (file, line,
// column, type, value); it is transports.ParseError with Format "csv".
type ParseError = transports.ParseError

// Kinds of bad data a ParseError wraps (errors.Is): the transports
// package's sentinels.
var (
	ErrBadValue   = transports.ErrBadValue
	ErrFieldCount = transports.ErrFieldCount
	ErrSyntax     = transports.ErrSyntax
	// ErrLineTooLong: a record longer than WithMaxLineBytes.
	ErrLineTooLong = transports.ErrLineTooLong
)

// Schema mismatches on Write are reported with transports.ErrSchemaMismatch.
