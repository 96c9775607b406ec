package expr

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// compiler turns a syntax tree into a tree of typed, vectorized operations
// (cnode), checking types against the schema. Subtrees without column
// references are evaluated once, here (constant folding), so a constant
// is a scalar by the time Eval runs.
type compiler struct {
	schema *arrow.Schema
	names  []string         // slot -> column name, in order of first use
	types  []arrow.DataType // slot -> column type
	index  []int            // slot -> field index in schema
	slots  map[string]int
}

func (c *compiler) compile(n Node) (cnode, error) {
	switch n := n.(type) {
	case *Ident:
		return c.ident(n)
	case *Literal:
		sc, err := literalScalar(n)
		if err != nil {
			return nil, err
		}
		return &constNode{sc: sc}, nil
	case *Unary:
		return c.unary(n)
	case *Binary:
		return c.binary(n)
	case *IsNull:
		x, err := c.compile(n.X)
		if err != nil {
			return nil, err
		}
		if isNull(x.typ()) { // every value of type null is null
			return &constNode{sc: scalar.NewBooleanScalar(!n.Not)}, nil
		}
		op := "is_null"
		if n.Not {
			op = "is_not_null"
		}
		return fold(&boolOpNode{op: op, x: x}, n.At, x)
	case *In:
		return c.in(n)
	case *Call:
		return c.call(n)
	case *Cast:
		return c.cast(n)
	case *Case:
		return c.caseWhen(n)
	}
	return nil, errAt(ErrSyntax, n.Pos(), "unknown node %T", n)
}

func (c *compiler) ident(n *Ident) (cnode, error) {
	if slot, ok := c.slots[n.Name]; ok {
		return &colNode{slot: slot, dt: c.types[slot], name: n.Name}, nil
	}
	idx := c.schema.FieldIndices(n.Name)
	switch len(idx) {
	case 0:
		hint := ""
		for _, f := range c.schema.Fields() {
			if strings.EqualFold(f.Name, n.Name) {
				hint = fmt.Sprintf(" (did you mean %s?)", (&Ident{Name: f.Name}).String())
				break
			}
		}
		return nil, errAt(ErrUnknownColumn, n.At, "unknown column %s%s", (&Ident{Name: n.Name}).String(), hint)
	case 1:
	default:
		return nil, errAt(ErrUnknownColumn, n.At, "ambiguous column %s: the schema has %d fields of that name", n.String(), len(idx))
	}
	dt := c.schema.Field(idx[0]).Type
	if !supported(dt) {
		return nil, errAt(ErrType, n.At, "column %s has unsupported type %s", n.String(), dt)
	}
	slot := len(c.names)
	c.slots[n.Name] = slot
	c.names = append(c.names, n.Name)
	c.types = append(c.types, dt)
	c.index = append(c.index, idx[0])
	return &colNode{slot: slot, dt: dt, name: n.Name}, nil
}

// literalScalar converts a literal to its scalar. Integers are int64,
// floats float64, strings utf8; timestamps and durations take the
// coarsest unit that holds them exactly (timestamps in UTC).
func literalScalar(n *Literal) (scalar.Scalar, error) {
	switch n.Kind {
	case LitNull:
		return scalar.MakeNullScalar(tNull), nil
	case LitBool:
		return scalar.NewBooleanScalar(n.Value.(bool)), nil
	case LitInt:
		return scalar.NewInt64Scalar(n.Value.(int64)), nil
	case LitFloat:
		return scalar.NewFloat64Scalar(n.Value.(float64)), nil
	case LitString:
		return scalar.NewStringScalar(n.Value.(string)), nil
	case LitTimestamp:
		t := n.Value.(time.Time)
		unit, v, ok := timeValue(t)
		if !ok {
			return nil, errAt(ErrSyntax, n.At, "timestamp %s out of range", n.String())
		}
		return scalar.NewTimestampScalar(arrow.Timestamp(v), &arrow.TimestampType{Unit: unit, TimeZone: "UTC"}), nil
	case LitDate:
		return scalar.NewDate32Scalar(arrow.Date32(n.Value.(time.Time).Unix() / 86400)), nil
	case LitDuration:
		d := int64(n.Value.(time.Duration))
		unit := arrow.Nanosecond
		for _, u := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond} {
			if m := int64(u.Multiplier()); d%m == 0 {
				unit, d = u, d/m
				break
			}
		}
		return scalar.NewDurationScalar(arrow.Duration(d), &arrow.DurationType{Unit: unit}), nil
	}
	return nil, errAt(ErrSyntax, n.At, "bad literal")
}

// timeValue returns t in the coarsest unit that holds it exactly.
func timeValue(t time.Time) (arrow.TimeUnit, int64, bool) {
	sec, ns := t.Unix(), int64(t.Nanosecond())
	switch {
	case ns == 0:
		return arrow.Second, sec, true
	case ns%1e6 == 0:
		return arrow.Millisecond, sec*1e3 + ns/1e6, true
	case ns%1e3 == 0:
		return arrow.Microsecond, sec*1e6 + ns/1e3, true
	}
	if sec > math.MaxInt64/1_000_000_000-1 || sec < math.MinInt64/1_000_000_000+1 {
		return 0, 0, false
	}
	return arrow.Nanosecond, sec*1e9 + ns, true
}

func isConst(n cnode) bool { _, ok := n.(*constNode); return ok }

// fold evaluates n once if all its inputs are constants and returns the
// result as a constant; otherwise it returns n.
func fold(n cnode, at Pos, inputs ...cnode) (cnode, error) {
	for _, in := range inputs {
		if !isConst(in) {
			return n, nil
		}
	}
	mem := memory.DefaultAllocator
	e := &env{ctx: compute.WithAllocator(context.Background(), mem), mem: mem, n: 1, fold: true}
	v, err := n.eval(e)
	if err != nil {
		return nil, errAt(ErrEval, at, "%s", strings.TrimPrefix(err.Error(), "expr: evaluation failed: "))
	}
	defer v.release()
	arr, err := e.array(v)
	if err != nil {
		return nil, errAt(ErrEval, at, "%v", err)
	}
	defer arr.Release()
	sc, err := scalar.GetScalar(arr, 0)
	if err != nil {
		return nil, errAt(ErrEval, at, "%v", err)
	}
	if !arrow.TypeEqual(sc.DataType(), n.typ()) {
		return nil, errAt(ErrEval, at, "internal: constant of type %s, want %s", sc.DataType(), n.typ())
	}
	return &constNode{sc: sc}, nil
}

// convert converts n to type to: constants at once, columns with an
// implicit cast at run time. Callers only ask for conversions that
// common allows.
func convert(n cnode, to arrow.DataType, at Pos) (cnode, error) {
	from := n.typ()
	if arrow.TypeEqual(from, to) {
		return n, nil
	}
	if k, ok := n.(*constNode); ok {
		sc, err := castScalar(k.sc, to)
		if err != nil {
			return nil, errAt(ErrType, at, "cannot convert %s to %s: %v", k.sc, to, err)
		}
		return &constNode{sc: sc}, nil
	}
	how := castArrow
	if isTS(from) && isTS(to) && tsType(from).Unit == tsType(to).Unit {
		how = castRetype // only the time zone differs: same values
	}
	return &castNode{x: n, to: to, how: how}, nil
}

// unify finds the common type of nodes (see common) and converts them all
// to it. Constants adapt to the columns' type when they convert exactly
// (so that int32_col = 5 compares int32 values, without a cast of the
// column); otherwise the type widens. what names the operation for
// errors, at are the nodes' positions.
func unify(nodes []cnode, at []Pos, what string) ([]cnode, arrow.DataType, error) {
	var target arrow.DataType
	mismatch := func(i int, dt arrow.DataType) error {
		return errAt(ErrType, at[i], "%s: type mismatch: %s and %s", what, target, dt)
	}
	for i, n := range nodes {
		if isConst(n) {
			continue
		}
		if target == nil {
			target = n.typ()
			continue
		}
		t, ok := common(target, n.typ())
		if !ok {
			return nil, nil, mismatch(i, n.typ())
		}
		target = t
	}
	for changed := true; changed; {
		changed = false
		for i, n := range nodes {
			k, ok := n.(*constNode)
			if !ok {
				continue
			}
			if target == nil {
				target = k.sc.DataType()
				continue
			}
			if _, ok := convertExact(k.sc, target); ok {
				continue
			}
			t, ok := common(target, k.sc.DataType())
			if !ok {
				return nil, nil, mismatch(i, k.sc.DataType())
			}
			if !arrow.TypeEqual(t, target) {
				target, changed = t, true
			}
		}
	}
	out := make([]cnode, len(nodes))
	for i, n := range nodes {
		if k, ok := n.(*constNode); ok {
			if sc, ok := convertExact(k.sc, target); ok {
				out[i] = &constNode{sc: sc}
				continue
			}
		}
		var err error
		if out[i], err = convert(n, target, at[i]); err != nil {
			return nil, nil, err
		}
	}
	return out, target, nil
}

func (c *compiler) unary(n *Unary) (cnode, error) {
	x, err := c.compile(n.X)
	if err != nil {
		return nil, err
	}
	dt := x.typ()
	if n.Op == "not" {
		if x, err = boolOperand(x, n.X.Pos(), "not"); err != nil {
			return nil, err
		}
		return fold(&boolOpNode{op: "not", x: x}, n.At, x)
	}
	switch {
	case isNull(dt):
		return &constNode{sc: scalar.MakeNullScalar(tInt64)}, nil
	case isNumeric(dt):
		to := tInt64
		if isFloat(dt) {
			to = tFloat64
		}
		if x, err = convert(x, to, n.X.Pos()); err != nil {
			return nil, err
		}
		return fold(&kernelNode{fn: "negate_unchecked", args: []cnode{x}, dt: to}, n.At, x)
	case isDur(dt):
		// arrow-go has no negate kernel for durations: 0 - x.
		zero := &constNode{sc: scalar.NewDurationScalar(0, dt)}
		return fold(&kernelNode{fn: "subtract_unchecked", args: []cnode{zero, x}, dt: dt}, n.At, x)
	}
	return nil, errAt(ErrType, n.At, "unary - needs a number or duration, got %s", dt)
}

// boolOperand checks that x is boolean; a null literal becomes a boolean
// null.
func boolOperand(x cnode, at Pos, op string) (cnode, error) {
	switch dt := x.typ(); {
	case isBool(dt):
		return x, nil
	case isNull(dt):
		return convert(x, tBool, at)
	default:
		return nil, errAt(ErrType, at, "%s needs boolean operands, got %s", op, dt)
	}
}

func (c *compiler) binary(n *Binary) (cnode, error) {
	l, err := c.compile(n.L)
	if err != nil {
		return nil, err
	}
	r, err := c.compile(n.R)
	if err != nil {
		return nil, err
	}
	switch n.Op {
	case "and", "or":
		if l, err = boolOperand(l, n.L.Pos(), n.Op); err != nil {
			return nil, err
		}
		if r, err = boolOperand(r, n.R.Pos(), n.Op); err != nil {
			return nil, err
		}
		return fold(&kernelNode{fn: n.Op + "_kleene", args: []cnode{l, r}, dt: tBool}, n.At, l, r)
	case "=", "!=", "<", "<=", ">", ">=":
		return c.compare(n, l, r)
	}
	return c.arith(n, l, r)
}

var cmpKernel = map[string]string{
	"=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal",
}

func (c *compiler) compare(n *Binary, l, r cnode) (cnode, error) {
	args, dt, err := unify([]cnode{l, r}, []Pos{n.L.Pos(), n.R.Pos()}, "cannot compare "+l.typ().String()+" "+n.Op+" "+r.typ().String())
	if err != nil {
		return nil, errAt(ErrType, n.At, "cannot compare %s %s %s", l.typ(), n.Op, r.typ())
	}
	if isNull(dt) {
		return &constNode{sc: scalar.MakeNullScalar(tBool)}, nil
	}
	if isBool(dt) && n.Op != "=" && n.Op != "!=" {
		// Arrow orders no booleans: compare them as 0 and 1.
		for i := range args {
			if args[i], err = convert(args[i], tInt64, n.At); err != nil {
				return nil, err
			}
		}
	}
	return fold(&kernelNode{fn: cmpKernel[n.Op], args: args, dt: tBool}, n.At, args...)
}

var arithKernel = map[string]string{"+": "add_unchecked", "-": "subtract_unchecked", "*": "multiply_unchecked"}

func (c *compiler) arith(n *Binary, l, r cnode) (cnode, error) {
	lt, rt := l.typ(), r.typ()
	bad := func() error {
		return errAt(ErrType, n.At, "operator %s is not defined for %s and %s", n.Op, lt, rt)
	}
	// A null literal takes the type of the other side.
	var err error
	switch {
	case isNull(lt) && isNull(rt):
		return &constNode{sc: scalar.MakeNullScalar(tInt64)}, nil
	case isNull(lt):
		l, lt = &constNode{sc: scalar.MakeNullScalar(rt)}, rt
	case isNull(rt):
		r, rt = &constNode{sc: scalar.MakeNullScalar(lt)}, lt
	}
	switch {
	case isNumeric(lt) && isNumeric(rt):
		dt := tInt64
		if isFloat(lt) || isFloat(rt) {
			dt = tFloat64
		}
		if l, err = convert(l, dt, n.L.Pos()); err != nil {
			return nil, err
		}
		if r, err = convert(r, dt, n.R.Pos()); err != nil {
			return nil, err
		}
		switch n.Op {
		case "/", "%":
			return fold(&divModNode{l: l, r: r, mod: n.Op == "%", dt: dt}, n.At, l, r)
		}
		return fold(&kernelNode{fn: arithKernel[n.Op], args: []cnode{l, r}, dt: dt}, n.At, l, r)
	case n.Op != "+" && n.Op != "-":
		return nil, bad()
	case isTS(lt) && isDur(rt), isDur(lt) && isTS(rt) && n.Op == "+":
		ts, dur := l, r
		if isDur(lt) {
			ts, dur = r, l
		}
		tsT, durT := ts.typ().(*arrow.TimestampType), dur.typ().(*arrow.DurationType)
		unit := finer(tsT.Unit, durT.Unit)
		// a constant adapts to the column's unit when exact
		if k, ok := dur.(*constNode); ok && !isConst(ts) {
			if _, ok := convertExact(k.sc, &arrow.DurationType{Unit: tsT.Unit}); ok {
				unit = tsT.Unit
			}
		} else if k, ok := ts.(*constNode); ok && !isConst(dur) {
			if _, ok := convertExact(k.sc, &arrow.TimestampType{Unit: durT.Unit, TimeZone: tsT.TimeZone}); ok {
				unit = durT.Unit
			}
		}
		outT := &arrow.TimestampType{Unit: unit, TimeZone: tsT.TimeZone}
		if ts, err = convertUnit(ts, outT, n.At); err != nil {
			return nil, err
		}
		if dur, err = convertUnit(dur, &arrow.DurationType{Unit: unit}, n.At); err != nil {
			return nil, err
		}
		args := []cnode{ts, dur}
		if isDur(lt) {
			args = []cnode{dur, ts}
		}
		return fold(&kernelNode{fn: arithKernel[n.Op], args: args, dt: outT}, n.At, args...)
	case isTS(lt) && isTS(rt) && n.Op == "-", isDur(lt) && isDur(rt):
		args, dt, err := unify([]cnode{l, r}, []Pos{n.L.Pos(), n.R.Pos()}, "operator "+n.Op)
		if err != nil {
			return nil, err
		}
		out := dt
		if isTS(dt) {
			out = &arrow.DurationType{Unit: tsType(dt).Unit}
		}
		return fold(&kernelNode{fn: arithKernel[n.Op], args: args, dt: out}, n.At, args...)
	case isDate(lt) || isDate(rt):
		return nil, errAt(ErrType, n.At, "operator %s is not defined for %s and %s (cast the date to timestamp)", n.Op, lt, rt)
	}
	return nil, bad()
}

// convertUnit converts a timestamp or duration node to another unit.
func convertUnit(n cnode, to arrow.DataType, at Pos) (cnode, error) {
	if k, ok := n.(*constNode); ok {
		if sc, ok := convertExact(k.sc, to); ok {
			return &constNode{sc: sc}, nil
		}
	}
	return convert(n, to, at)
}

func (c *compiler) in(n *In) (cnode, error) {
	x, err := c.compile(n.X)
	if err != nil {
		return nil, err
	}
	nodes, pos := []cnode{x}, []Pos{n.X.Pos()}
	for _, item := range n.List {
		k, err := c.compile(item)
		if err != nil {
			return nil, err
		}
		if !isConst(k) {
			return nil, errAt(ErrType, item.Pos(), "the values of in (...) must be constants")
		}
		nodes, pos = append(nodes, k), append(pos, item.Pos())
	}
	nodes, dt, err := unify(nodes, pos, "in")
	if err != nil {
		return nil, err
	}
	if isNull(dt) {
		return &constNode{sc: scalar.MakeNullScalar(tBool)}, nil
	}
	if isBool(dt) { // arrow-go's is_in gives wrong results on booleans
		for i := range nodes {
			if nodes[i], err = convert(nodes[i], tInt64, pos[i]); err != nil {
				return nil, err
			}
		}
		dt = tInt64
	}
	// is_in runs on the physical type of temporal values.
	phys := dt
	switch {
	case isTS(dt), isDur(dt):
		phys = tInt64
	case isDate(dt):
		phys = arrow.PrimitiveTypes.Int32
	}
	mem := memory.DefaultAllocator
	items := make([]arrow.Array, 0, len(nodes)-1)
	defer func() {
		for _, a := range items {
			a.Release()
		}
	}()
	for _, k := range nodes[1:] {
		a, err := scalar.MakeArrayFromScalar(k.(*constNode).sc, 1, mem)
		if err != nil {
			return nil, errAt(ErrType, n.At, "in: %v", err)
		}
		items = append(items, retype(a, phys))
		a.Release()
	}
	set, err := array.Concatenate(items, mem)
	if err != nil {
		return nil, errAt(ErrType, n.At, "in: %v", err)
	}
	x = nodes[0]
	if !arrow.TypeEqual(phys, dt) {
		x = &castNode{x: x, to: phys, how: castRetype}
	}
	var res cnode = &inNode{x: x, set: set}
	if res, err = fold(res, n.At, x); err != nil {
		return nil, err
	}
	if n.Not {
		return fold(&boolOpNode{op: "not", x: res}, n.At, res)
	}
	return res, nil
}

// functions lists the function names for error messages.
var functions = []string{"abs", "coalesce", "concat", "contains", "ends_with", "if", "starts_with"}

func (c *compiler) call(n *Call) (cnode, error) {
	args := make([]cnode, len(n.Args))
	pos := make([]Pos, len(n.Args))
	for i, a := range n.Args {
		var err error
		if args[i], err = c.compile(a); err != nil {
			return nil, err
		}
		pos[i] = a.Pos()
	}
	arity := func(want int) error {
		if len(args) != want {
			return errAt(ErrType, n.At, "%s takes %d arguments, got %d", n.Name, want, len(args))
		}
		return nil
	}
	switch n.Name {
	case "if":
		if err := arity(3); err != nil {
			return nil, err
		}
		cond, err := boolOperand(args[0], pos[0], "if")
		if err != nil {
			return nil, err
		}
		vals, dt, err := unify(args[1:], pos[1:], "if branches")
		if err != nil {
			return nil, err
		}
		return fold(&selectNode{conds: []cnode{cond}, vals: vals[:1], els: vals[1], dt: dt}, n.At, cond, vals[0], vals[1])
	case "coalesce":
		if len(args) == 0 {
			return nil, errAt(ErrType, n.At, "coalesce takes at least 1 argument")
		}
		vals, dt, err := unify(args, pos, "coalesce")
		if err != nil {
			return nil, err
		}
		if len(vals) == 1 {
			return vals[0], nil
		}
		return fold(&coalesceNode{args: vals, dt: dt}, n.At, vals...)
	case "starts_with", "ends_with", "contains":
		if err := arity(2); err != nil {
			return nil, err
		}
		for i, a := range args {
			if dt := a.typ(); !isString(dt) && !isNull(dt) {
				return nil, errAt(ErrType, pos[i], "%s needs strings, got %s", n.Name, dt)
			}
		}
		vals, dt, err := unify(args, pos, n.Name)
		if err != nil {
			return nil, err
		}
		if isNull(dt) {
			return &constNode{sc: scalar.MakeNullScalar(tBool)}, nil
		}
		return fold(&matchNode{op: n.Name, s: vals[0], p: vals[1]}, n.At, vals...)
	case "concat":
		if len(args) == 0 {
			return nil, errAt(ErrType, n.At, "concat takes at least 1 argument")
		}
		for i, a := range args {
			if dt := a.typ(); !isString(dt) && !isNull(dt) {
				return nil, errAt(ErrType, pos[i], "concat needs strings, got %s (cast it: cast(x as string))", dt)
			}
		}
		vals, dt, err := unify(args, pos, "concat")
		if err != nil {
			return nil, err
		}
		if isNull(dt) {
			return &constNode{sc: scalar.MakeNullScalar(arrow.BinaryTypes.String)}, nil
		}
		return fold(&concatNode{args: vals, dt: dt}, n.At, vals...)
	case "abs":
		if err := arity(1); err != nil {
			return nil, err
		}
		x, dt := args[0], args[0].typ()
		switch {
		case isNull(dt):
			return &constNode{sc: scalar.MakeNullScalar(tInt64)}, nil
		case !isNumeric(dt):
			return nil, errAt(ErrType, pos[0], "abs needs a number, got %s", dt)
		}
		to := tInt64
		if isFloat(dt) {
			to = tFloat64
		}
		x, err := convert(x, to, pos[0])
		if err != nil {
			return nil, err
		}
		return fold(&kernelNode{fn: "abs_unchecked", args: []cnode{x}, dt: to}, n.At, x)
	}
	return nil, errAt(ErrType, n.At, "unknown function %q (known: %s)", n.Name, strings.Join(functions, ", "))
}

func (c *compiler) caseWhen(n *Case) (cnode, error) {
	conds := make([]cnode, len(n.Whens))
	vals := make([]cnode, 0, len(n.Whens)+1)
	pos := make([]Pos, 0, len(n.Whens)+1)
	for i, w := range n.Whens {
		cond, err := c.compile(w.Cond)
		if err != nil {
			return nil, err
		}
		if conds[i], err = boolOperand(cond, w.Cond.Pos(), "when"); err != nil {
			return nil, err
		}
		v, err := c.compile(w.Then)
		if err != nil {
			return nil, err
		}
		vals, pos = append(vals, v), append(pos, w.Then.Pos())
	}
	if n.Else != nil {
		v, err := c.compile(n.Else)
		if err != nil {
			return nil, err
		}
		vals, pos = append(vals, v), append(pos, n.Else.Pos())
	} else {
		vals, pos = append(vals, &constNode{sc: scalar.MakeNullScalar(tNull)}), append(pos, n.At)
	}
	vals, dt, err := unify(vals, pos, "case branches")
	if err != nil {
		return nil, err
	}
	last := len(vals) - 1
	return fold(&selectNode{conds: conds, vals: vals[:last], els: vals[last], dt: dt}, n.At, append(conds, vals...)...)
}

func (c *compiler) cast(n *Cast) (cnode, error) {
	x, err := c.compile(n.X)
	if err != nil {
		return nil, err
	}
	to, ok := castTypes[n.Type]
	if !ok {
		return nil, errAt(ErrType, n.TypePos, "unknown type %q in cast (known: %s)", n.Type, castTypeNames())
	}
	from := x.typ()
	bad := func() error {
		return errAt(ErrType, n.At, "cannot cast %s to %s", from, n.Type)
	}
	var node cnode
	switch {
	case arrow.TypeEqual(from, to):
		return x, nil
	case isNull(from):
		return &constNode{sc: scalar.MakeNullScalar(to)}, nil
	case isFloat(from) && isInt(to):
		node = &castNode{x: x, to: to, how: castFloatInt}
	case isDate(from) && isInt(to):
		node = &castNode{x: &castNode{x: x, to: arrow.PrimitiveTypes.Int32, how: castRetype}, to: to, how: castArrow}
	case isString(to) && !isString(from) && !isDur(from):
		node = &castNode{x: x, to: to, how: castToString}
	case isString(from) && isDate(to): // parse, then take the day
		ts := &castNode{x: x, to: castTypes["timestamp"], how: castStringTS}
		node = &castNode{x: ts, to: to, how: castArrow}
	case isString(from) && isTS(to):
		node = &castNode{x: x, to: to, how: castStringTS}
	case isTS(from) && isTS(to):
		how := castArrow
		switch f, t := tsType(from), tsType(to); {
		case f.Unit == t.Unit:
			how = castRetype
		case f.Unit > t.Unit:
			how = castTSFloor // to a coarser unit: round down
		}
		node = &castNode{x: x, to: to, how: how}
	case isTS(to) && !isDate(from) && !isInt(from):
		return nil, bad()
	case isDate(to) && !isTS(from) && !isString(from):
		return nil, bad()
	case isDur(from) && !isInt(to):
		return nil, bad()
	case isTS(from) && isFloat(to), isTS(from) && isBool(to), isDate(from) && (isFloat(to) || isBool(to)):
		return nil, bad()
	case compute.CanCast(from, to):
		node = &castNode{x: x, to: to, how: castArrow}
	default:
		return nil, bad()
	}
	return fold(node, n.At, x)
}
