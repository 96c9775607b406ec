package window

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Agg is one aggregate of a window.
//
// Func is one of:
//
//	count           rows of the group; with Column set (not "" or "*"):
//	                rows where Column is not null                 -> int64
//	sum             sum of non-null values: integers -> int64 (wrapping
//	                on overflow), floats -> float64; null when
//	                every value is null
//	avg             mean of non-null values                       -> float64
//	min, max        smallest / largest non-null value, same type (integers,
//	                floats, timestamps, dates, strings, bools with
//	                false < true: min is "all true", max "any true")
//	count_distinct  number of distinct non-null values (exact; over
//	                bools 0, 1 or 2)                               -> int64
//	first, last     the non-null value with the smallest / largest event
//	                time, same type (ties: arrival order)
//
// All aggregates skip nulls as SQL does; count(*) counts every row.
// Dictionary-encoded string inputs give plain strings. As names the output
// column (default: "<func>_<column>", or "count" for count(*)).
type Agg struct {
	Func   string
	Column string
	As     string
}

var aggRE = regexp.MustCompile(`(?i)^\s*([a-z_]+)\s*\(\s*(distinct\s+)?([^()]*?)\s*\)\s*(?:as\s+([^\s]+))?\s*$`)

// ParseAgg reads an aggregate as config files write it:
// "avg(delay) as avg_delay", "count(*)", "count(distinct origin) as n",
// "count_distinct(origin)", "max(delay)". Names are case-insensitive;
// a column may be `backquoted`.
func ParseAgg(s string) (Agg, error) {
	m := aggRE.FindStringSubmatch(s)
	if m == nil {
		return Agg{}, fmt.Errorf("%w: aggregate %q (want func(column) [as name])", ErrSpec, s)
	}
	a := Agg{Func: strings.ToLower(m[1]), Column: strings.Trim(m[3], "`"), As: m[4]}
	if m[2] != "" {
		if a.Func != "count" {
			return Agg{}, fmt.Errorf("%w: aggregate %q: distinct only with count", ErrSpec, s)
		}
		a.Func = "count_distinct"
	}
	if a.Column == "*" {
		a.Column = ""
	}
	if _, ok := aggFuncs[a.Func]; !ok {
		return Agg{}, fmt.Errorf("%w: aggregate %q: unknown function %q", ErrSpec, s, a.Func)
	}
	return a, nil
}

// String formats a as ParseAgg reads it.
func (a Agg) String() string {
	col := a.Column
	if col == "" {
		col = "*"
	}
	if a.As != "" {
		return fmt.Sprintf("%s(%s) as %s", a.Func, col, a.As)
	}
	return fmt.Sprintf("%s(%s)", a.Func, col)
}

var aggFuncs = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"count_distinct": true, "first": true, "last": true}

// valKind is how an aggregate reads its input column.
type valKind uint8

const (
	valNone valKind = iota
	valInt
	valUint
	valFloat
	valString
	valBool // stored as uint8: 0 false, 1 true (false < true)
)

func kindOf(dt arrow.DataType) valKind {
	switch t := dt.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.TimestampType, *arrow.Date32Type, *arrow.Date64Type, *arrow.DurationType:
		return valInt
	case *arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		return valUint
	case *arrow.Float32Type, *arrow.Float64Type:
		return valFloat
	case *arrow.StringType, *arrow.LargeStringType:
		return valString
	case *arrow.BooleanType:
		return valBool
	case *arrow.DictionaryType:
		if kindOf(t.ValueType) == valString {
			return valString
		}
	}
	return valNone
}

// aggDef is a compiled Agg.
type aggDef struct {
	Agg
	col     int     // input column, -1 for count(*) and the hidden max time
	kind    valKind // how the input is normalized for this aggregate
	out     arrow.DataType
	pfields []arrow.Field // partial state columns
	hidden  bool          // internal: not a result column
	mk      func(d *aggDef) state
}

// maxTimeAgg is the hidden aggregate every table carries: the max event
// time of its rows, which drives watermarks when partials are merged.
const maxTimeCol = "_max_time"

func compileAgg(a Agg, schema *arrow.Schema) (*aggDef, error) {
	d := &aggDef{Agg: a, col: -1}
	if !aggFuncs[a.Func] {
		return nil, fmt.Errorf("%w: aggregate %s: unknown function %q", ErrSpec, a, a.Func)
	}
	var in arrow.DataType
	if a.Column != "" && a.Column != "*" {
		idx := schema.FieldIndices(a.Column)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%w: aggregate %s: column %q", ErrUnknownColumn, a, a.Column)
		}
		d.col, in = idx[0], schema.Field(idx[0]).Type
	} else if a.Func != "count" {
		return nil, fmt.Errorf("%w: aggregate %s needs a column", ErrSpec, a)
	}
	if d.As == "" {
		d.As = a.Func + "_" + a.Column
		if d.col < 0 {
			d.As = "count"
		}
	}
	k := valNone
	if in != nil {
		k = kindOf(in)
		d.out = in
		if dict, ok := in.(*arrow.DictionaryType); ok {
			d.out = dict.ValueType
		}
	}
	bad := func() error {
		return fmt.Errorf("%w: aggregate %s: column %q is %s", ErrType, a, a.Column, in)
	}
	i64, f64 := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64
	field := func(part string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: d.As + "." + part, Type: t, Nullable: true}
	}
	switch a.Func {
	case "count":
		d.out = i64
		d.pfields = []arrow.Field{field("count", i64)}
		d.mk = func(d *aggDef) state { return &countState{nonNull: d.col >= 0} }
	case "sum":
		switch k {
		case valInt, valUint:
			d.kind, d.out = valInt, i64
			d.mk = func(*aggDef) state { return &sumState[int64]{} }
		case valFloat:
			d.kind, d.out = valFloat, f64
			d.mk = func(*aggDef) state { return &sumState[float64]{} }
		default:
			return nil, bad()
		}
		d.pfields = []arrow.Field{field("sum", d.out), field("n", i64)}
	case "avg":
		if k != valInt && k != valUint && k != valFloat {
			return nil, bad()
		}
		d.kind, d.out = valFloat, f64
		d.pfields = []arrow.Field{field("sum", f64), field("n", i64)}
		d.mk = func(*aggDef) state { return &avgState{} }
	case "min", "max", "first", "last", "count_distinct":
		d.kind = k
		if a.Func == "count_distinct" {
			d.out = i64
		}
		switch k {
		case valInt:
			d.mk = valueState[int64](appendInt, getInt)
		case valUint:
			d.mk = valueState[uint64](appendUint, getUint)
		case valFloat:
			d.mk = valueState[float64](appendFloat, getFloat)
		case valString:
			d.mk = valueState[string](appendString, getString)
		case valBool:
			d.mk = valueState[uint8](appendBool, getBool)
		default:
			return nil, bad()
		}
		switch a.Func {
		case "min", "max":
			d.pfields = []arrow.Field{field(a.Func, d.out)}
		case "first", "last":
			d.pfields = []arrow.Field{field(a.Func, d.out), field(a.Func+"_time", i64)}
		default:
			st := map[valKind]arrow.DataType{valInt: i64, valUint: arrow.PrimitiveTypes.Uint64, valFloat: f64,
				valString: arrow.BinaryTypes.String, valBool: arrow.FixedWidthTypes.Boolean}[k]
			d.pfields = []arrow.Field{field("set", arrow.ListOf(st))}
		}
	}
	return d, nil
}

func maxTimeDef() *aggDef {
	return &aggDef{Agg: Agg{Func: maxTimeCol, As: maxTimeCol}, col: -1, hidden: true,
		pfields: []arrow.Field{{Name: maxTimeCol, Type: arrow.PrimitiveTypes.Int64, Nullable: true}},
		mk:      func(*aggDef) state { return &maxTimeState{} }}
}

// valueState returns the constructor of min/max/first/last/count_distinct
// over values stored as T.
func valueState[T cmp.Ordered](app func(array.Builder, T), get func(arrow.Array, int) T) func(*aggDef) state {
	return func(d *aggDef) state {
		var keep func(T) T
		if d.kind == valString {
			keep = func(x T) T { return any(strings.Clone(any(x).(string))).(T) }
		}
		switch d.Func {
		case "min", "max":
			return &minMaxState[T]{max: d.Func == "max", app: app, get: get, keep: keep}
		case "first", "last":
			return &firstLastState[T]{last: d.Func == "last", app: app, get: get, keep: keep}
		}
		return &distinctState[T]{get: get, clone: keep}
	}
}

// input is one batch's view of an aggregate's column, normalized to the
// aggregate's kind, with the rows' event times (ms).
type input struct {
	arr   arrow.Array // nil for count(*)
	nulls bool        // arr has nulls
	i     []int64
	u     []uint64
	f     []float64
	s     []string
	b     []uint8 // bools as 0/1
	times []int64
}

func (in *input) load(d *aggDef, rec arrow.RecordBatch, times []int64) {
	in.times = times
	in.arr, in.nulls = nil, false
	if d.col < 0 {
		return
	}
	a := rec.Column(d.col)
	in.arr, in.nulls = a, a.NullN() > 0
	switch d.kind {
	case valInt:
		in.i = int64s(a, in.i[:0])
	case valUint:
		in.u = uint64s(a, in.u[:0])
	case valFloat:
		in.f = float64s(a, in.f[:0])
	case valString:
		in.s = stringsOf(a, in.s)
	case valBool:
		in.b = bools(a.(*array.Boolean), in.b)
	}
}

// bools returns the values of a bool column as 0/1 bytes in dst (grown
// as needed; null rows are 0).
func bools(a *array.Boolean, dst []uint8) []uint8 {
	dst = grow(dst, a.Len())
	for i := range dst {
		dst[i] = 0
		if a.Value(i) {
			dst[i] = 1
		}
	}
	return dst
}

func pick[T any](in *input) []T {
	var z T
	switch any(z).(type) {
	case int64:
		return any(in.i).([]T)
	case uint64:
		return any(in.u).([]T)
	case float64:
		return any(in.f).([]T)
	case string:
		return any(in.s).([]T)
	case uint8:
		return any(in.b).([]T)
	}
	return nil
}

// state is the per-slot partial state of one aggregate in one table.
// Slots are dense ids (groups); grow makes slots [0, n) usable.
type state interface {
	grow(n int)
	// update folds rows into slots: row rows[j] (j when rows is nil) goes
	// to slot slots[j].
	update(in *input, rows, slots []int32)
	// merge folds slot s of src (same concrete type) into slot dst.
	merge(dst int32, src state, s int32)
	// reset empties one slot.
	reset(slot int32)
	// result appends the final value of slot to b (type aggDef.out).
	result(b array.Builder, slot int32)
	// partial appends slot's state to bs (one per aggDef.pfields).
	partial(bs []array.Builder, slot int32)
	// mergePartial folds row of the partial columns cols into slot dst.
	mergePartial(cols []arrow.Array, row int, dst int32)
	// encode appends slot's state to b in the binary form of codec.go
	// (state spilled to a backend).
	encode(b []byte, slot int32) []byte
	// decode folds a state encode wrote, read from d, into slot dst.
	decode(d *decoder, dst int32)
}

func rowOf(rows []int32, j int) int {
	if rows == nil {
		return j
	}
	return int(rows[j])
}

// --- shared batch states -------------------------------------------------------

// shareSources returns, per aggregate, an earlier aggregate whose batch
// state may determine its own (copyState), or -1: sum and avg of the same
// float column; count(col) from a sum, avg or count of col; count(*) from
// count(*), or from a sum, avg or count(col) whose column has no null in
// the batch (checked by copyState). Such aggregates then cost O(groups)
// per batch instead of a pass over the rows.
func shareSources(defs []*aggDef) []int {
	share := make([]int, len(defs))
	counted := func(d *aggDef) bool { // its state counts the non-null values of d.col
		return d.Func == "count" || d.Func == "avg" || (d.Func == "sum" && d.kind == valFloat)
	}
	for a, d := range defs {
		share[a] = -1
		if d.hidden {
			continue
		}
		for b, e := range defs[:a] {
			if e.hidden {
				continue
			}
			switch {
			case (d.Func == "sum" || d.Func == "avg") && d.kind == valFloat &&
				(e.Func == "sum" || e.Func == "avg") && e.kind == valFloat && e.col == d.col:
			case d.Func == "count" && d.col >= 0 && counted(e) && e.col == d.col:
			case d.Func == "count" && d.col < 0 && counted(e):
			default:
				continue
			}
			share[a] = b
			break
		}
	}
	return share
}

// copyState sets slots [0, n) of dst, a state fresh for the batch, from
// src, updated from the same rows (srcIn its input), if src determines
// them (see shareSources); it reports whether it did.
func copyState(dst, src state, srcIn *input, n int) bool {
	var sn []int64 // src's per-slot counts (of its column's non-null values, or rows)
	var ssum []float64
	switch s := src.(type) {
	case *countState:
		sn = s.n
		if srcIn.arr != nil && srcIn.nulls {
			if c, ok := dst.(*countState); ok && !c.nonNull {
				return false // count(*) from count(col) with nulls
			}
		}
	case *sumState[float64]:
		sn, ssum = s.n, s.sum
	case *avgState:
		sn, ssum = s.n, s.sum
	default:
		return false
	}
	switch d := dst.(type) {
	case *countState:
		if !d.nonNull && srcIn.nulls {
			return false
		}
		copy(d.n[:n], sn[:n])
	case *sumState[float64]:
		if ssum == nil {
			return false
		}
		copy(d.sum[:n], ssum[:n])
		copy(d.n[:n], sn[:n])
	case *avgState:
		if ssum == nil {
			return false
		}
		copy(d.sum[:n], ssum[:n])
		copy(d.n[:n], sn[:n])
	default:
		return false
	}
	return true
}

// --- count -----------------------------------------------------------------

type countState struct {
	nonNull bool
	n       []int64
}

func (s *countState) grow(n int) { s.n = growZero(s.n, n) }
func (s *countState) update(in *input, rows, slots []int32) {
	n := s.n
	if !s.nonNull || !in.nulls {
		for _, g := range slots {
			n[g]++
		}
		return
	}
	for j, g := range slots {
		if in.arr.IsValid(rowOf(rows, j)) {
			n[g]++
		}
	}
}
func (s *countState) merge(dst int32, src state, i int32) { s.n[dst] += src.(*countState).n[i] }
func (s *countState) reset(slot int32)                    { s.n[slot] = 0 }
func (s *countState) result(b array.Builder, slot int32) {
	b.(*array.Int64Builder).Append(s.n[slot])
}
func (s *countState) partial(bs []array.Builder, slot int32) {
	bs[0].(*array.Int64Builder).Append(s.n[slot])
}
func (s *countState) mergePartial(cols []arrow.Array, row int, dst int32) {
	s.n[dst] += cols[0].(*array.Int64).Value(row)
}

// --- sum -------------------------------------------------------------------

type sumState[T int64 | float64] struct {
	sum []T
	n   []int64
}

func (s *sumState[T]) grow(n int) { s.sum, s.n = growZero(s.sum, n), growZero(s.n, n) }
func (s *sumState[T]) update(in *input, rows, slots []int32) {
	v, sum, n := pick[T](in), s.sum, s.n
	if rows == nil && !in.nulls {
		v = v[:len(slots)]
		for j, g := range slots {
			sum[g] += v[j]
			n[g]++
		}
		return
	}
	for j, g := range slots {
		r := rowOf(rows, j)
		if in.nulls && in.arr.IsNull(r) {
			continue
		}
		sum[g] += v[r]
		n[g]++
	}
}
func (s *sumState[T]) merge(dst int32, src state, i int32) {
	o := src.(*sumState[T])
	s.sum[dst] += o.sum[i]
	s.n[dst] += o.n[i]
}
func (s *sumState[T]) reset(slot int32) { s.sum[slot], s.n[slot] = 0, 0 }
func (s *sumState[T]) result(b array.Builder, slot int32) {
	if s.n[slot] == 0 {
		b.AppendNull()
		return
	}
	appendNum(b, s.sum[slot])
}
func (s *sumState[T]) partial(bs []array.Builder, slot int32) {
	appendNum(bs[0], s.sum[slot])
	bs[1].(*array.Int64Builder).Append(s.n[slot])
}
func (s *sumState[T]) mergePartial(cols []arrow.Array, row int, dst int32) {
	switch c := cols[0].(type) {
	case *array.Int64:
		s.sum[dst] += T(c.Value(row))
	case *array.Float64:
		s.sum[dst] += T(c.Value(row))
	}
	s.n[dst] += cols[1].(*array.Int64).Value(row)
}

func appendNum[T int64 | float64](b array.Builder, v T) {
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(int64(v))
	case *array.Float64Builder:
		b.Append(float64(v))
	}
}

// --- avg -------------------------------------------------------------------

type avgState struct{ sumState[float64] }

func (s *avgState) merge(dst int32, src state, i int32) {
	s.sumState.merge(dst, &src.(*avgState).sumState, i)
}
func (s *avgState) result(b array.Builder, slot int32) {
	if s.n[slot] == 0 {
		b.AppendNull()
		return
	}
	b.(*array.Float64Builder).Append(s.sum[slot] / float64(s.n[slot]))
}

// --- min / max ---------------------------------------------------------------

type minMaxState[T cmp.Ordered] struct {
	max  bool
	v    []T
	ok   []bool
	app  func(array.Builder, T)
	get  func(arrow.Array, int) T
	keep func(T) T // copies values that point into a batch (strings); nil: none
}

func (s *minMaxState[T]) grow(n int) { s.v, s.ok = growZero(s.v, n), growZero(s.ok, n) }
func (s *minMaxState[T]) update(in *input, rows, slots []int32) {
	v := pick[T](in)
	for j, g := range slots {
		r := rowOf(rows, j)
		if in.nulls && in.arr.IsNull(r) {
			continue
		}
		if s.put(g, v[r]) && s.keep != nil {
			s.v[g] = s.keep(s.v[g])
		}
	}
}
func (s *minMaxState[T]) put(g int32, x T) bool {
	if !s.ok[g] || (s.max && x > s.v[g]) || (!s.max && x < s.v[g]) {
		s.v[g], s.ok[g] = x, true
		return true
	}
	return false
}
func (s *minMaxState[T]) merge(dst int32, src state, i int32) {
	if o := src.(*minMaxState[T]); o.ok[i] {
		s.put(dst, o.v[i])
	}
}
func (s *minMaxState[T]) reset(slot int32) {
	var z T
	s.v[slot], s.ok[slot] = z, false
}
func (s *minMaxState[T]) result(b array.Builder, slot int32) {
	if !s.ok[slot] {
		b.AppendNull()
		return
	}
	s.app(b, s.v[slot])
}
func (s *minMaxState[T]) partial(bs []array.Builder, slot int32) { s.result(bs[0], slot) }
func (s *minMaxState[T]) mergePartial(cols []arrow.Array, row int, dst int32) {
	if cols[0].IsValid(row) {
		s.put(dst, s.get(cols[0], row))
	}
}

// --- first / last ------------------------------------------------------------

type firstLastState[T any] struct {
	last bool
	v    []T
	t    []int64
	ok   []bool
	app  func(array.Builder, T)
	get  func(arrow.Array, int) T
	keep func(T) T
}

func (s *firstLastState[T]) grow(n int) {
	s.v, s.t, s.ok = growZero(s.v, n), growZero(s.t, n), growZero(s.ok, n)
}

// put keeps x at time t if it is earlier (first) or not earlier (last):
// later arrivals win ties for last, earlier ones for first.
func (s *firstLastState[T]) put(g int32, x T, t int64) bool {
	if !s.ok[g] || (s.last && t >= s.t[g]) || (!s.last && t < s.t[g]) {
		s.v[g], s.t[g], s.ok[g] = x, t, true
		return true
	}
	return false
}
func (s *firstLastState[T]) update(in *input, rows, slots []int32) {
	v := pick[T](in)
	for j, g := range slots {
		r := rowOf(rows, j)
		if in.nulls && in.arr.IsNull(r) {
			continue
		}
		if s.put(g, v[r], in.times[r]) && s.keep != nil {
			s.v[g] = s.keep(s.v[g])
		}
	}
}
func (s *firstLastState[T]) merge(dst int32, src state, i int32) {
	if o := src.(*firstLastState[T]); o.ok[i] {
		s.put(dst, o.v[i], o.t[i])
	}
}
func (s *firstLastState[T]) reset(slot int32) {
	var z T
	s.v[slot], s.t[slot], s.ok[slot] = z, 0, false
}
func (s *firstLastState[T]) result(b array.Builder, slot int32) {
	if !s.ok[slot] {
		b.AppendNull()
		return
	}
	s.app(b, s.v[slot])
}
func (s *firstLastState[T]) partial(bs []array.Builder, slot int32) {
	s.result(bs[0], slot)
	if !s.ok[slot] {
		bs[1].AppendNull()
		return
	}
	bs[1].(*array.Int64Builder).Append(s.t[slot])
}
func (s *firstLastState[T]) mergePartial(cols []arrow.Array, row int, dst int32) {
	if cols[0].IsValid(row) {
		s.put(dst, s.get(cols[0], row), cols[1].(*array.Int64).Value(row))
	}
}

// --- count distinct ------------------------------------------------------------

// distinctState keeps each slot's distinct values as ids into one table
// of the values seen (interned: a string is copied once per distinct
// value, not once per slot), in a small slice scanned linearly while the
// slot has few values (windows by key and hour hold a handful) and a
// map beyond that. The table is rebuilt from the live slots when it
// holds more than twice their ids, so values of fired windows do not
// accumulate in a long-running stream.
type distinctState[T comparable] struct {
	ids   map[T]int32
	vals  []T
	sets  []idSet
	live  int // ids held by all slots
	get   func(arrow.Array, int) T
	clone func(T) T // copies a value that points into a batch; nil: none
}

// idSet is a set of value ids.
type idSet struct {
	small []int32
	big   map[int32]struct{}
}

const idSetSmall = 32

// add inserts id and reports whether it was new.
func (s *idSet) add(id int32) bool {
	if s.big != nil {
		n := len(s.big)
		s.big[id] = struct{}{}
		return len(s.big) != n
	}
	for _, x := range s.small {
		if x == id {
			return false
		}
	}
	if len(s.small) < idSetSmall {
		s.small = append(s.small, id)
		return true
	}
	s.big = make(map[int32]struct{}, 2*idSetSmall)
	for _, x := range s.small {
		s.big[x] = struct{}{}
	}
	s.small = nil
	s.big[id] = struct{}{}
	return true
}

func (s *idSet) len() int { return len(s.small) + len(s.big) }

func (s *idSet) each(f func(int32)) {
	for _, x := range s.small {
		f(x)
	}
	for x := range s.big {
		f(x)
	}
}

func (s *distinctState[T]) grow(n int) { s.sets = growZero(s.sets, n) }

// intern returns x's id, copying x (when it points into a batch) only
// when it is new.
func (s *distinctState[T]) intern(x T) int32 {
	if id, ok := s.ids[x]; ok {
		return id
	}
	if s.ids == nil {
		s.ids = make(map[T]int32)
	}
	if s.clone != nil {
		x = s.clone(x)
	}
	id := int32(len(s.vals))
	s.ids[x] = id
	s.vals = append(s.vals, x)
	return id
}

func (s *distinctState[T]) add(g int32, x T) {
	if s.sets[g].add(s.intern(x)) {
		s.live++
	}
}

func (s *distinctState[T]) update(in *input, rows, slots []int32) {
	v := pick[T](in)
	for j, g := range slots {
		r := rowOf(rows, j)
		if in.nulls && in.arr.IsNull(r) {
			continue
		}
		s.add(g, v[r])
	}
}
func (s *distinctState[T]) merge(dst int32, src state, i int32) {
	o := src.(*distinctState[T])
	o.sets[i].each(func(id int32) { s.add(dst, o.vals[id]) })
}
func (s *distinctState[T]) reset(slot int32) {
	s.live -= s.sets[slot].len()
	s.sets[slot] = idSet{}
	if len(s.vals) > 1024 && len(s.vals) > 2*s.live {
		s.compact()
	}
}

// compact rebuilds the value table from the ids the slots hold.
func (s *distinctState[T]) compact() {
	oldVals := s.vals
	s.ids, s.vals = make(map[T]int32, s.live), make([]T, 0, s.live)
	clone := s.clone
	s.clone = nil // the values are copies already
	for g := range s.sets {
		set := &s.sets[g]
		for k, id := range set.small {
			set.small[k] = s.intern(oldVals[id])
		}
		if set.big != nil {
			big := make(map[int32]struct{}, len(set.big))
			for id := range set.big {
				big[s.intern(oldVals[id])] = struct{}{}
			}
			set.big = big
		}
	}
	s.clone = clone
}
func (s *distinctState[T]) result(b array.Builder, slot int32) {
	b.(*array.Int64Builder).Append(int64(s.sets[slot].len()))
}
func (s *distinctState[T]) partial(bs []array.Builder, slot int32) {
	lb := bs[0].(*array.ListBuilder)
	lb.Append(true)
	vb := lb.ValueBuilder()
	s.sets[slot].each(func(id int32) {
		switch x := any(s.vals[id]).(type) {
		case int64:
			vb.(*array.Int64Builder).Append(x)
		case uint64:
			vb.(*array.Uint64Builder).Append(x)
		case float64:
			vb.(*array.Float64Builder).Append(x)
		case string:
			vb.(*array.StringBuilder).Append(x)
		case uint8:
			vb.(*array.BooleanBuilder).Append(x != 0)
		}
	})
}
func (s *distinctState[T]) mergePartial(cols []arrow.Array, row int, dst int32) {
	l := cols[0].(*array.List)
	if l.IsNull(row) {
		return
	}
	start, end := l.ValueOffsets(row)
	vals := l.ListValues()
	for k := start; k < end; k++ {
		s.add(dst, s.get(vals, int(k)))
	}
}

// --- hidden: max event time ------------------------------------------------------

type maxTimeState struct{ t []int64 }

func (s *maxTimeState) grow(n int) {
	old := len(s.t)
	s.t = growZero(s.t, n)
	for i := old; i < n; i++ {
		s.t[i] = NoWatermark
	}
}
func (s *maxTimeState) update(in *input, rows, slots []int32) {
	for j, g := range slots {
		s.t[g] = max(s.t[g], in.times[rowOf(rows, j)])
	}
}
func (s *maxTimeState) merge(dst int32, src state, i int32) {
	s.t[dst] = max(s.t[dst], src.(*maxTimeState).t[i])
}
func (s *maxTimeState) reset(slot int32)            { s.t[slot] = NoWatermark }
func (s *maxTimeState) result(array.Builder, int32) {}
func (s *maxTimeState) partial(bs []array.Builder, slot int32) {
	bs[0].(*array.Int64Builder).Append(s.t[slot])
}
func (s *maxTimeState) mergePartial(cols []arrow.Array, row int, dst int32) {
	s.t[dst] = max(s.t[dst], cols[0].(*array.Int64).Value(row))
}

// growZero extends s to n elements, the new ones zero.
func growZero[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		old := len(s)
		s = s[:n]
		clear(s[old:])
		return s
	}
	ns := make([]T, n, max(n, 2*cap(s)))
	copy(ns, s)
	return ns
}

// --- single-value getters (merge paths, not hot) -------------------------------

func getInt(a arrow.Array, i int) int64 {
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Date32:
		return int64(a.Value(i))
	case *array.Date64:
		return int64(a.Value(i))
	case *array.Duration:
		return int64(a.Value(i))
	}
	panic(fmt.Sprintf("window: getInt of %s", a.DataType()))
}

func getUint(a arrow.Array, i int) uint64 {
	switch a := a.(type) {
	case *array.Uint64:
		return a.Value(i)
	case *array.Uint32:
		return uint64(a.Value(i))
	case *array.Uint16:
		return uint64(a.Value(i))
	case *array.Uint8:
		return uint64(a.Value(i))
	}
	panic(fmt.Sprintf("window: getUint of %s", a.DataType()))
}

func getFloat(a arrow.Array, i int) float64 {
	switch a := a.(type) {
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	}
	panic(fmt.Sprintf("window: getFloat of %s", a.DataType()))
}

// getBool returns a bool value as 0 or 1.
func getBool(a arrow.Array, i int) uint8 {
	if a.(*array.Boolean).Value(i) {
		return 1
	}
	return 0
}

// appendBool appends a bool stored as 0 or 1.
func appendBool(b array.Builder, v uint8) {
	b.(*array.BooleanBuilder).Append(v != 0)
}

// getString returns a copy of the string at i (safe to keep).
func getString(a arrow.Array, i int) string {
	return strings.Clone(a.(interface{ Value(int) string }).Value(i))
}
