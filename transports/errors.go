package transports

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Kinds of bad input a text source (csv, jsonl) reports in a *ParseError.
var (
	// ErrBadValue: a value that cannot be read as its column's type.
	ErrBadValue = errors.New("transports: bad value")
	// ErrFieldCount: a record whose number of fields differs from the
	// number of columns.
	ErrFieldCount = errors.New("transports: wrong number of fields")
	// ErrSyntax: a record or line that is not valid in its format.
	ErrSyntax = errors.New("transports: syntax error")
	// ErrLineTooLong: a line (for CSV, a record, which quoted fields may
	// spread over several lines) longer than the source's limit (the
	// packages' WithMaxLineBytes). The source stops there, having held at
	// most about the limit in memory; the error's Line is where the line
	// or record starts.
	ErrLineTooLong = errors.New("transports: line too long")
)

// ParseError reports where the data of a file is bad: file, line, column
// (by name and index), type and value. Sources return it as error (use
// errors.As); it wraps Kind and Err (use errors.Is). The message reads
//
//	csv: airports.csv: line 1234: column "latitude" (index 5, float64): bad value "abc": strconv.ParseFloat: ...
type ParseError struct {
	// Format names the source's format and prefixes the message ("csv").
	Format string
	// Path is the file's name as given to the source.
	Path string
	// Line is the 1-based line of the file where the bad value starts
	// (for record-level errors: where the error was detected).
	Line int
	// Row is the 0-based index of the record among the data records (a
	// header not counted), or -1 when unknown.
	Row int64
	// Column is the 0-based index of the column in the schema, or -1
	// when the error is not about one value.
	Column int
	// Name is the column's name ("" when Column is -1).
	Name string
	// Type is the column's type (nil when Column is -1).
	Type arrow.DataType
	// Value is the bad value's text (ErrBadValue only).
	Value string
	// Kind is ErrBadValue, ErrFieldCount, ErrSyntax or ErrLineTooLong.
	Kind error
	// Err is the underlying error (a strconv, time or decoder error),
	// possibly nil.
	Err error
}

// Error formats the error as described on ParseError.
func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: line %d", e.Format, e.Path, e.Line)
	if e.Column >= 0 {
		fmt.Fprintf(&b, ": column %q (index %d, %s)", e.Name, e.Column, e.Type)
	}
	switch {
	case e.Kind == ErrBadValue:
		fmt.Fprintf(&b, ": bad value %q", e.Value)
	case e.Kind != nil:
		fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Kind.Error(), "transports: "))
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
