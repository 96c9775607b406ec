package csv

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// recordLimit sits between a CSV file and encoding/csv (or arrow-go's
// reader, which uses it) and fails the read when a record grows past
// max bytes. encoding/csv accumulates a whole record before parsing it,
// whatever its length; cutting its input short is the only way to bound
// what it holds. Records are followed as encoding/csv splits them: a
// line break ends a record unless it is inside a quoted field.
//
// After the failure every Read returns the same *ParseError.
type recordLimit struct {
	r     io.Reader
	path  string
	max   int64
	comma []byte // the delimiter's UTF-8 bytes
	lazy  bool

	st    scanState
	pend  int   // bytes of a multi-byte delimiter matched so far
	n     int64 // bytes of the current record so far
	line  int   // the line being scanned (1-based)
	start int   // the line where the current record starts
	err   error
}

type scanState uint8

const (
	fieldStart scanState = iota
	unquoted
	quoted
	quoteInQuoted // a '"' inside a quoted field: its end, or the first of ""
)

// newRecordLimit returns the limit of s's config over r, which starts at
// line firstLine of the file, between records.
func (s *Source) newRecordLimit(r io.Reader, firstLine int) *recordLimit {
	return &recordLimit{
		r: r, path: s.path, max: s.cfg.MaxLineBytes, lazy: s.cfg.lazyQuotes,
		comma: utf8.AppendRune(nil, s.cfg.comma), line: firstLine, start: firstLine,
	}
}

// Read reads from the file and scans what it read; a record longer than
// max ends the data there with the error.
func (l *recordLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, b := range p[:n] {
		l.scan(b)
		if l.n > l.max {
			l.err = &ParseError{Format: "csv", Path: l.path, Line: l.start, Row: -1, Column: -1, Kind: ErrLineTooLong,
				Err: fmt.Errorf("the record starting here is longer than %d bytes (the limit: csv.WithMaxLineBytes, --max-line-bytes)", l.max)}
			return i, l.err
		}
	}
	return n, err
}

// scan takes one byte of the file into account.
func (l *recordLimit) scan(b byte) {
	l.n++
	if b == '\n' {
		l.line++
	}
	if len(l.comma) > 1 {
		switch {
		case l.pend > 0 && b == l.comma[l.pend]:
			l.pend++
			if l.pend == len(l.comma) {
				l.pend = 0
				l.delimiter()
			}
			return
		case l.pend > 0: // another rune than the delimiter
			l.pend = 0
			l.other()
		}
		if b == l.comma[0] {
			l.pend = 1
			return
		}
	} else if b == l.comma[0] {
		l.delimiter()
		return
	}
	switch b {
	case '\n':
		if l.st == quoted {
			return // a line break inside a quoted field
		}
		l.st, l.n, l.start = fieldStart, 0, l.line
	case '"':
		switch l.st {
		case fieldStart:
			l.st = quoted
		case quoted:
			l.st = quoteInQuoted
		case quoteInQuoted:
			l.st = quoted // "" inside a quoted field
		}
	default:
		l.other()
	}
}

// delimiter takes a field delimiter into account.
func (l *recordLimit) delimiter() {
	switch l.st {
	case fieldStart, unquoted, quoteInQuoted:
		l.st = fieldStart
	}
}

// other takes a byte (or rune) into account that is neither a delimiter,
// a quote nor a line break.
func (l *recordLimit) other() {
	switch l.st {
	case fieldStart:
		l.st = unquoted
	case quoteInQuoted:
		// Text after a closing quote: encoding/csv fails, or with lazy
		// quotes keeps the quote and stays in the quoted field.
		if l.lazy {
			l.st = quoted
		} else {
			l.st = unquoted
		}
	}
}
