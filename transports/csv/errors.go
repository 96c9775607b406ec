package csv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
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

	// ErrBadValue is wrapped by the *ParseError of a cell that cannot be
	// read as its column's type.
	ErrBadValue = errors.New("csv: bad value")

	// ErrFieldCount is wrapped by the *ParseError of a record whose number
	// of fields differs from the number of columns.
	ErrFieldCount = errors.New("csv: wrong number of fields")

	// ErrSyntax is wrapped by the *ParseError of a record that is not
	// valid CSV (a stray quote, an unterminated quoted field); the
	// encoding/csv error is wrapped too.
	ErrSyntax = errors.New("csv: syntax error")
)

// ParseError reports where the data of a file is bad. Source.Read and
// NewSource return it (as error; use errors.As), and it wraps ErrBadValue,
// ErrFieldCount or ErrSyntax (use errors.Is) and the underlying error.
//
// The message names the file, the line, the column by name and by index,
// the type and the value, e.g.:
//
//	csv: airports.csv: line 1234: column "latitude" (index 5, float64): bad value "abc": strconv.ParseFloat: parsing "abc": invalid syntax
type ParseError struct {
	// Path is the file's name as given to NewSource.
	Path string
	// Line is the 1-based line of the file where the bad field starts
	// (for ErrFieldCount and ErrSyntax: where the error was detected).
	// Lines count every newline, including those inside quoted fields.
	Line int
	// Row is the 0-based index of the record among the data records (the
	// header is not counted), or -1 when unknown (syntax errors).
	Row int64
	// Column is the 0-based index of the column in the schema, or -1
	// when the error is not about one cell (ErrFieldCount, ErrSyntax).
	Column int
	// Name is the column's name ("" when Column is -1).
	Name string
	// Type is the column's type (nil when Column is -1).
	Type arrow.DataType
	// Value is the bad cell's text (ErrBadValue only).
	Value string
	// Kind is ErrBadValue, ErrFieldCount or ErrSyntax.
	Kind error
	// Err is the underlying error (a strconv or time parse error, an
	// encoding/csv *csv.ParseError, ...), possibly nil.
	Err error
}

// Error formats the error as described on ParseError.
func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "csv: %s: line %d", e.Path, e.Line)
	if e.Column >= 0 {
		fmt.Fprintf(&b, ": column %q (index %d, %s)", e.Name, e.Column, e.Type)
	}
	switch {
	case e.Kind == ErrBadValue:
		fmt.Fprintf(&b, ": bad value %q", e.Value)
	case e.Kind != nil:
		fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Kind.Error(), "csv: "))
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
