package jsonl

import (
	"errors"

	"github.com/pcs-dev/pcs/transports"
)

var (
	// ErrClosed is returned by Read after Source.Close, and by Write and
	// Flush after Sink.Close.
	ErrClosed = errors.New("jsonl: closed")

	// ErrInvalidOption is returned (wrapped) by NewSource and NewSink
	// when an option's value is out of range.
	ErrInvalidOption = errors.New("jsonl: invalid option")

	// ErrUnsupportedType is returned (wrapped, naming the column) by
	// NewSource for an explicit schema, and by NewSink, when a column's
	// type has no JSON representation here (maps, unions,
	// views, intervals, run-end encoded and extension types).
	ErrUnsupportedType = errors.New("jsonl: unsupported column type")
)

// ParseError reports where the data of a file is bad (file, line,
// column, type, value); it is transports.ParseError with Format "jsonl".
type ParseError = transports.ParseError

// Kinds of bad data a ParseError wraps (errors.Is): the transports
// package's sentinels.
var (
	ErrBadValue = transports.ErrBadValue
	ErrSyntax   = transports.ErrSyntax
	// ErrLineTooLong: a line longer than WithMaxLineBytes.
	ErrLineTooLong = transports.ErrLineTooLong
)

// Schema mismatches on Write are reported with transports.ErrSchemaMismatch.
