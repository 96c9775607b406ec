package graph

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// Algorithm is what a graph System computes at the end of input: one of
// PageRankAlgorithm, BFSAlgorithm, DFSAlgorithm, ComponentsAlgorithm,
// ShortestPathsAlgorithm, DegreeAlgorithm.
type Algorithm interface {
	// Name is the algorithm's name ("pagerank", "bfs", ...).
	Name() string
	// Schema is the result's schema for vertex ids of kind k.
	Schema(k IDKind) *arrow.Schema
	// Compute runs the algorithm on g and returns the result (Schema)
	// allocated from mem; the caller releases it.
	Compute(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error)
}

type algo struct {
	name    string
	schema  func(IDKind) *arrow.Schema
	compute func(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error)
}

func (a algo) Name() string                  { return a.name }
func (a algo) Schema(k IDKind) *arrow.Schema { return a.schema(k) }
func (a algo) Compute(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error) {
	return a.compute(ctx, g, mem)
}

// PageRankAlgorithm is Graph.PageRank with o (PageRankSchema). A run that
// does not converge is an error (ErrNotConverged), as in networkx.
func PageRankAlgorithm(o PageRankOptions) Algorithm {
	return algo{"pagerank", PageRankSchema, func(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error) {
		r, err := g.PageRank(ctx, o)
		if err != nil {
			return nil, err
		}
		return r.Record(mem), nil
	}}
}

// root resolves a root id given as text (ErrUnknownVertex if absent).
func root(g *Graph, id string) (int32, error) { return g.v.Lookup(id) }

// BFSAlgorithm is Graph.BFS from the vertex whose id is root (an integer
// id in decimal) (BFSSchema).
func BFSAlgorithm(rootID string) Algorithm {
	return algo{"bfs", BFSSchema, func(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error) {
		r, err := root(g, rootID)
		if err != nil {
			return nil, err
		}
		res, err := g.BFS(ctx, r)
		if err != nil {
			return nil, err
		}
		return res.Record(mem), nil
	}}
}

// DFSAlgorithm is Graph.DFS from the vertex whose id is root, or over
// every vertex when root is "" (DFSSchema).
func DFSAlgorithm(rootID string) Algorithm {
	return algo{"dfs", DFSSchema, func(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error) {
		r := int32(-1)
		if rootID != "" {
			var err error
			if r, err = root(g, rootID); err != nil {
				return nil, err
			}
		}
		res, err := g.DFS(r)
		if err != nil {
			return nil, err
		}
		return res.Record(mem), nil
	}}
}

// ComponentsAlgorithm is Graph.WeakComponents, or StrongComponents when
// strong (ComponentsSchema).
func ComponentsAlgorithm(strong bool) Algorithm {
	return algo{"components", ComponentsSchema, func(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error) {
		if strong {
			return g.StrongComponents().Record(mem), nil
		}
		return g.WeakComponents().Record(mem), nil
	}}
}

// ShortestPathsAlgorithm is Graph.ShortestPaths from the vertex whose id
// is root (PathsSchema).
func ShortestPathsAlgorithm(rootID string) Algorithm {
	return algo{"shortest_paths", PathsSchema, func(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error) {
		r, err := root(g, rootID)
		if err != nil {
			return nil, err
		}
		res, err := g.ShortestPaths(ctx, r)
		if err != nil {
			return nil, err
		}
		return res.Record(mem), nil
	}}
}

// DegreeAlgorithm is Graph.Degrees (DegreeSchema).
func DegreeAlgorithm() Algorithm {
	return algo{"degree", DegreeSchema, func(ctx context.Context, g *Graph, mem memory.Allocator) (arrow.RecordBatch, error) {
		return g.Degrees().Record(mem), nil
	}}
}

// EdgesState is the component of a graph System's checkpoint: one row
// per edge in arrival order, columns source and target (the vertex ids,
// int64 or utf8) and, when weighted, weight (float64).
const EdgesState = "graph_edges"

// SystemConfig configures NewSystem.
type SystemConfig struct {
	// Name is the system's name in its pipeline.
	Name string
	// Component holds the edge list; Source and Target are its vertex id
	// fields (integer or string types, both of one kind), Weight its
	// weight field (integer or floating type; "" for unweighted edges).
	Component              pcs.AnyComponent
	Source, Target, Weight string
	// Directed: edges go from Source to Target; false: both ways.
	Directed bool
	// Algorithm is what Finish computes.
	Algorithm Algorithm
}

// System is a pipeline system that accumulates an edge list over every
// dataset it runs on and computes a graph algorithm over all of it at
// the end of input. Run appends the alive rows' edges (nothing else of
// the dataset changes); Finish builds the graph and returns the result;
// ResultSchema is the result's schema. Package plan calls Finish at the
// end of input (`pcs run`: after the last file; pcs-node: the producer's
// final watermark) and outputs its batch instead of the pipeline's rows.
//
// It implements pcs.Stateful: the checkpoint is the edge list (EdgesState),
// so pcs-node keeps the edges of acknowledged partitions across a crash.
// Run, Finish, Checkpoint and Restore are serialized by a lock.
//
// Meta: reads Source, Target (and Weight), writes nothing.
type System struct {
	meta     pcs.SystemMeta
	cfg      SystemConfig
	kind     IDKind
	src, dst pcs.FieldRef[arrow.Array]
	weight   *pcs.FieldRef[arrow.Array]

	mu sync.Mutex
	b  *Builder
}

var _ pcs.Stateful = (*System)(nil)

// NewSystem returns the system cfg describes. Errors: an unknown field
// (pcs.ErrUnknownField), ids of a type other than integer or string or of
// two kinds (ErrVertexType), a weight of another type (ErrWeightType), a
// nil algorithm (ErrOptions).
func NewSystem(cfg SystemConfig) (*System, error) {
	fail := func(err error) (*System, error) { return nil, fmt.Errorf("graph: system %s: %w", cfg.Name, err) }
	if cfg.Algorithm == nil {
		return fail(fmt.Errorf("%w: no algorithm", ErrOptions))
	}
	s := &System{cfg: cfg, b: NewBuilder(cfg.Directed, cfg.Weight != "")}
	var err error
	if s.src, err = pcs.NewField[arrow.Array](cfg.Component, cfg.Source); err != nil {
		return fail(err)
	}
	if s.dst, err = pcs.NewField[arrow.Array](cfg.Component, cfg.Target); err != nil {
		return fail(err)
	}
	if s.kind, err = KindOf(s.src.Type()); err != nil {
		return fail(fmt.Errorf("source %s: %w", s.src, err))
	}
	if k, err := KindOf(s.dst.Type()); err != nil || k != s.kind {
		return fail(fmt.Errorf("%w: source %s is %s, target %s is %s", ErrVertexType, s.src, s.src.Type(), s.dst, s.dst.Type()))
	}
	reads := []pcs.Ref{s.src, s.dst}
	if cfg.Weight != "" {
		w, err := pcs.NewField[arrow.Array](cfg.Component, cfg.Weight)
		if err != nil {
			return fail(err)
		}
		if _, err := floatReader(array.MakeArrayOfNull(memory.DefaultAllocator, w.Type(), 0)); err != nil {
			return fail(fmt.Errorf("weight %s: %w", w, err))
		}
		s.weight = &w
		reads = append(reads, w)
	}
	s.meta = pcs.Meta(cfg.Name).Read(reads...)
	return s, nil
}

// Meta declares the reads of the edge fields.
func (s *System) Meta() pcs.SystemMeta { return s.meta }

// String returns "<algorithm> name: source -> target".
func (s *System) String() string {
	return fmt.Sprintf("%s %s: %s -> %s", s.cfg.Algorithm.Name(), s.meta.Name, s.src, s.dst)
}

// Run appends ds's alive rows to the edge list. Rows with a null id or
// weight are skipped. A failed Run adds nothing.
func (s *System) Run(ctx context.Context, ds *pcs.Dataset) error {
	src, err := s.src.Get(ds)
	if err != nil {
		return err
	}
	dst, err := s.dst.Get(ds)
	if err != nil {
		return err
	}
	var w arrow.Array
	if s.weight != nil {
		if w, err = s.weight.Get(ds); err != nil {
			return err
		}
	}
	var keep func(int) bool
	if ds.Live() < ds.Len() {
		keep = ds.Alive
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.b.AppendSelected(src, dst, w, keep); err != nil {
		return pcs.Permanent(err)
	}
	return nil
}

// ResultSchema is the schema of Finish's result.
func (s *System) ResultSchema() *arrow.Schema { return s.cfg.Algorithm.Schema(s.kind) }

// Edges returns the number of edges accumulated.
func (s *System) Edges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Edges()
}

// Finish builds the graph of every edge seen so far and runs the
// algorithm: one row per vertex (ResultSchema), allocated from mem; the
// caller releases it. The edges are kept: a later Finish (another
// producer's end of input) computes over all edges again. Errors are
// the algorithm's (ErrNegativeWeight, ErrUnknownVertex for a root not in
// the graph, ErrNotConverged) and are permanent (pcs.Permanent): the
// same edges fail again.
func (s *System) Finish(ctx context.Context, mem memory.Allocator) (arrow.RecordBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.v.kind == NoIDs { // no edge yet: ids of the declared kind
		s.b.v.setKind(s.kind)
	}
	rec, err := s.cfg.Algorithm.Compute(ctx, s.b.Build(), mem)
	if err != nil && ctx.Err() == nil {
		err = pcs.Permanent(err)
	}
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", s.meta.Name, err)
	}
	return rec, nil
}

func (s *System) stateComponent() *pcs.DynamicComponent {
	fields := []arrow.Field{{Name: "source", Type: s.kind.Type()}, {Name: "target", Type: s.kind.Type()}}
	if s.weight != nil {
		fields = append(fields, arrow.Field{Name: "weight", Type: arrow.PrimitiveTypes.Float64})
	}
	return pcs.NewDynamicComponent(EdgesState, arrow.NewSchema(fields, nil))
}

// Checkpoint returns the edge list as a dataset of component EdgesState
// allocated from mem; the caller releases it.
func (s *System) Checkpoint(mem memory.Allocator) (*pcs.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	comp := s.stateComponent()
	b := s.b
	if b.v.kind == NoIDs {
		b.v.setKind(s.kind)
	}
	// non-nil index slices: Array(mem, nil) would mean every vertex
	cols := []arrow.Array{b.v.Array(mem, append([]int32{}, b.src...)), b.v.Array(mem, append([]int32{}, b.dst...))}
	if s.weight != nil {
		cols = append(cols, float64s(mem, b.w, nil))
	}
	rec := record(comp.Schema(), cols...)
	defer rec.Release()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(comp); err != nil {
		ds.Release()
		return nil, err
	}
	if _, err := ds.Append(map[string]arrow.RecordBatch{EdgesState: rec}); err != nil {
		ds.Release()
		return nil, err
	}
	return ds, nil
}

// Restore replaces the edge list with a checkpoint's. An error (a state
// of another shape) leaves the edges unchanged.
func (s *System) Restore(ds *pcs.Dataset) error {
	comp := s.stateComponent()
	schema, err := ds.Schema(EdgesState)
	if err != nil {
		return fmt.Errorf("graph: %s: restore: %w", s.meta.Name, err)
	}
	if !schema.Equal(comp.Schema()) {
		return fmt.Errorf("graph: %s: restore: state schema %s, want %s", s.meta.Name, schema, comp.Schema())
	}
	cols := make([]arrow.Array, len(comp.Schema().Fields()))
	for i, f := range comp.Schema().Fields() {
		if cols[i], err = ds.Column(EdgesState, f.Name); err != nil {
			return fmt.Errorf("graph: %s: restore: %w", s.meta.Name, err)
		}
	}
	b := NewBuilder(s.cfg.Directed, s.weight != nil)
	var w arrow.Array
	if s.weight != nil {
		w = cols[2]
	}
	if cols[0].Len() > 0 {
		if err := b.Append(cols[0], cols[1], w); err != nil {
			return fmt.Errorf("graph: %s: restore: %w", s.meta.Name, err)
		}
	}
	s.mu.Lock()
	s.b = b
	s.mu.Unlock()
	return nil
}
