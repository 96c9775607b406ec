package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Parse parses src into a syntax tree. It checks syntax only: column
// names and types are checked by [Compile]. A syntax error is an [*Error]
// wrapping [ErrSyntax] with the position and what was expected, e.g.
// "expr: 1:9: expected expression, found ')'". Parse never panics.
func Parse(src string) (Node, error) {
	p := &parser{lx: lexer{src: src, line: 1, col: 1}}
	if err := p.next(); err != nil {
		return nil, err
	}
	n, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errExpected("operator or end of expression")
	}
	return n, nil
}

// maxDepth bounds the depth of the tree (parentheses, prefix operators
// and chains of binary operators alike), so that hostile input cannot
// exhaust the stack of the recursive passes.
const maxDepth = 500

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQIdent // `quoted identifier`
	tInt
	tFloat
	tString
	tOp // operators and punctuation
)

type token struct {
	kind tokKind
	text string // identifier name, unescaped string, operator, number text
	pos  Pos
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tIdent:
		return strconv.Quote(t.text)
	case tQIdent:
		return quote(t.text, '`')
	case tString:
		return "string " + quote(t.text, '\'')
	case tInt, tFloat:
		return "number " + t.text
	}
	return "'" + t.text + "'"
}

type lexer struct {
	src       string
	off       int
	line, col int
}

func (l *lexer) pos() Pos { return Pos{Offset: l.off, Line: l.line, Col: l.col} }

// advance moves past one rune.
func (l *lexer) advance() rune {
	r, w := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += w
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) peek() rune {
	if l.off >= len(l.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	return r
}

func isIdentRune(r rune, first bool) bool {
	if r == '_' || unicode.IsLetter(r) {
		return true
	}
	return !first && unicode.IsDigit(r)
}

func (l *lexer) next() (token, error) {
	for l.off < len(l.src) {
		r := l.peek()
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			l.advance()
			continue
		}
		break
	}
	start := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	r, w := utf8.DecodeRuneInString(l.src[l.off:])
	if r == utf8.RuneError && w == 1 {
		return token{}, errAt(ErrSyntax, start, "invalid UTF-8")
	}
	switch {
	case isIdentRune(r, true):
		b := l.off
		for l.off < len(l.src) && isIdentRune(l.peek(), false) {
			l.advance()
		}
		return token{kind: tIdent, text: l.src[b:l.off], pos: start}, nil
	case r >= '0' && r <= '9' || r == '.' && l.off+1 < len(l.src) && isDigit(l.src[l.off+1]):
		return l.number(start)
	case r == '\'' || r == '"' || r == '`':
		s, err := l.quoted(byte(r), start)
		if err != nil {
			return token{}, err
		}
		k := tString
		if r == '`' {
			k = tQIdent
		}
		return token{kind: k, text: s, pos: start}, nil
	}
	l.advance()
	op := string(r)
	switch r {
	case '+', '-', '*', '/', '%', '(', ')', ',':
	case '=':
		if l.peek() == '=' {
			l.advance()
		}
		op = "="
	case '!':
		if l.peek() != '=' {
			return token{}, errAt(ErrSyntax, start, "unexpected '!' (write != or not)")
		}
		l.advance()
		op = "!="
	case '<':
		switch l.peek() {
		case '=':
			l.advance()
			op = "<="
		case '>':
			l.advance()
			op = "!="
		}
	case '>':
		if l.peek() == '=' {
			l.advance()
			op = ">="
		}
	default:
		return token{}, errAt(ErrSyntax, start, "unexpected character %q", r)
	}
	return token{kind: tOp, text: op, pos: start}, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) number(start Pos) (token, error) {
	b := l.off
	float := false
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.advance()
	}
	if l.off < len(l.src) && l.src[l.off] == '.' {
		float = true
		l.advance()
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.advance()
		}
	}
	if l.off < len(l.src) && (l.src[l.off] == 'e' || l.src[l.off] == 'E') {
		float = true
		l.advance()
		if l.off < len(l.src) && (l.src[l.off] == '+' || l.src[l.off] == '-') {
			l.advance()
		}
		if l.off >= len(l.src) || !isDigit(l.src[l.off]) {
			return token{}, errAt(ErrSyntax, l.pos(), "expected exponent digits in number")
		}
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.advance()
		}
	}
	if l.off < len(l.src) && isIdentRune(l.peek(), false) {
		return token{}, errAt(ErrSyntax, l.pos(), "unexpected %q after number", l.peek())
	}
	k := tInt
	if float {
		k = tFloat
	}
	return token{kind: k, text: l.src[b:l.off], pos: start}, nil
}

// quoted reads a quoted string or identifier; backslash escapes \\ \' \"
// \` \n \t \r \0.
func (l *lexer) quoted(q byte, start Pos) (string, error) {
	l.advance()
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return "", errAt(ErrSyntax, start, "unterminated %s", map[byte]string{'\'': "string", '"': "string", '`': "quoted identifier"}[q])
		}
		c := l.src[l.off]
		switch {
		case c == q:
			l.advance()
			return b.String(), nil
		case c == '\\':
			epos := l.pos()
			l.advance()
			if l.off >= len(l.src) {
				continue // reported as unterminated
			}
			e := l.src[l.off]
			switch e {
			case '\\', '\'', '"', '`':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			default:
				return "", errAt(ErrSyntax, epos, "unknown escape sequence \\%c", rune(e))
			}
			l.advance()
		default:
			r := l.advance()
			b.WriteRune(r)
		}
	}
}

// keywords are reserved words (case insensitive); `backquote` them to use
// them as column names. timestamp, date, duration, cast and function names
// are not reserved: they act as keywords only where followed by a string
// or '('.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "is": true, "in": true, "null": true,
	"true": true, "false": true, "case": true, "when": true, "then": true,
	"else": true, "end": true, "as": true,
}

func isKeyword(s string) bool { return keywords[strings.ToLower(s)] }

type parser struct {
	lx    lexer
	tok   token
	ahead *token // one token of lookahead, when peeked
	depth int
}

func (p *parser) next() error {
	if p.ahead != nil {
		p.tok, p.ahead = *p.ahead, nil
		return nil
	}
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// peek returns the token after the current one.
func (p *parser) peek() (token, error) {
	if p.ahead == nil {
		t, err := p.lx.next()
		if err != nil {
			return token{}, err
		}
		p.ahead = &t
	}
	return *p.ahead, nil
}

func (p *parser) isKw(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) isOp(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

func (p *parser) errExpected(what string) error {
	return errAt(ErrSyntax, p.tok.pos, "expected %s, found %s", what, p.tok.describe())
}

func (p *parser) expectOp(op string) error {
	if !p.isOp(op) {
		return p.errExpected("'" + op + "'")
	}
	return p.next()
}

func (p *parser) expectKw(kw string) error {
	if !p.isKw(kw) {
		return p.errExpected("'" + kw + "'")
	}
	return p.next()
}

// Precedence levels, lowest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCmp
	precAdd
	precMul
	precUnary
)

// binaryPrec returns the precedence of the current token as an infix
// operator, and its normalized name; 0 if it is none.
func (p *parser) binaryPrec() (int, string) {
	switch p.tok.kind {
	case tOp:
		switch p.tok.text {
		case "+", "-":
			return precAdd, p.tok.text
		case "*", "/", "%":
			return precMul, p.tok.text
		case "=", "!=", "<", "<=", ">", ">=":
			return precCmp, p.tok.text
		}
	case tIdent:
		switch strings.ToLower(p.tok.text) {
		case "or":
			return precOr, "or"
		case "and":
			return precAnd, "and"
		case "is", "in":
			return precCmp, strings.ToLower(p.tok.text)
		case "not": // "x not in (...)"
			return precCmp, "not"
		}
	}
	return 0, ""
}

// parseExpr parses operators of precedence > min (precedence climbing).
func (p *parser) parseExpr(min int) (Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errAt(ErrSyntax, p.tok.pos, "expression nested too deeply")
	}
	x, err := p.parsePrefix(min)
	if err != nil {
		return nil, err
	}
	for chain := 1; ; chain++ {
		prec, op := p.binaryPrec()
		if prec == 0 || prec <= min {
			return x, nil
		}
		at := p.tok.pos
		if p.depth+chain > maxDepth { // a chain a+b+c+... nests as deeply
			return nil, errAt(ErrSyntax, at, "expression nested too deeply")
		}
		if prec == precCmp {
			x, err = p.parseComparison(x, op, at)
			if err != nil {
				return nil, err
			}
			// comparisons do not chain: a < b < c is an error
			if prec2, _ := p.binaryPrec(); prec2 == precCmp {
				return nil, errAt(ErrSyntax, p.tok.pos, "comparisons cannot be chained; use and")
			}
			continue
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		y, err := p.parseExpr(prec)
		if err != nil {
			return nil, err
		}
		x = &Binary{At: at, Op: op, L: x, R: y}
	}
}

func (p *parser) parsePrefix(min int) (Node, error) {
	switch {
	case p.isKw("not"):
		at := p.tok.pos
		if err := p.next(); err != nil {
			return nil, err
		}
		// not binds looser than comparisons: not a = b is not (a = b)
		x, err := p.parseExpr(max(min, precNot-1))
		if err != nil {
			return nil, err
		}
		return &Unary{At: at, Op: "not", X: x}, nil
	case p.isOp("-"):
		at := p.tok.pos
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind == tInt || p.tok.kind == tFloat { // a negative literal
			lit, err := p.number(true)
			if err != nil {
				return nil, err
			}
			lit.At = at
			return lit, nil
		}
		x, err := p.parseExpr(precUnary - 1)
		if err != nil {
			return nil, err
		}
		return &Unary{At: at, Op: "-", X: x}, nil
	}
	return p.parsePrimary()
}

// number converts the current number token to a literal and moves past it.
func (p *parser) number(neg bool) (*Literal, error) {
	t := p.tok
	var lit *Literal
	if t.kind == tInt {
		u, err := strconv.ParseUint(t.text, 10, 64)
		switch {
		case err != nil, !neg && u > math.MaxInt64, neg && u > 1<<63:
			return nil, errAt(ErrSyntax, t.pos, "integer literal %s out of range for int64", t.text)
		case neg:
			lit = &Literal{At: t.pos, Kind: LitInt, Value: int64(-u)}
		default:
			lit = &Literal{At: t.pos, Kind: LitInt, Value: int64(u)}
		}
	} else {
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errAt(ErrSyntax, t.pos, "float literal %s out of range", t.text)
		}
		if neg {
			f = -f
		}
		lit = &Literal{At: t.pos, Kind: LitFloat, Value: f}
	}
	return lit, p.next()
}

// parseComparison parses the right side of a comparison operator, "is
// [not] null" or "[not] in (...)", the current token being the operator.
func (p *parser) parseComparison(x Node, op string, at Pos) (Node, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	switch op {
	case "is":
		not := false
		if p.isKw("not") {
			not = true
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		if err := p.expectKw("null"); err != nil {
			return nil, err
		}
		return &IsNull{At: at, X: x, Not: not}, nil
	case "not":
		if !p.isKw("in") {
			return nil, p.errExpected("'in' after 'not'")
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		list, err := p.parseList()
		if err != nil {
			return nil, err
		}
		return &In{At: at, X: x, List: list, Not: true}, nil
	case "in":
		list, err := p.parseList()
		if err != nil {
			return nil, err
		}
		return &In{At: at, X: x, List: list}, nil
	}
	y, err := p.parseExpr(precCmp)
	if err != nil {
		return nil, err
	}
	return &Binary{At: at, Op: op, L: x, R: y}, nil
}

// parseList parses "(e1, e2, ...)" with at least one element.
func (p *parser) parseList() ([]Node, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var list []Node
	for {
		x, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		list = append(list, x)
		if p.isOp(")") {
			return list, p.next()
		}
		if !p.isOp(",") {
			return nil, p.errExpected("',' or ')'")
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parsePrimary() (Node, error) {
	t := p.tok
	switch t.kind {
	case tInt, tFloat:
		return p.number(false)
	case tString:
		return &Literal{At: t.pos, Kind: LitString, Value: t.text}, p.next()
	case tQIdent:
		return &Ident{At: t.pos, Name: t.text}, p.next()
	case tOp:
		if t.text == "(" {
			if err := p.next(); err != nil {
				return nil, err
			}
			x, err := p.parseExpr(0)
			if err != nil {
				return nil, err
			}
			return x, p.expectOp(")")
		}
		return nil, p.errExpected("expression")
	case tEOF:
		return nil, p.errExpected("expression")
	}
	// identifier or keyword
	low := strings.ToLower(t.text)
	switch low {
	case "null":
		return &Literal{At: t.pos, Kind: LitNull}, p.next()
	case "true", "false":
		return &Literal{At: t.pos, Kind: LitBool, Value: low == "true"}, p.next()
	case "case":
		return p.parseCase()
	}
	if isKeyword(low) {
		return nil, p.errExpected("expression")
	}
	nt, err := p.peek()
	if err != nil {
		return nil, err
	}
	switch {
	case nt.kind == tString && (low == "timestamp" || low == "date" || low == "duration"):
		if err := p.next(); err != nil {
			return nil, err
		}
		lit, err := typedLiteral(low, p.tok)
		if err != nil {
			return nil, err
		}
		lit.At = t.pos
		return lit, p.next()
	case nt.kind == tOp && nt.text == "(" && low == "cast":
		return p.parseCast()
	case nt.kind == tOp && nt.text == "(":
		return p.parseCall()
	}
	return &Ident{At: t.pos, Name: t.text}, p.next()
}

func (p *parser) parseCall() (Node, error) {
	at, name := p.tok.pos, strings.ToLower(p.tok.text)
	if err := p.next(); err != nil { // name
		return nil, err
	}
	if err := p.next(); err != nil { // (
		return nil, err
	}
	c := &Call{At: at, Name: name}
	if p.isOp(")") {
		return c, p.next()
	}
	for {
		x, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		c.Args = append(c.Args, x)
		if p.isOp(")") {
			return c, p.next()
		}
		if !p.isOp(",") {
			return nil, p.errExpected("',' or ')'")
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseCast() (Node, error) {
	at := p.tok.pos
	if err := p.next(); err != nil { // cast
		return nil, err
	}
	if err := p.next(); err != nil { // (
		return nil, err
	}
	x, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	if err := p.expectKw("as"); err != nil {
		return nil, err
	}
	if p.tok.kind != tIdent || isKeyword(p.tok.text) {
		return nil, p.errExpected("type name")
	}
	c := &Cast{At: at, X: x, Type: strings.ToLower(p.tok.text), TypePos: p.tok.pos}
	if err := p.next(); err != nil {
		return nil, err
	}
	return c, p.expectOp(")")
}

func (p *parser) parseCase() (Node, error) {
	c := &Case{At: p.tok.pos}
	if err := p.next(); err != nil {
		return nil, err
	}
	if !p.isKw("when") {
		return nil, p.errExpected("'when'")
	}
	for p.isKw("when") {
		if err := p.next(); err != nil {
			return nil, err
		}
		cond, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("then"); err != nil {
			return nil, err
		}
		then, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Then: then})
	}
	if p.isKw("else") {
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		c.Else = e
	}
	if !p.isKw("end") {
		return nil, p.errExpected("'when', 'else' or 'end'")
	}
	return c, p.next()
}

// typedLiteral parses the string of timestamp '...', date '...' or
// duration '...'.
func typedLiteral(kind string, t token) (*Literal, error) {
	switch kind {
	case "timestamp":
		ts, err := parseTime(t.text)
		if err != nil {
			return nil, errAt(ErrSyntax, t.pos, "invalid timestamp %s: want RFC 3339 like '2001-01-01T00:00:00Z'", quote(t.text, '\''))
		}
		return &Literal{Kind: LitTimestamp, Value: ts}, nil
	case "date":
		d, err := time.Parse(time.DateOnly, t.text)
		if err != nil {
			return nil, errAt(ErrSyntax, t.pos, "invalid date %s: want YYYY-MM-DD", quote(t.text, '\''))
		}
		return &Literal{Kind: LitDate, Value: d}, nil
	default:
		d, err := time.ParseDuration(t.text)
		if err != nil {
			return nil, errAt(ErrSyntax, t.pos, "invalid duration %s: want Go duration like '15m' or '1h30m'", quote(t.text, '\''))
		}
		return &Literal{Kind: LitDuration, Value: d}, nil
	}
}

// timeLayouts are the accepted timestamp forms: RFC 3339 with optional
// fraction and offset, 'T' or a space between date and time, or a date
// alone. Without an offset the time is UTC.
var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime parses a timestamp string in one of timeLayouts. Only years
// 0000-9999 are accepted.
func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: invalid timestamp %q", ErrEval, s)
}
