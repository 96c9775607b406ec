package expr

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Expr is a compiled expression: type-checked against a schema and
// planned as a tree of vectorized Arrow compute kernels. It is immutable
// and safe for concurrent use by several goroutines.
type Expr struct {
	src   string
	root  cnode
	names []string
	types []arrow.DataType
	index []int
}

// Compile parses src and type-checks it against schema, before any row
// runs. Errors are [*Error] values with the position in src, wrapping
// [ErrSyntax], [ErrUnknownColumn], [ErrType] or, when a constant part
// fails to evaluate (cast('x' as int64)), [ErrEval].
func Compile(src string, schema *arrow.Schema) (*Expr, error) {
	ast, err := Parse(src)
	if err != nil {
		return nil, err
	}
	if schema == nil {
		schema = arrow.NewSchema(nil, nil)
	}
	c := &compiler{schema: schema, slots: map[string]int{}}
	root, err := c.compile(ast)
	if err != nil {
		return nil, err
	}
	root = fuse(root)
	return &Expr{src: src, root: root, names: c.names, types: c.types, index: c.index}, nil
}

// MustCompile is like Compile but panics on error; for expressions fixed
// in the program.
func MustCompile(src string, schema *arrow.Schema) *Expr {
	x, err := Compile(src, schema)
	if err != nil {
		panic(err)
	}
	return x
}

// String returns the source text.
func (x *Expr) String() string { return x.src }

// Type is the type of the arrays Eval returns.
func (x *Expr) Type() arrow.DataType { return x.root.typ() }

// Columns returns the names of the columns the expression reads, in order
// of first appearance. PCS systems declare their reads with it.
func (x *Expr) Columns() []string { return append([]string(nil), x.names...) }

// IsConstant reports whether the result does not depend on the rows: the
// expression was evaluated by Compile and Eval only broadcasts it.
func (x *Expr) IsConstant() bool { return isConst(x.root) }

// Eval evaluates the expression over rec and returns an array of
// rec.NumRows() values of type Type(); the caller releases it. rec must
// have the columns of Columns() with the types of the compile-time schema
// (found by name; other columns are ignored), else the error wraps
// [ErrUnknownColumn] or [ErrSchema]. The result may share buffers with
// rec (a bare column reference returns that column). mem allocates the
// result and intermediates; nil means memory.DefaultAllocator.
func (x *Expr) Eval(ctx context.Context, rec arrow.RecordBatch, mem memory.Allocator) (arrow.Array, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	e := &env{ctx: compute.WithAllocator(ctx, mem), mem: mem, n: int(rec.NumRows())}
	if err := x.bind(e, rec); err != nil {
		return nil, err
	}
	if e.n == 0 { // nothing to compute (and arrow-go's is_in leaks on empty input)
		return array.MakeArrayOfNull(mem, x.Type(), 0), nil
	}
	v, err := x.root.eval(e)
	if err != nil {
		return nil, err
	}
	defer v.release()
	arr, err := e.array(v)
	if err != nil {
		return nil, err
	}
	if arr.Len() != e.n || !arrow.TypeEqual(arr.DataType(), x.Type()) {
		arr.Release()
		return nil, fmt.Errorf("%w: internal: result %s[%d], want %s[%d]", ErrEval, arr.DataType(), arr.Len(), x.Type(), e.n)
	}
	return arr, nil
}

// bind finds the referenced columns in rec.
func (x *Expr) bind(e *env, rec arrow.RecordBatch) error {
	sc := rec.Schema()
	e.cols = make([]arrow.Array, len(x.names))
	for slot, name := range x.names {
		idx := x.index[slot]
		if idx >= sc.NumFields() || sc.Field(idx).Name != name {
			found := sc.FieldIndices(name)
			if len(found) != 1 {
				return fmt.Errorf("%w: %q (%d in the batch)", ErrUnknownColumn, name, len(found))
			}
			idx = found[0]
		}
		if got := sc.Field(idx).Type; !arrow.TypeEqual(got, x.types[slot]) {
			return fmt.Errorf("%w: column %q is %s, compiled for %s", ErrSchema, name, got, x.types[slot])
		}
		e.cols[slot] = rec.Column(idx)
	}
	return nil
}

// Mask evaluates a boolean expression and returns a boolean array without
// nulls: null counts as false, as in SQL WHERE. The caller releases it.
func (x *Expr) Mask(ctx context.Context, rec arrow.RecordBatch, mem memory.Allocator) (*array.Boolean, error) {
	dt := x.Type()
	if !isBool(dt) && !isNull(dt) {
		return nil, fmt.Errorf("%w: %q is %s, not bool", ErrType, x.src, dt)
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if isNull(dt) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return newBool(mem, int(rec.NumRows()), nil, nil).(*array.Boolean), nil
	}
	arr, err := x.Eval(ctx, rec, mem)
	if err != nil {
		return nil, err
	}
	b := arr.(*array.Boolean)
	if b.NullN() == 0 {
		return b, nil
	}
	defer b.Release()
	n := b.Len()
	buf := newBitmap(mem, n)
	bitutil.BitmapAnd(valueBits(b), b.NullBitmapBytes(), int64(b.Data().Offset()), int64(b.Data().Offset()), buf.Bytes(), 0, int64(n))
	return newBool(mem, n, buf, nil).(*array.Boolean), nil
}

// Filter returns the rows of rec for which the boolean expression is true
// (null counts as false). The caller releases the result, which may share
// buffers with rec (all rows kept: rec itself, retained).
func (x *Expr) Filter(ctx context.Context, rec arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	mask, err := x.Mask(ctx, rec, mem)
	if err != nil {
		return nil, err
	}
	defer mask.Release()
	n := mask.Len()
	kept := bitutil.CountSetBits(valueBits(mask), mask.Data().Offset(), n)
	switch kept {
	case n:
		rec.Retain()
		return rec, nil
	case 0:
		return rec.NewSlice(0, 0), nil
	}
	return filterBatch(ctx, mem, rec, mask, kept)
}

// value is an intermediate result: an array (owned: release it) or a
// scalar (a compile-time constant: never released).
type value struct {
	arr arrow.Array
	sc  scalar.Scalar
}

func (v value) release() {
	if v.arr != nil {
		v.arr.Release()
	}
}

func (v value) datum() compute.Datum {
	if v.arr != nil {
		return compute.NewDatumWithoutOwning(v.arr)
	}
	return compute.NewDatumWithoutOwning(v.sc)
}

func (v value) typ() arrow.DataType {
	if v.arr != nil {
		return v.arr.DataType()
	}
	return v.sc.DataType()
}

// env is the state of one evaluation.
type env struct {
	ctx  context.Context // carries mem for the compute kernels
	mem  memory.Allocator
	n    int           // rows
	cols []arrow.Array // by slot, borrowed from the batch
	fold bool          // constant folding: constants are materialized
}

// array returns v as an array of e.n rows (a new reference).
func (e *env) array(v value) (arrow.Array, error) {
	if v.arr != nil {
		v.arr.Retain()
		return v.arr, nil
	}
	return scalar.MakeArrayFromScalar(v.sc, e.n, e.mem)
}

// fromDatum converts a kernel result to a value and releases the datum.
func (e *env) fromDatum(d compute.Datum) (value, error) {
	defer d.Release()
	switch d := d.(type) {
	case *compute.ArrayDatum:
		return value{arr: d.MakeArray()}, nil
	case *compute.ScalarDatum:
		arr, err := scalar.MakeArrayFromScalar(d.Value, e.n, e.mem)
		return value{arr: arr}, err
	}
	return value{}, fmt.Errorf("%w: internal: unexpected kernel result %s", ErrEval, d.Kind())
}

// cnode is a compiled, typed operation.
type cnode interface {
	typ() arrow.DataType
	// eval returns the result for e.n rows. Only a constNode returns a
	// scalar outside of folding.
	eval(e *env) (value, error)
}

// evalAll evaluates nodes; on error it releases what it got.
func evalAll(e *env, nodes []cnode) ([]value, error) {
	vals := make([]value, 0, len(nodes))
	for _, n := range nodes {
		v, err := n.eval(e)
		if err != nil {
			releaseAll(vals)
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

func releaseAll(vals []value) {
	for _, v := range vals {
		v.release()
	}
}

type constNode struct{ sc scalar.Scalar }

func (n *constNode) typ() arrow.DataType { return n.sc.DataType() }
func (n *constNode) eval(e *env) (value, error) {
	if e.fold {
		arr, err := scalar.MakeArrayFromScalar(n.sc, e.n, e.mem)
		return value{arr: arr}, err
	}
	return value{sc: n.sc}, nil
}

type colNode struct {
	slot int
	name string
	dt   arrow.DataType
}

func (n *colNode) typ() arrow.DataType { return n.dt }
func (n *colNode) eval(e *env) (value, error) {
	a := e.cols[n.slot]
	a.Retain()
	return value{arr: a}, nil
}

// kernelNode calls an arrow-go compute function.
type kernelNode struct {
	fn   string
	opts compute.FunctionOptions
	args []cnode
	dt   arrow.DataType
}

func (n *kernelNode) typ() arrow.DataType { return n.dt }
func (n *kernelNode) eval(e *env) (value, error) {
	vals, err := evalAll(e, n.args)
	if err != nil {
		return value{}, err
	}
	defer releaseAll(vals)
	args := make([]compute.Datum, len(vals))
	for i, v := range vals {
		args[i] = v.datum()
	}
	d, err := compute.CallFunction(e.ctx, n.fn, n.opts, args...)
	if err != nil {
		return value{}, fmt.Errorf("%w: %s: %w", ErrEval, n.fn, err)
	}
	return e.fromDatum(d)
}

type castHow int

const (
	castArrow       castHow = iota // arrow-go cast, safe (errors on loss)
	castArrowUnsafe                // arrow-go cast, truncating
	castRetype                     // same physical values, new type (zero copy)
	castFloatInt                   // own: truncate toward zero, null when out of range
	castStringTS                   // own: parse RFC 3339 timestamps
	castToString                   // own: format numbers, bools, dates, timestamps
	castTSFloor                    // own: timestamp to a coarser unit, rounding down
)

type castNode struct {
	x   cnode
	to  arrow.DataType
	how castHow
}

func (n *castNode) typ() arrow.DataType { return n.to }
func (n *castNode) eval(e *env) (value, error) {
	v, err := n.x.eval(e)
	if err != nil {
		return value{}, err
	}
	defer v.release()
	arr, err := e.array(v)
	if err != nil {
		return value{}, err
	}
	defer arr.Release()
	switch n.how {
	case castRetype:
		return value{arr: retype(arr, n.to)}, nil
	case castFloatInt:
		return floatToInt(e, arr)
	case castStringTS:
		return stringToTimestamp(e, arr, n.to.(*arrow.TimestampType))
	case castToString:
		return toString(e, arr, n.to)
	case castTSFloor:
		return timestampFloor(e, arr, n.to.(*arrow.TimestampType))
	}
	if isBool(arr.DataType()) && isNumeric(n.to) {
		return boolToNumber(e, arr, n.to)
	}
	opts := compute.SafeCastOptions(n.to)
	if n.how == castArrowUnsafe {
		opts = compute.UnsafeCastOptions(n.to)
	}
	out, err := compute.CastArray(e.ctx, arr, opts)
	if err != nil {
		return value{}, fmt.Errorf("%w: cast %s to %s: %w", ErrEval, arr.DataType(), n.to, err)
	}
	return value{arr: out}, nil
}

// retype returns arr's data under another type of the same layout.
func retype(arr arrow.Array, to arrow.DataType) arrow.Array {
	d := arr.Data()
	nd := array.NewData(to, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}

// divModNode is / or % on int64 or float64 (own kernel: division by zero
// gives null, which the arrow-go kernels do not offer).
type divModNode struct {
	l, r cnode
	mod  bool
	dt   arrow.DataType
}

func (n *divModNode) typ() arrow.DataType { return n.dt }
func (n *divModNode) eval(e *env) (value, error) {
	vals, err := evalAll(e, []cnode{n.l, n.r})
	if err != nil {
		return value{}, err
	}
	defer releaseAll(vals)
	return divMod(e, vals[0], vals[1], n.mod, n.dt)
}

// inNode is x in (constants) with SQL semantics (arrow-go is_in with
// NullMatchingInconclusive).
type inNode struct {
	x   cnode
	set arrow.Array
}

func (n *inNode) typ() arrow.DataType { return tBool }
func (n *inNode) eval(e *env) (value, error) {
	v, err := n.x.eval(e)
	if err != nil {
		return value{}, err
	}
	defer v.release()
	d, err := compute.IsIn(e.ctx, compute.SetOptions{
		ValueSet:     compute.NewDatumWithoutOwning(n.set),
		NullBehavior: compute.NullMatchingInconclusive,
	}, v.datum())
	if err != nil {
		return value{}, fmt.Errorf("%w: in: %w", ErrEval, err)
	}
	return e.fromDatum(d)
}

// selectNode is case when conds[0] then vals[0] ... else els end; if() is
// the one-condition case. A null condition counts as false.
type selectNode struct {
	conds, vals []cnode
	els         cnode
	dt          arrow.DataType
}

func (n *selectNode) typ() arrow.DataType { return n.dt }
func (n *selectNode) eval(e *env) (value, error) {
	acc, err := n.els.eval(e)
	if err != nil {
		return value{}, err
	}
	for i := len(n.conds) - 1; i >= 0; i-- {
		vals, err := evalAll(e, []cnode{n.conds[i], n.vals[i]})
		if err != nil {
			acc.release()
			return value{}, err
		}
		next, err := selectValues(e, condBits(e, vals[0]), vals[1], acc, n.dt) // releases the cond
		releaseAll(vals)
		acc.release()
		if err != nil {
			return value{}, err
		}
		acc = next
	}
	return acc, nil
}

// coalesceNode returns the first non-null argument.
type coalesceNode struct {
	args []cnode
	dt   arrow.DataType
}

func (n *coalesceNode) typ() arrow.DataType { return n.dt }
func (n *coalesceNode) eval(e *env) (value, error) {
	last := len(n.args) - 1
	acc, err := n.args[last].eval(e)
	if err != nil {
		return value{}, err
	}
	for i := last - 1; i >= 0; i-- {
		v, err := n.args[i].eval(e)
		if err != nil {
			acc.release()
			return value{}, err
		}
		next, err := selectValues(e, validBits(e, v), v, acc, n.dt)
		v.release()
		acc.release()
		if err != nil {
			return value{}, err
		}
		acc = next
	}
	return acc, nil
}

// matchNode is starts_with, ends_with or contains.
type matchNode struct {
	op   string
	s, p cnode
}

func (n *matchNode) typ() arrow.DataType { return tBool }
func (n *matchNode) eval(e *env) (value, error) {
	vals, err := evalAll(e, []cnode{n.s, n.p})
	if err != nil {
		return value{}, err
	}
	defer releaseAll(vals)
	return match(e, n.op, vals[0], vals[1])
}

// concatNode is concat(s1, s2, ...): null if any argument is null (SQL
// ||), of type dt (string, or large_string if any argument is).
type concatNode struct {
	args []cnode
	dt   arrow.DataType
}

func (n *concatNode) typ() arrow.DataType { return n.dt }
func (n *concatNode) eval(e *env) (value, error) {
	vals, err := evalAll(e, n.args)
	if err != nil {
		return value{}, err
	}
	defer releaseAll(vals)
	return concat(e, n.dt, vals), nil
}

// boolOpNode is not, is_null or is_not_null (own kernels: arrow-go's
// not, is_not_null and bool casts give wrong results on arrays sliced at
// an offset that is not a multiple of 8).
type boolOpNode struct {
	op string
	x  cnode
}

func (n *boolOpNode) typ() arrow.DataType { return tBool }
func (n *boolOpNode) eval(e *env) (value, error) {
	v, err := n.x.eval(e)
	if err != nil {
		return value{}, err
	}
	defer v.release()
	arr, err := e.array(v)
	if err != nil {
		return value{}, err
	}
	defer arr.Release()
	if n.op == "not" {
		return not(e, arr.(*array.Boolean)), nil
	}
	return nullTest(e, arr, n.op == "is_null"), nil
}
