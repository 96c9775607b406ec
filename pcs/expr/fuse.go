package expr

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Fused arithmetic. A tree of arithmetic on int64/float64 (+ - * / %,
// unary minus, abs, and the widening casts that promotion inserts), such
// as delay * 1.5 + distance / 100, runs as one program over blocks of
// blockRows rows: each instruction is a typed loop over a block-sized
// register that stays in the CPU cache, and only the result is written to
// a full-length buffer. One kernel call per operation would instead
// allocate, fill and re-read a full-length intermediate array per
// operation (about 1 ns per row each with Go's allocator). It is still
// vectorized execution: loops over columns, never a walk of the tree per
// row. All operations propagate nulls, so the result's validity is the
// AND of the inputs' validity, minus the rows divided by zero.

const blockRows = 1024

type numOp uint8

const (
	opLoad  numOp = iota // reg = leaf, converted to int64 or float64
	opConst              // reg = constant (filled once)
	opIToF               // float reg = int reg
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opNeg
	opAbs
)

// numInstr is one instruction: dst = a op b. A float operation reads int
// operands as they are (converting on the fly: no conversion pass), and a
// constant second operand is an immediate.
type numInstr struct {
	op    numOp
	float bool // writes a float64 register, else int64
	dst   int
	a, b  int // source registers; for opLoad, a is the leaf index
	aInt  bool
	bInt  bool
	bImm  bool // b is the immediate ci (int) or cf (float)
	ci    int64
	cf    float64
	k     *divider // int64 / or % by a constant that is not zero
}

// operand is where emit left a value: a register or a constant.
type operand struct {
	reg   int
	float bool
	imm   bool
	ci    int64
	cf    float64
}

// fusedNode runs a compiled arithmetic program.
type fusedNode struct {
	code   []numInstr
	leaves []cnode
	nregs  int
	out    int // the result register
	dt     arrow.DataType
}

func (n *fusedNode) typ() arrow.DataType { return n.dt }

// fusable reports whether n is an operation the program can run.
func fusable(n cnode) bool {
	numeric := func(dt arrow.DataType) bool { return dt.ID() == arrow.INT64 || dt.ID() == arrow.FLOAT64 }
	switch n := n.(type) {
	case *kernelNode:
		switch n.fn {
		case "add_unchecked", "subtract_unchecked", "multiply_unchecked", "negate_unchecked", "abs_unchecked":
			return numeric(n.dt)
		}
	case *divModNode:
		return true
	case *castNode:
		return n.how == castArrow && numeric(n.to) && loadable(n.x.typ())
	}
	return false
}

// loadable: a leaf type the program converts on load (uint64 needs the
// overflow check of Arrow's cast, so it stays behind one).
func loadable(dt arrow.DataType) bool {
	return isNumeric(dt) && dt.ID() != arrow.UINT64
}

// fuse rewrites the tree, replacing arithmetic subtrees of two or more
// operations by fusedNodes.
func fuse(n cnode) cnode {
	if fusable(n) && countOps(n) >= 2 {
		if f := compileProgram(n); f != nil {
			return f
		}
	}
	switch n := n.(type) {
	case *kernelNode:
		n.args = fuseAll(n.args)
	case *castNode:
		n.x = fuse(n.x)
	case *divModNode:
		n.l, n.r = fuse(n.l), fuse(n.r)
	case *inNode:
		n.x = fuse(n.x)
	case *selectNode:
		n.conds, n.vals, n.els = fuseAll(n.conds), fuseAll(n.vals), fuse(n.els)
	case *coalesceNode:
		n.args = fuseAll(n.args)
	case *matchNode:
		n.s, n.p = fuse(n.s), fuse(n.p)
	case *boolOpNode:
		n.x = fuse(n.x)
	}
	return n
}

func fuseAll(ns []cnode) []cnode {
	for i, n := range ns {
		ns[i] = fuse(n)
	}
	return ns
}

func opChildren(n cnode) []cnode {
	switch n := n.(type) {
	case *kernelNode:
		return n.args
	case *divModNode:
		return []cnode{n.l, n.r}
	case *castNode:
		return []cnode{n.x}
	}
	return nil
}

func countOps(n cnode) int {
	if !fusable(n) {
		return 0
	}
	c := 1
	for _, k := range opChildren(n) {
		c += countOps(k)
	}
	return c
}

// compileProgram returns nil when the subtree holds something the program
// cannot run (a null constant).
func compileProgram(root cnode) *fusedNode {
	f := &fusedNode{dt: root.typ()}
	newReg := func() int { f.nregs++; return f.nregs - 1 }
	// reg puts an operand in a register (constants get one, filled once).
	reg := func(o operand) operand {
		if !o.imm {
			return o
		}
		in := numInstr{op: opConst, float: o.float, dst: newReg(), ci: o.ci, cf: o.cf}
		f.code = append(f.code, in)
		return operand{reg: in.dst, float: o.float}
	}
	var emit func(n cnode) (operand, bool)
	emit = func(n cnode) (operand, bool) {
		if k, ok := n.(*constNode); ok {
			switch s := k.sc.(type) {
			case *scalar.Int64:
				if s.Valid {
					return operand{imm: true, ci: s.Value, cf: float64(s.Value)}, true
				}
			case *scalar.Float64:
				if s.Valid {
					return operand{imm: true, float: true, cf: s.Value}, true
				}
			}
			return operand{}, false
		}
		if !fusable(n) {
			if !loadable(n.typ()) {
				return operand{}, false
			}
			in := numInstr{op: opLoad, a: len(f.leaves), dst: newReg(), float: isFloat(n.typ())}
			f.leaves = append(f.leaves, n)
			f.code = append(f.code, in)
			return operand{reg: in.dst, float: in.float}, true
		}
		kids := opChildren(n)
		ops := make([]operand, len(kids))
		for i, k := range kids {
			o, ok := emit(k)
			if !ok {
				return operand{}, false
			}
			ops[i] = o
		}
		wantFloat := n.typ().ID() == arrow.FLOAT64
		if _, ok := n.(*castNode); ok {
			// int64 to float64: consumers read int operands as floats
			return ops[0], true
		}
		in := numInstr{float: wantFloat}
		switch n := n.(type) {
		case *divModNode:
			in.op = opDiv
			if n.mod {
				in.op = opMod
			}
		case *kernelNode:
			switch n.fn {
			case "add_unchecked":
				in.op = opAdd
			case "subtract_unchecked":
				in.op = opSub
			case "multiply_unchecked":
				in.op = opMul
			case "negate_unchecked":
				in.op = opNeg
			case "abs_unchecked":
				in.op = opAbs
			}
		}
		a := ops[0]
		if len(ops) == 2 {
			b := ops[1]
			if a.imm && (in.op == opAdd || in.op == opMul) {
				a, b = b, a // constants go second
			}
			a = reg(a)
			in.b, in.bInt, in.bImm, in.ci, in.cf = b.reg, !b.float, b.imm, b.ci, b.cf
			if b.imm && !wantFloat && (in.op == opDiv || in.op == opMod) && b.ci != 0 {
				v := newDivider(b.ci)
				in.k = &v
			}
		}
		in.a, in.aInt = a.reg, !a.float
		in.dst = newReg()
		f.code = append(f.code, in)
		return operand{reg: in.dst, float: wantFloat}, true
	}
	o, ok := emit(root)
	if !ok {
		return nil
	}
	if o.imm { // not reached: constant trees are folded
		return nil
	}
	if f.dt.ID() == arrow.FLOAT64 && !o.float { // the root is a cast
		in := numInstr{op: opIToF, float: true, a: o.reg, dst: newReg()}
		f.code = append(f.code, in)
		o = operand{reg: in.dst, float: true}
	}
	if f.code[len(f.code)-1].dst != o.reg {
		return nil // not reached: the last instruction makes the result
	}
	f.out = o.reg
	for i, l := range f.leaves {
		f.leaves[i] = fuse(l)
	}
	return f
}

func (f *fusedNode) eval(e *env) (value, error) {
	vals, err := evalAll(e, f.leaves)
	if err != nil {
		return value{}, err
	}
	defer releaseAll(vals)
	for i, v := range vals { // leaves are never constants, but be safe
		if v.arr == nil {
			arr, err := e.array(v)
			if err != nil {
				return value{}, err
			}
			vals[i].arr = arr
		}
	}
	n := e.n
	valid := validityAnd(e, vals...)
	vb := valid.Bytes()
	isFloat := f.dt.ID() == arrow.FLOAT64
	var data *memory.Buffer
	var outI []int64
	var outF []float64
	if isFloat {
		data, outF = newFixed[float64](e.mem, n)
	} else {
		data, outI = newFixed[int64](e.mem, n)
	}
	iregs := make([][]int64, f.nregs)
	fregs := make([][]float64, f.nregs)
	for _, in := range f.code {
		if in.dst == f.out || in.op == opLoad && loadsInPlace(in, vals[in.a].arr) {
			continue
		}
		if in.float {
			fregs[in.dst] = make([]float64, blockRows)
		} else {
			iregs[in.dst] = make([]int64, blockRows)
		}
		if in.op == opConst { // constants fill their register once
			if in.float {
				fill(fregs[in.dst], in.cf)
			} else {
				fill(iregs[in.dst], in.ci)
			}
		}
	}
	for start := 0; start < n; start += blockRows {
		m := min(blockRows, n-start)
		// the last instruction writes straight into the result
		if isFloat {
			fregs[f.out] = outF[start : start+m]
		} else {
			iregs[f.out] = outI[start : start+m]
		}
		for _, in := range f.code {
			switch in.op {
			case opConst:
			case opLoad:
				arr := vals[in.a].arr
				switch {
				case loadsInPlace(in, arr) && in.float:
					fregs[in.dst] = fixedValues[float64](arr)[start : start+m]
				case loadsInPlace(in, arr):
					iregs[in.dst] = fixedValues[int64](arr)[start : start+m]
				case in.float:
					loadFloat(fregs[in.dst][:m], arr, start)
				default:
					loadInt(iregs[in.dst][:m], arr, start)
				}
			case opIToF:
				d, a := fregs[in.dst][:m], iregs[in.a][:m]
				for i, x := range a {
					d[i] = float64(x)
				}
			default:
				if in.float {
					if in.aInt {
						runFloat(in, fregs[in.dst][:m], iregs[in.a][:m], fregs, iregs, vb, start)
					} else {
						runFloat(in, fregs[in.dst][:m], fregs[in.a][:m], fregs, iregs, vb, start)
					}
				} else {
					runInt(in, iregs[in.dst][:m], iregs[in.a][:m], iregs, vb, start)
				}
			}
		}
	}
	return value{arr: makeArray(f.dt, n, []*memory.Buffer{valid, data})}, nil
}

func fill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// runInt runs an int64 operation on a block: d = a op b.
func runInt(in numInstr, d, a []int64, r [][]int64, vb []byte, base int) {
	switch {
	case in.op == opNeg:
		for i, x := range a {
			d[i] = -x
		}
	case in.op == opAbs:
		for i, x := range a {
			if x < 0 {
				x = -x
			}
			d[i] = x
		}
	case in.k != nil: // by a constant: no hardware divide
		in.k.divAll(d, a)
		if in.op == opMod {
			kd := in.k.d
			for i, x := range a {
				d[i] = x - d[i]*kd
			}
		}
	case in.bImm:
		c := in.ci
		switch in.op {
		case opAdd:
			for i, x := range a {
				d[i] = x + c
			}
		case opSub:
			for i, x := range a {
				d[i] = x - c
			}
		case opMul:
			for i, x := range a {
				d[i] = x * c
			}
		default: // / or % by zero
			clear(d)
			bitutil.SetBitsTo(vb, int64(base), int64(len(d)), false)
		}
	default:
		binInt(in.op, d, a, r[in.b][:len(d)], vb, base)
	}
}

func binInt(op numOp, d, a, b []int64, vb []byte, base int) {
	a, b = a[:len(d)], b[:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = a[i] + b[i]
		}
	case opSub:
		for i := range d {
			d[i] = a[i] - b[i]
		}
	case opMul:
		for i := range d {
			d[i] = a[i] * b[i]
		}
	case opDiv, opMod:
		for i := range d {
			y := b[i]
			switch {
			case y == 0:
				d[i] = 0
				bitutil.ClearBit(vb, base+i)
			case op == opDiv:
				d[i] = a[i] / y
			default:
				d[i] = a[i] % y
			}
		}
	}
}

// runFloat runs a float64 operation on a block: d = a op b, where a and b
// may be int64 registers.
func runFloat[A int64 | float64](in numInstr, d []float64, a []A, fr [][]float64, ir [][]int64, vb []byte, base int) {
	switch {
	case in.op == opNeg:
		for i, x := range a {
			d[i] = -float64(x)
		}
	case in.op == opAbs:
		for i, x := range a {
			d[i] = math.Abs(float64(x))
		}
	case in.bImm:
		binFloatImm(in.op, d, a, in.cf, vb, base)
	case in.bInt:
		binFloat(in.op, d, a, ir[in.b], vb, base)
	default:
		binFloat(in.op, d, a, fr[in.b], vb, base)
	}
}

func binFloat[A, B int64 | float64](op numOp, d []float64, a []A, b []B, vb []byte, base int) {
	a, b = a[:len(d)], b[:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = float64(a[i]) + float64(b[i])
		}
	case opSub:
		for i := range d {
			d[i] = float64(a[i]) - float64(b[i])
		}
	case opMul:
		for i := range d {
			d[i] = float64(a[i]) * float64(b[i])
		}
	case opDiv, opMod:
		for i := range d {
			y := float64(b[i])
			switch {
			case y == 0:
				d[i] = 0
				bitutil.ClearBit(vb, base+i)
			case op == opDiv:
				d[i] = float64(a[i]) / y
			default:
				d[i] = math.Mod(float64(a[i]), y)
			}
		}
	}
}

func binFloatImm[A int64 | float64](op numOp, d []float64, a []A, c float64, vb []byte, base int) {
	a = a[:len(d)]
	switch {
	case op == opAdd:
		for i, x := range a {
			d[i] = float64(x) + c
		}
	case op == opSub:
		for i, x := range a {
			d[i] = float64(x) - c
		}
	case op == opMul:
		for i, x := range a {
			d[i] = float64(x) * c
		}
	case c == 0: // / or % by zero
		clear(d)
		bitutil.SetBitsTo(vb, int64(base), int64(len(d)), false)
	case op == opDiv:
		for i, x := range a {
			d[i] = float64(x) / c
		}
	default:
		for i, x := range a {
			d[i] = math.Mod(float64(x), c)
		}
	}
}

// loadsInPlace: int64 and float64 leaves are read where they are.
func loadsInPlace(in numInstr, arr arrow.Array) bool {
	id := arr.DataType().ID()
	return in.float && id == arrow.FLOAT64 || !in.float && id == arrow.INT64
}

// loadInt converts rows [start, start+len(d)) of an integer array.
func loadInt(d []int64, arr arrow.Array, start int) {
	switch arr.DataType().ID() {
	case arrow.INT64:
		copy(d, fixedValues[int64](arr)[start:])
	case arrow.INT32:
		convertSlice(d, fixedValues[int32](arr)[start:])
	case arrow.INT16:
		convertSlice(d, fixedValues[int16](arr)[start:])
	case arrow.INT8:
		convertSlice(d, fixedValues[int8](arr)[start:])
	case arrow.UINT32:
		convertSlice(d, fixedValues[uint32](arr)[start:])
	case arrow.UINT16:
		convertSlice(d, fixedValues[uint16](arr)[start:])
	case arrow.UINT8:
		convertSlice(d, fixedValues[uint8](arr)[start:])
	}
}

// loadFloat converts rows [start, start+len(d)) of a numeric array.
func loadFloat(d []float64, arr arrow.Array, start int) {
	switch arr.DataType().ID() {
	case arrow.FLOAT64:
		copy(d, fixedValues[float64](arr)[start:])
	case arrow.FLOAT32:
		convertSlice(d, fixedValues[float32](arr)[start:])
	default:
		tmp := make([]int64, len(d))
		loadInt(tmp, arr, start)
		convertSlice(d, tmp)
	}
}

func convertSlice[D int64 | float64, S int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | float32](d []D, s []S) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = D(x)
	}
}
