package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/expr"
)

// Error is a construction error of a built-in system: it names the system
// and the expression source (for Lookup and Dedupe, which take key fields
// instead, a description "lookup(k1, k2)" or "dedupe(k1, k2)"). Err is the
// cause: an [*expr.Error] carrying
// the position in Expr (errors.As), which wraps one of expr's sentinels
// (errors.Is), or, for a bad target field of Derive, an error wrapping
// [pcs.ErrUnknownField].
type Error struct {
	System string // the system's name
	Expr   string // the expression source
	Err    error
}

// Error renders `ops: system "name": expression "src": cause`; the cause
// of an expression error reads "expr: line:col: message".
func (e *Error) Error() string {
	return fmt.Sprintf("ops: system %q: expression %q: %v", e.System, e.Expr, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// start is the position of the whole expression, for errors about its
// result rather than one of its parts.
var start = expr.Pos{Offset: 0, Line: 1, Col: 1}

// compiled is what both systems share: the compiled expression and the
// field handles of the columns it reads.
type compiled struct {
	comp  string
	x     *expr.Expr
	cols  []pcs.FieldRef[arrow.Array]
	reads []pcs.Ref
}

func compile(c pcs.AnyComponent, src string) (*compiled, error) {
	x, err := expr.Compile(src, c.Schema())
	if err != nil {
		return nil, err
	}
	out := &compiled{comp: c.Name(), x: x}
	for _, name := range x.Columns() {
		f, err := pcs.NewField[arrow.Array](c, name)
		if err != nil { // cannot happen: Compile checked the name
			return nil, err
		}
		out.cols = append(out.cols, f)
		out.reads = append(out.reads, f)
	}
	return out, nil
}

// batch assembles the referenced columns of ds into a RecordBatch of
// ds.Len() rows; the caller releases it.
func (p *compiled) batch(ds *pcs.Dataset) (arrow.RecordBatch, error) {
	fields := make([]arrow.Field, len(p.cols))
	arrs := make([]arrow.Array, len(p.cols))
	for i, f := range p.cols {
		a, err := f.Get(ds)
		if err != nil {
			return nil, err
		}
		fields[i] = arrow.Field{Name: f.Name(), Type: a.DataType(), Nullable: true}
		arrs[i] = a
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(ds.Len())), nil
}

// runErr marks errors a retry cannot fix as permanent.
func runErr(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	return pcs.Permanent(err)
}

// Filter returns a system that soft-deletes (Dataset.Delete) every row of
// the dataset for which the boolean expression, over the fields of c, is
// false or null (SQL WHERE semantics). Rows already deleted stay deleted.
//
// Meta: reads the fields the expression references, writes pcs.Rows.
// Errors (*Error): the expression does not compile against c's schema, or
// its type is not bool (expr.ErrType, at position 1:1). A constant
// expression is allowed: "false" deletes every row, "true" none.
func Filter(name string, c pcs.AnyComponent, expression string) (pcs.System, error) {
	p, err := compile(c, expression)
	if err != nil {
		return nil, &Error{System: name, Expr: expression, Err: err}
	}
	if dt := p.x.Type(); dt.ID() != arrow.BOOL && dt.ID() != arrow.NULL {
		return nil, &Error{System: name, Expr: expression, Err: &expr.Error{Pos: start, Kind: expr.ErrType,
			Msg: fmt.Sprintf("filter expression is %s, not bool", dt)}}
	}
	meta := pcs.Meta(name).Read(p.reads...).Write(pcs.Rows)
	return &filterSystem{meta: meta, p: p}, nil
}

type filterSystem struct {
	meta pcs.SystemMeta
	p    *compiled
}

func (s *filterSystem) Meta() pcs.SystemMeta { return s.meta }

// String returns "filter name: expression".
func (s *filterSystem) String() string { return "filter " + s.meta.Name + ": " + s.p.x.String() }

func (s *filterSystem) Run(ctx context.Context, ds *pcs.Dataset) error {
	rec, err := s.p.batch(ds)
	if err != nil {
		return runErr(ctx, err)
	}
	defer rec.Release()
	mask, err := s.p.x.Mask(ctx, rec, ds.Allocator())
	if err != nil {
		return runErr(ctx, err)
	}
	defer mask.Release()
	for i, n := 0, mask.Len(); i < n; i++ {
		if i&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !mask.Value(i) && ds.Alive(i) {
			if err := ds.Delete(i); err != nil {
				return runErr(ctx, err)
			}
		}
	}
	return nil
}

// Derive returns a system that replaces field of c with the value of the
// expression, computed over the fields of c for every row (deleted rows
// included). The expression may reference field itself ("x = x + 1").
//
// Types: the expression's type must equal the field's type, or the
// field's type must be one of expr's cast targets (bool, int64, float64,
// string, large_string, timestamp[s|ms|us|ns, tz=UTC], date32), in which
// case the result is converted with expr's cast (cast((expression) as T):
// floats to integers truncate, numbers to bool test != 0, anything to
// string formats). Other fields (int32, float32, timestamps without a
// time zone, ...) need an expression of exactly their type; a bare
// column reference or if/coalesce of such columns keeps it.
//
// Meta: reads the fields the expression references, writes c.field.
// Errors (*Error): an unknown field (wrapping pcs.ErrUnknownField), an
// expression that does not compile, or a result type that is neither the
// field's nor castable to it (expr.ErrType, at position 1:1).
func Derive(name string, c pcs.AnyComponent, field string, expression string) (pcs.System, error) {
	return DeriveInto(name, c, c, field, expression)
}

// DeriveInto is [Derive] writing field of component into (another
// component of the same dataset, or c itself) from an expression over the
// fields of c: `route.delayed = flight.delay > 15`. Meta and errors are
// Derive's; the unknown-field error names into's field.
func DeriveInto(name string, c, into pcs.AnyComponent, field string, expression string) (pcs.System, error) {
	target, err := pcs.NewField[arrow.Array](into, field)
	if err != nil {
		return nil, &Error{System: name, Expr: expression, Err: err}
	}
	p, err := compile(c, expression)
	if err != nil {
		return nil, &Error{System: name, Expr: expression, Err: err}
	}
	if want, got := target.Type(), p.x.Type(); !arrow.TypeEqual(want, got) {
		typeErr := &Error{System: name, Expr: expression, Err: &expr.Error{Pos: start, Kind: expr.ErrType,
			Msg: fmt.Sprintf("expression is %s, field %s is %s and not a cast target of %s", got, target, want, got)}}
		tname, ok := castName(want)
		if !ok {
			return nil, typeErr
		}
		x, err := expr.Compile("cast(("+expression+"\n) as "+tname+")", c.Schema())
		if err != nil || !arrow.TypeEqual(x.Type(), want) {
			return nil, typeErr
		}
		p.x = x // same columns, same order: the cast wraps the whole expression
	}
	meta := pcs.Meta(name).Read(p.reads...).Write(target)
	return &deriveSystem{meta: meta, p: p, target: target, src: expression}, nil
}

// castName returns the name of dt in expr's cast(x as name).
func castName(dt arrow.DataType) (string, bool) {
	switch dt.ID() {
	case arrow.BOOL:
		return "bool", true
	case arrow.INT64:
		return "int64", true
	case arrow.FLOAT64:
		return "float64", true
	case arrow.STRING:
		return "string", true
	case arrow.LARGE_STRING:
		return "large_string", true
	case arrow.DATE32:
		return "date32", true
	case arrow.TIMESTAMP:
		ts := dt.(*arrow.TimestampType)
		if ts.TimeZone != "UTC" {
			return "", false
		}
		return map[arrow.TimeUnit]string{arrow.Second: "timestamp_s", arrow.Millisecond: "timestamp_ms",
			arrow.Microsecond: "timestamp_us", arrow.Nanosecond: "timestamp_ns"}[ts.Unit], true
	}
	return "", false
}

type deriveSystem struct {
	meta   pcs.SystemMeta
	p      *compiled
	target pcs.FieldRef[arrow.Array]
	src    string
}

func (s *deriveSystem) Meta() pcs.SystemMeta { return s.meta }

// String returns "derive name: component.field = expression".
func (s *deriveSystem) String() string {
	return "derive " + s.meta.Name + ": " + s.target.String() + " = " + s.src
}

func (s *deriveSystem) Run(ctx context.Context, ds *pcs.Dataset) error {
	rec, err := s.p.batch(ds)
	if err != nil {
		return runErr(ctx, err)
	}
	defer rec.Release()
	arr, err := s.p.x.Eval(ctx, rec, ds.Allocator())
	if err != nil {
		return runErr(ctx, err)
	}
	defer arr.Release()
	return runErr(ctx, s.target.Set(ds, arr))
}
