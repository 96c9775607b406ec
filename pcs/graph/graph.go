package graph

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// IDKind is the kind of a graph's vertex ids.
type IDKind int

const (
	// NoIDs: no vertex seen yet.
	NoIDs IDKind = iota
	// IntIDs: integer ids (any Arrow integer type, held as int64; uint64
	// ids above math.MaxInt64 are rejected).
	IntIDs
	// StringIDs: string ids (utf8 or large utf8).
	StringIDs
)

// KindOf returns the IDKind of an Arrow id column type, or an error
// wrapping ErrVertexType.
func KindOf(dt arrow.DataType) (IDKind, error) {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return IntIDs, nil
	case arrow.STRING, arrow.LARGE_STRING:
		return StringIDs, nil
	}
	return NoIDs, fmt.Errorf("%w: %s (want an integer or string type)", ErrVertexType, dt)
}

// Type is the Arrow type of the vertex column of results: int64 or utf8.
func (k IDKind) Type() arrow.DataType {
	if k == StringIDs {
		return arrow.BinaryTypes.String
	}
	return arrow.PrimitiveTypes.Int64
}

// Vertices maps vertex ids to dense indices 0..Len()-1 and back, in
// order of first appearance. The zero value is empty and usable.
type Vertices struct {
	kind   IDKind
	ints   []int64
	strs   []string
	intIdx map[int64]int32
	strIdx map[string]int32
}

// Kind returns the ids' kind (NoIDs while empty).
func (v *Vertices) Kind() IDKind { return v.kind }

// Len returns the number of vertices.
func (v *Vertices) Len() int {
	if v.kind == StringIDs {
		return len(v.strs)
	}
	return len(v.ints)
}

// Int returns the integer id of dense index i (IntIDs).
func (v *Vertices) Int(i int32) int64 { return v.ints[i] }

// String returns the id of dense index i as text (integers in decimal).
func (v *Vertices) String(i int32) string {
	if v.kind == StringIDs {
		return v.strs[i]
	}
	return fmt.Sprint(v.ints[i])
}

// IndexInt returns the dense index of integer id, if present.
func (v *Vertices) IndexInt(id int64) (int32, bool) {
	i, ok := v.intIdx[id]
	return i, ok
}

// IndexString returns the dense index of string id, if present.
func (v *Vertices) IndexString(id string) (int32, bool) {
	i, ok := v.strIdx[id]
	return i, ok
}

// Lookup returns the dense index of an id given as text: a string id
// as is, an integer id in decimal. The error wraps ErrUnknownVertex.
func (v *Vertices) Lookup(id string) (int32, error) {
	if v.kind == StringIDs {
		if i, ok := v.strIdx[id]; ok {
			return i, nil
		}
	} else {
		var n int64
		if _, err := fmt.Sscan(id, &n); err == nil {
			if i, ok := v.intIdx[n]; ok {
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("%w: %q", ErrUnknownVertex, id)
}

func (v *Vertices) addInt(id int64) (int32, error) {
	if i, ok := v.intIdx[id]; ok {
		return i, nil
	}
	if len(v.ints) == math.MaxInt32 {
		return -1, ErrTooLarge
	}
	i := int32(len(v.ints))
	v.intIdx[id] = i
	v.ints = append(v.ints, id)
	return i, nil
}

func (v *Vertices) addString(id string) (int32, error) {
	if i, ok := v.strIdx[id]; ok {
		return i, nil
	}
	if len(v.strs) == math.MaxInt32 {
		return -1, ErrTooLarge
	}
	i := int32(len(v.strs))
	v.strIdx[id] = i
	v.strs = append(v.strs, id)
	return i, nil
}

// setKind fixes the id kind on first use; later columns must match.
func (v *Vertices) setKind(k IDKind) error {
	switch {
	case v.kind == NoIDs:
		v.kind = k
		v.intIdx, v.strIdx = map[int64]int32{}, map[string]int32{}
	case v.kind != k:
		return fmt.Errorf("%w: ids of two kinds in one graph", ErrVertexType)
	}
	return nil
}

// Array returns the ids of dense indices idx (all vertices in index
// order when idx is nil) as an int64 or string array from mem; the
// caller releases it. A negative index gives a null.
func (v *Vertices) Array(mem memory.Allocator, idx []int32) arrow.Array {
	n := v.Len()
	if idx != nil {
		n = len(idx)
	}
	at := func(k int) int32 {
		if idx == nil {
			return int32(k)
		}
		return idx[k]
	}
	if v.kind == StringIDs {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		for k := range n {
			if i := at(k); i >= 0 {
				b.Append(v.strs[i])
			} else {
				b.AppendNull()
			}
		}
		return b.NewArray()
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.Reserve(n)
	for k := range n {
		if i := at(k); i >= 0 {
			b.UnsafeAppend(v.ints[i])
		} else {
			b.UnsafeAppendBoolToBitmap(false)
		}
	}
	return b.NewArray()
}

// Builder accumulates an edge list (dense source and target indices and
// optional weights) for Build. It is not safe for concurrent use.
type Builder struct {
	directed bool
	weighted bool
	v        Vertices
	src, dst []int32
	w        []float64
	skipped  int64
}

// NewBuilder returns an empty builder of a directed or undirected graph;
// weighted says whether Append gets a weight column (otherwise every
// edge weighs 1).
func NewBuilder(directed, weighted bool) *Builder {
	return &Builder{directed: directed, weighted: weighted}
}

// Directed reports whether the graph is directed.
func (b *Builder) Directed() bool { return b.directed }

// Weighted reports whether edges carry weights.
func (b *Builder) Weighted() bool { return b.weighted }

// Vertices returns the vertex ids seen so far (valid until the next Append).
func (b *Builder) Vertices() *Vertices { return &b.v }

// Edges returns the number of edges appended.
func (b *Builder) Edges() int { return len(b.src) }

// Skipped returns the number of rows skipped for a null source, target
// or weight.
func (b *Builder) Skipped() int64 { return b.skipped }

// Edge returns edge i's dense source and target indices and weight (1
// when unweighted), in append order.
func (b *Builder) Edge(i int) (src, dst int32, w float64) {
	w = 1
	if b.weighted {
		w = b.w[i]
	}
	return b.src[i], b.dst[i], w
}

// Append adds one edge per row of src and dst (same length; integer or
// string arrays of one kind for the builder's life) with weights from
// weight (nil for an unweighted builder, else an integer or floating
// array of the same length). Rows with a null are skipped (Skipped).
// The arrays are only read, never retained. On error no edge of this
// call is added (vertex ids it met may stay, unused).
func (b *Builder) Append(src, dst, weight arrow.Array) error {
	return b.AppendSelected(src, dst, weight, nil)
}

// AppendSelected is Append of the rows i for which keep(i) is true (all
// rows when keep is nil): a dataset's alive rows, say.
func (b *Builder) AppendSelected(src, dst, weight arrow.Array, keep func(row int) bool) error {
	if src.Len() != dst.Len() || (weight != nil && weight.Len() != src.Len()) {
		return fmt.Errorf("graph: edge columns of %d, %d rows", src.Len(), dst.Len())
	}
	if b.weighted != (weight != nil) {
		return fmt.Errorf("%w: weighted builder %v, weight column given %v", ErrWeightType, b.weighted, weight != nil)
	}
	ks, err := KindOf(src.DataType())
	if err != nil {
		return err
	}
	kd, err := KindOf(dst.DataType())
	if err != nil {
		return err
	}
	if ks != kd {
		return fmt.Errorf("%w: source %s, target %s", ErrVertexType, src.DataType(), dst.DataType())
	}
	if err := b.v.setKind(ks); err != nil {
		return err
	}
	var wf func(int) float64
	if weight != nil {
		if wf, err = floatReader(weight); err != nil {
			return err
		}
	}
	n := src.Len()
	nulls := src.NullN() > 0 || dst.NullN() > 0 || (weight != nil && weight.NullN() > 0)
	mark := len(b.src)
	if ks == StringIDs {
		sv, dv := stringReader(src), stringReader(dst)
		for i := range n {
			if keep != nil && !keep(i) {
				continue
			}
			if nulls && (src.IsNull(i) || dst.IsNull(i) || (weight != nil && weight.IsNull(i))) {
				b.skipped++
				continue
			}
			s, err := b.v.addString(sv(i))
			if err != nil {
				b.truncate(mark)
				return err
			}
			d, err := b.v.addString(dv(i))
			if err != nil {
				b.truncate(mark)
				return err
			}
			b.src, b.dst = append(b.src, s), append(b.dst, d)
			if wf != nil {
				b.w = append(b.w, wf(i))
			}
		}
		return nil
	}
	sv, err := intReader(src)
	if err != nil {
		return err
	}
	dv, err := intReader(dst)
	if err != nil {
		return err
	}
	for i := range n {
		if keep != nil && !keep(i) {
			continue
		}
		if nulls && (src.IsNull(i) || dst.IsNull(i) || (weight != nil && weight.IsNull(i))) {
			b.skipped++
			continue
		}
		si, sok := sv(i)
		di, dok := dv(i)
		if !sok || !dok {
			b.truncate(mark)
			return fmt.Errorf("%w: uint64 id above MaxInt64", ErrVertexType)
		}
		s, err := b.v.addInt(si)
		if err != nil {
			b.truncate(mark)
			return err
		}
		d, err := b.v.addInt(di)
		if err != nil {
			b.truncate(mark)
			return err
		}
		b.src, b.dst = append(b.src, s), append(b.dst, d)
		if wf != nil {
			b.w = append(b.w, wf(i))
		}
	}
	return nil
}

// AppendEdge adds one edge between dense indices already known to the
// builder (tests and generators: ids are added with AddInt).
func (b *Builder) AppendEdge(src, dst int32, w float64) {
	b.src, b.dst = append(b.src, src), append(b.dst, dst)
	if b.weighted {
		b.w = append(b.w, w)
	}
}

// AddInt adds integer vertex id (if new) and returns its dense index.
// It fails with ErrVertexType on a builder of string ids.
func (b *Builder) AddInt(id int64) (int32, error) {
	if err := b.v.setKind(IntIDs); err != nil {
		return -1, err
	}
	return b.v.addInt(id)
}

func (b *Builder) truncate(n int) {
	b.src, b.dst = b.src[:n], b.dst[:n]
	if b.weighted {
		b.w = b.w[:n]
	}
}

func stringReader(a arrow.Array) func(int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value
	case *array.LargeString:
		return a.Value
	}
	return nil
}

func intReader(a arrow.Array) (func(int) (int64, bool), error) {
	switch a := a.(type) {
	case *array.Int8:
		return func(i int) (int64, bool) { return int64(a.Value(i)), true }, nil
	case *array.Int16:
		return func(i int) (int64, bool) { return int64(a.Value(i)), true }, nil
	case *array.Int32:
		return func(i int) (int64, bool) { return int64(a.Value(i)), true }, nil
	case *array.Int64:
		return func(i int) (int64, bool) { return a.Value(i), true }, nil
	case *array.Uint8:
		return func(i int) (int64, bool) { return int64(a.Value(i)), true }, nil
	case *array.Uint16:
		return func(i int) (int64, bool) { return int64(a.Value(i)), true }, nil
	case *array.Uint32:
		return func(i int) (int64, bool) { return int64(a.Value(i)), true }, nil
	case *array.Uint64:
		return func(i int) (int64, bool) { v := a.Value(i); return int64(v), v <= math.MaxInt64 }, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrVertexType, a.DataType())
}

func floatReader(a arrow.Array) (func(int) float64, error) {
	switch a := a.(type) {
	case *array.Float64:
		return a.Value, nil
	case *array.Float32:
		return func(i int) float64 { return float64(a.Value(i)) }, nil
	case *array.Int8, *array.Int16, *array.Int32, *array.Int64,
		*array.Uint8, *array.Uint16, *array.Uint32, *array.Uint64:
		r, _ := intReader(a)
		return func(i int) float64 { v, _ := r(i); return float64(v) }, nil
	}
	return nil, fmt.Errorf("%w: %s (want an integer or floating type)", ErrWeightType, a.DataType())
}

// Graph is a CSR adjacency (out-edges) and, for a directed graph, a CSC
// adjacency (in-edges), over dense vertex indices 0..N()-1. It is
// immutable and safe for concurrent use.
type Graph struct {
	directed bool
	weighted bool
	v        *Vertices
	m        int // edges as given (an undirected edge counts once)
	out      adj
	in       adj     // == out for an undirected graph
	selfLoop []int32 // undirected: self loops per vertex (degree counts them twice)
}

// adj is one compressed sparse adjacency: the neighbours of vertex u are
// nbr[off[u]:off[u+1]] with weights w[off[u]:off[u+1]] (w nil: all 1).
type adj struct {
	off []int64
	nbr []int32
	w   []float64
}

func (a *adj) bytes() int64 {
	return int64(len(a.off))*8 + int64(len(a.nbr))*4 + int64(len(a.w))*8
}

// Build returns the graph of the edges appended so far in O(n + m) time
// (a counting sort by source; a vertex's edges keep their append order).
// The builder stays usable: later Appends and Builds see every edge.
// The Graph shares the builder's vertex ids: do not Append while the
// Graph is in use.
func (b *Builder) Build() *Graph {
	n := b.v.Len()
	g := &Graph{directed: b.directed, weighted: b.weighted, v: &b.v, m: len(b.src)}
	var w []float64
	if b.weighted {
		w = b.w
	}
	if b.directed {
		g.out = csr(n, b.src, b.dst, w, nil, nil)
		g.in = csr(n, b.dst, b.src, w, nil, nil)
		return g
	}
	// Undirected: u->v and v->u, a self loop once.
	g.selfLoop = make([]int32, n)
	for i, s := range b.src {
		if s == b.dst[i] {
			g.selfLoop[s]++
		}
	}
	g.out = csr(n, b.src, b.dst, w, b.dst, b.src)
	g.in = g.out
	return g
}

// csr sorts edges (src[i] -> dst[i], weight w[i]) and, when src2 is not
// nil, the reverse edges src2[i] -> dst2[i] except self loops, by source.
func csr(n int, src, dst []int32, w []float64, src2, dst2 []int32) adj {
	off := make([]int64, n+1)
	for _, s := range src {
		off[s+1]++
	}
	for i, s := range src2 {
		if s != dst2[i] {
			off[s+1]++
		}
	}
	for i := range n {
		off[i+1] += off[i]
	}
	m := off[n]
	a := adj{off: off, nbr: make([]int32, m)}
	if w != nil {
		a.w = make([]float64, m)
	}
	pos := make([]int64, n)
	copy(pos, off[:n])
	// Interleave forward and reverse edges in input order so that a
	// vertex's neighbours follow the edge list (networkx's adjacency order
	// up to duplicates).
	for i, s := range src {
		p := pos[s]
		pos[s]++
		a.nbr[p] = dst[i]
		if w != nil {
			a.w[p] = w[i]
		}
		if src2 != nil {
			r := src2[i]
			if r == dst2[i] {
				continue
			}
			p := pos[r]
			pos[r]++
			a.nbr[p] = dst2[i]
			if w != nil {
				a.w[p] = w[i]
			}
		}
	}
	return a
}

// Directed reports whether g is directed.
func (g *Graph) Directed() bool { return g.directed }

// Weighted reports whether g's edges carry weights (else all weigh 1).
func (g *Graph) Weighted() bool { return g.weighted }

// N returns the number of vertices.
func (g *Graph) N() int { return len(g.out.off) - 1 }

// M returns the number of edges as given (an undirected edge once).
func (g *Graph) M() int { return g.m }

// Vertices returns g's vertex ids.
func (g *Graph) Vertices() *Vertices { return g.v }

// Bytes returns the memory the adjacency arrays hold, in bytes (CSR,
// CSC for a directed graph, weights; not the vertex id map).
func (g *Graph) Bytes() int64 {
	n := g.out.bytes()
	if g.directed {
		n += g.in.bytes()
	}
	return n + int64(len(g.selfLoop))*4
}

// Out returns u's out-neighbours (an undirected graph: all neighbours)
// and their weights (nil when unweighted), in edge-list order. The
// slices are g's: do not modify them.
func (g *Graph) Out(u int32) ([]int32, []float64) { return g.out.at(u) }

// In returns u's in-neighbours and their weights (an undirected graph:
// as Out).
func (g *Graph) In(u int32) ([]int32, []float64) { return g.in.at(u) }

func (a *adj) at(u int32) ([]int32, []float64) {
	lo, hi := a.off[u], a.off[u+1]
	if a.w == nil {
		return a.nbr[lo:hi], nil
	}
	return a.nbr[lo:hi], a.w[lo:hi]
}
