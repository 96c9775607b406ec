package jsonl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
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
	// type has no JSON representation here (maps, unions, dictionaries,
	// views, intervals, run-end encoded and extension types).
	ErrUnsupportedType = errors.New("jsonl: unsupported column type")

	// ErrBadValue is wrapped by the *ParseError of a value that cannot be
	// read as its column's type.
	ErrBadValue = errors.New("jsonl: bad value")

	// ErrSyntax is wrapped by the *ParseError of a line that is not one
	// JSON object: malformed JSON, another kind of value, a key given
	// twice, or data after the object.
	ErrSyntax = errors.New("jsonl: syntax error")
)

// ParseError reports where the data of a file is bad. Source.Read and
// NewSource return it (as error; use errors.As); it wraps ErrBadValue or
// ErrSyntax (use errors.Is) and the underlying error. The message names
// the file, the line, the column by name and index, the type and the
// value:
//
//	jsonl: events.jsonl: line 17: column "count" (index 2, int64): bad value "\"many\"": ...
type ParseError struct {
	// Path is the file's name as given to NewSource.
	Path string
	// Line is the 1-based line of the file (blank lines count).
	Line int
	// Column is the 0-based index of the column in the schema, or -1
	// when the error is not about one value (ErrSyntax).
	Column int
	// Name is the column's name (the key), "" when Column is -1.
	Name string
	// Type is the column's type (nil when Column is -1).
	Type arrow.DataType
	// Value is the bad value's JSON text, shortened to 100 bytes
	// (ErrBadValue only).
	Value string
	// Kind is ErrBadValue or ErrSyntax.
	Kind error
	// Err is the underlying error (from the JSON decoder or arrow-go's
	// builders), possibly nil.
	Err error
}

// Error formats the error as described on ParseError.
func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jsonl: %s: line %d", e.Path, e.Line)
	if e.Column >= 0 {
		fmt.Fprintf(&b, ": column %q (index %d, %s)", e.Name, e.Column, e.Type)
	}
	switch {
	case e.Kind == ErrBadValue:
		fmt.Fprintf(&b, ": bad value %q", e.Value)
	case e.Kind != nil:
		fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Kind.Error(), "jsonl: "))
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns Kind and Err, so that errors.Is matches both.
func (e *ParseError) Unwrap() []error {
	out := []error{e.Kind}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Schema mismatches on Write are reported with transports.ErrSchemaMismatch.
