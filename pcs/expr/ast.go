package expr

import (
	"strconv"
	"strings"
	"time"
)

// Node is a node of the syntax tree that [Parse] returns: *Ident,
// *Literal, *Unary, *Binary, *IsNull, *In, *Call, *Cast or *Case.
// String prints the node back as source text, fully parenthesized, that
// parses to the same tree.
type Node interface {
	// Pos is where the node starts in the source.
	Pos() Pos
	String() string
	node()
}

// Ident is a column reference: a bare identifier or a `backquoted` name.
type Ident struct {
	At   Pos
	Name string
}

// LitKind tells the type of a [Literal].
type LitKind int

// Literal kinds, with the Go type of Literal.Value.
const (
	LitNull      LitKind = iota // nil
	LitBool                     // bool
	LitInt                      // int64
	LitFloat                    // float64
	LitString                   // string
	LitTimestamp                // time.Time, UTC
	LitDate                     // time.Time, UTC midnight
	LitDuration                 // time.Duration
)

// Literal is a constant: 42, 1.5, 'text', true, null,
// timestamp '2001-01-01T00:00:00Z', date '2001-01-01', duration '15m'.
type Literal struct {
	At    Pos
	Kind  LitKind
	Value any
}

// Unary is a prefix operator: Op is "-" or "not".
type Unary struct {
	At Pos
	Op string
	X  Node
}

// Binary is an infix operator. Op is one of + - * / % = != < <= > >= and or
// (the aliases == and <> are normalized to = and !=).
type Binary struct {
	At   Pos // position of the operator
	Op   string
	L, R Node
}

// IsNull is "X is null" (Not false) or "X is not null" (Not true).
type IsNull struct {
	At  Pos // position of "is"
	X   Node
	Not bool
}

// In is "X in (List...)" or, with Not, "X not in (List...)".
type In struct {
	At   Pos // position of "in" (or of "not" in "not in")
	X    Node
	List []Node
	Not  bool
}

// Call is a function call; Name is lower case (function names are case
// insensitive): if, coalesce, starts_with, ends_with, contains, abs.
type Call struct {
	At   Pos
	Name string
	Args []Node
}

// Cast is "cast(X as Type)"; Type is the type name as written, lower case.
type Cast struct {
	At      Pos
	X       Node
	Type    string
	TypePos Pos
}

// When is one "when Cond then Then" arm of a [Case].
type When struct {
	Cond, Then Node
}

// Case is "case when c1 then v1 [when c2 then v2 ...] [else e] end"; Else
// is nil when absent (the result is then null where no arm matches).
type Case struct {
	At    Pos
	Whens []When
	Else  Node
}

func (n *Ident) Pos() Pos   { return n.At }
func (n *Literal) Pos() Pos { return n.At }
func (n *Unary) Pos() Pos   { return n.At }
func (n *Binary) Pos() Pos  { return n.L.Pos() }
func (n *IsNull) Pos() Pos  { return n.X.Pos() }
func (n *In) Pos() Pos      { return n.X.Pos() }
func (n *Call) Pos() Pos    { return n.At }
func (n *Cast) Pos() Pos    { return n.At }
func (n *Case) Pos() Pos    { return n.At }

func (*Ident) node()   {}
func (*Literal) node() {}
func (*Unary) node()   {}
func (*Binary) node()  {}
func (*IsNull) node()  {}
func (*In) node()      {}
func (*Call) node()    {}
func (*Cast) node()    {}
func (*Case) node()    {}

func (n *Ident) String() string {
	if isPlainIdent(n.Name) {
		return n.Name
	}
	return quote(n.Name, '`')
}

func (n *Literal) String() string {
	switch n.Kind {
	case LitNull:
		return "null"
	case LitBool:
		return strconv.FormatBool(n.Value.(bool))
	case LitInt:
		return strconv.FormatInt(n.Value.(int64), 10)
	case LitFloat:
		s := strconv.FormatFloat(n.Value.(float64), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") { // keep it a float literal
			s += ".0"
		}
		return s
	case LitString:
		return quote(n.Value.(string), '\'')
	case LitTimestamp:
		return "timestamp " + quote(n.Value.(time.Time).UTC().Format(time.RFC3339Nano), '\'')
	case LitDate:
		return "date " + quote(n.Value.(time.Time).UTC().Format(time.DateOnly), '\'')
	case LitDuration:
		return "duration " + quote(n.Value.(time.Duration).String(), '\'')
	}
	return "?"
}

func (n *Unary) String() string {
	if n.Op == "not" {
		return "(not " + n.X.String() + ")"
	}
	return "(-(" + n.X.String() + "))"
}

func (n *Binary) String() string {
	return "(" + n.L.String() + " " + n.Op + " " + n.R.String() + ")"
}

func (n *IsNull) String() string {
	if n.Not {
		return "(" + n.X.String() + " is not null)"
	}
	return "(" + n.X.String() + " is null)"
}

func (n *In) String() string {
	var b strings.Builder
	b.WriteString("(" + n.X.String())
	if n.Not {
		b.WriteString(" not")
	}
	b.WriteString(" in (")
	for i, x := range n.List {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.String())
	}
	b.WriteString("))")
	return b.String()
}

func (n *Call) String() string {
	var b strings.Builder
	b.WriteString(n.Name + "(")
	for i, x := range n.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.String())
	}
	b.WriteString(")")
	return b.String()
}

func (n *Cast) String() string { return "cast(" + n.X.String() + " as " + n.Type + ")" }

func (n *Case) String() string {
	var b strings.Builder
	b.WriteString("case")
	for _, w := range n.Whens {
		b.WriteString(" when " + w.Cond.String() + " then " + w.Then.String())
	}
	if n.Else != nil {
		b.WriteString(" else " + n.Else.String())
	}
	b.WriteString(" end")
	return b.String()
}

// quote writes s between q quotes with backslash escapes for the quote, the
// backslash and control characters.
func quote(s string, q byte) string {
	var b strings.Builder
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case q, '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// isPlainIdent reports whether name can be written without backquotes.
func isPlainIdent(name string) bool {
	if name == "" || isKeyword(name) {
		return false
	}
	for i, r := range name {
		if !isIdentRune(r, i == 0) {
			return false
		}
	}
	return true
}
