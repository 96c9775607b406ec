package graph

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// VertexColumn is the name of the vertex id column of every result
// (int64 or utf8: the ids' kind, see IDKind.Type).
const VertexColumn = "vertex"

// Result schemas' column names.
const (
	RankColumn      = "rank"      // float64: PageRank
	LevelColumn     = "level"     // int32, null when unreachable: BFS
	ParentColumn    = "parent"    // vertex id, null for the root and unreachable vertices
	OrderColumn     = "order"     // int32: DFS preorder position
	ComponentColumn = "component" // int64: component label
	DistanceColumn  = "distance"  // float64, null when unreachable: shortest paths
	InDegreeColumn  = "in_degree"
	OutDegreeColumn = "out_degree"
	DegreeColumn    = "degree"
)

func vertexField(k IDKind) arrow.Field {
	return arrow.Field{Name: VertexColumn, Type: k.Type()}
}

// PageRankSchema is PageRankResult.Record's schema: vertex, rank.
func PageRankSchema(k IDKind) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{vertexField(k), {Name: RankColumn, Type: arrow.PrimitiveTypes.Float64}}, nil)
}

// BFSSchema is BFSResult.Record's schema: vertex, level, parent.
func BFSSchema(k IDKind) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{vertexField(k),
		{Name: LevelColumn, Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: ParentColumn, Type: k.Type(), Nullable: true}}, nil)
}

// DFSSchema is DFSResult.Record's schema: vertex, order.
func DFSSchema(k IDKind) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{vertexField(k), {Name: OrderColumn, Type: arrow.PrimitiveTypes.Int32}}, nil)
}

// ComponentsSchema is Components.Record's schema: vertex, component.
func ComponentsSchema(k IDKind) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{vertexField(k), {Name: ComponentColumn, Type: arrow.PrimitiveTypes.Int64}}, nil)
}

// PathsSchema is PathsResult.Record's schema: vertex, distance, parent.
func PathsSchema(k IDKind) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{vertexField(k),
		{Name: DistanceColumn, Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: ParentColumn, Type: k.Type(), Nullable: true}}, nil)
}

// DegreeSchema is DegreeResult.Record's schema: vertex, in_degree,
// out_degree, degree.
func DegreeSchema(k IDKind) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{vertexField(k),
		{Name: InDegreeColumn, Type: arrow.PrimitiveTypes.Int64},
		{Name: OutDegreeColumn, Type: arrow.PrimitiveTypes.Int64},
		{Name: DegreeColumn, Type: arrow.PrimitiveTypes.Int64}}, nil)
}

// record assembles a batch of schema from cols (released here).
func record(schema *arrow.Schema, cols ...arrow.Array) arrow.RecordBatch {
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	return array.NewRecordBatch(schema, cols, int64(cols[0].Len()))
}

// kind is the ids' kind, int64 for an empty graph.
func (g *Graph) kind() IDKind {
	if g.v.kind == NoIDs {
		return IntIDs
	}
	return g.v.kind
}

func float64s(mem memory.Allocator, v []float64, nullIf func(float64) bool) arrow.Array {
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.Reserve(len(v))
	for _, x := range v {
		if nullIf != nil && nullIf(x) {
			b.UnsafeAppendBoolToBitmap(false)
		} else {
			b.UnsafeAppend(x)
		}
	}
	return b.NewArray()
}

func int64s(mem memory.Allocator, v []int64) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}

// Record returns one row per vertex in dense index order (PageRankSchema);
// the caller releases it.
func (r *PageRankResult) Record(mem memory.Allocator) arrow.RecordBatch {
	return record(PageRankSchema(r.g.kind()), r.g.v.Array(mem, nil), float64s(mem, r.Rank, nil))
}

// Record returns one row per vertex in dense index order (BFSSchema);
// the caller releases it.
func (r *BFSResult) Record(mem memory.Allocator) arrow.RecordBatch {
	lb := array.NewInt32Builder(mem)
	defer lb.Release()
	lb.Reserve(len(r.Level))
	for _, l := range r.Level {
		if l < 0 {
			lb.UnsafeAppendBoolToBitmap(false)
		} else {
			lb.UnsafeAppend(l)
		}
	}
	return record(BFSSchema(r.g.kind()), r.g.v.Array(mem, nil), lb.NewArray(), r.g.v.Array(mem, r.Parent))
}

// Record returns one row per visited vertex in preorder (DFSSchema); the
// caller releases it.
func (r *DFSResult) Record(mem memory.Allocator) arrow.RecordBatch {
	ob := array.NewInt32Builder(mem)
	defer ob.Release()
	for i := range r.Order {
		ob.Append(int32(i))
	}
	return record(DFSSchema(r.g.kind()), r.g.v.Array(mem, r.Order), ob.NewArray())
}

// Record returns one row per vertex in dense index order
// (ComponentsSchema); the caller releases it.
func (c *Components) Record(mem memory.Allocator) arrow.RecordBatch {
	l := make([]int64, len(c.Label))
	for i, x := range c.Label {
		l[i] = int64(x)
	}
	return record(ComponentsSchema(c.g.kind()), c.g.v.Array(mem, nil), int64s(mem, l))
}

// Record returns one row per vertex in dense index order (PathsSchema);
// the caller releases it.
func (r *PathsResult) Record(mem memory.Allocator) arrow.RecordBatch {
	return record(PathsSchema(r.g.kind()), r.g.v.Array(mem, nil),
		float64s(mem, r.Dist, func(x float64) bool { return math.IsInf(x, 1) }), r.g.v.Array(mem, r.Parent))
}

// Record returns one row per vertex in dense index order (DegreeSchema);
// the caller releases it.
func (r *DegreeResult) Record(mem memory.Allocator) arrow.RecordBatch {
	return record(DegreeSchema(r.g.kind()), r.g.v.Array(mem, nil), int64s(mem, r.In), int64s(mem, r.Out), int64s(mem, r.Degree))
}
