package expr

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one of these, so
// callers test with errors.Is; errors found in the source text are also an
// [*Error] carrying the position (errors.As).
var (
	// ErrSyntax: the source text is not a valid expression (Parse, Compile).
	ErrSyntax = errors.New("expr: syntax error")
	// ErrUnknownColumn: an identifier that names no column of the schema
	// (Compile), or that the batch given to Eval lacks (Eval).
	ErrUnknownColumn = errors.New("expr: unknown column")
	// ErrType: a type mismatch found by Compile (string + int, and/or on
	// non-booleans, a wrong argument count, an unknown function or cast
	// type, a non-constant pattern), or Filter/Mask on an expression that
	// is not boolean.
	ErrType = errors.New("expr: type error")
	// ErrSchema: the batch given to Eval has a referenced column with a
	// different type than the schema the expression was compiled against.
	ErrSchema = errors.New("expr: schema mismatch")
	// ErrEval: evaluation failed on the data (a string that does not parse
	// in a cast, a uint64 too large for int64 arithmetic). Constant parts
	// of an expression are evaluated by Compile, so their failures are
	// reported there, with a position.
	ErrEval = errors.New("expr: evaluation failed")
)

// Pos is a position in the source text. Offset counts bytes from 0; Line
// and Col count from 1, Col in characters (runes).
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// String formats the position as "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is an error located in the source text: a syntax error, an unknown
// column or a type error. Its message reads
// "expr: <line>:<col>: <msg>"; Unwrap returns the sentinel (ErrSyntax,
// ErrUnknownColumn, ErrType, ErrEval).
type Error struct {
	Pos  Pos
	Msg  string
	Kind error
}

func (e *Error) Error() string { return fmt.Sprintf("expr: %s: %s", e.Pos, e.Msg) }
func (e *Error) Unwrap() error { return e.Kind }

func errAt(kind error, p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Kind: kind}
}
