package graph_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	gg "gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/multi"
	"gonum.org/v1/gonum/graph/network"
	"gonum.org/v1/gonum/graph/path"
	"gonum.org/v1/gonum/graph/simple"
	"gonum.org/v1/gonum/graph/topo"
	"gonum.org/v1/gonum/graph/traverse"

	"github.com/pcs-dev/pcs/pcs/graph"
)

// randomEdges is a random edge list over sparse int64 ids: several
// clusters (so the graph is often disconnected), self loops, duplicate
// edges, integer or fractional weights.
type randomEdges struct {
	directed, weighted bool
	src, dst           []int64
	w                  []float64
}

func genEdges(r *rand.Rand, directed, weighted bool) randomEdges {
	e := randomEdges{directed: directed, weighted: weighted}
	n := 1 + r.IntN(40)
	ids := r.Perm(10 * n)[:n] // sparse, shuffled ids
	clusters := 1 + r.IntN(4)
	m := r.IntN(4*n + 1)
	for range m {
		c := r.IntN(clusters)
		pick := func() int64 { // a vertex of cluster c
			for {
				k := r.IntN(n)
				if k%clusters == c || n < clusters {
					return int64(ids[k])
				}
			}
		}
		s, d := pick(), pick()
		if r.IntN(10) == 0 {
			d = s // self loop
		}
		w := 1.0
		if weighted {
			if r.IntN(2) == 0 {
				w = float64(r.IntN(10)) // zero weights too
			} else {
				w = r.Float64() * 10
			}
		}
		e.src, e.dst, e.w = append(e.src, s), append(e.dst, d), append(e.w, w)
		if r.IntN(8) == 0 { // duplicate edge (another weight when weighted)
			if weighted {
				w++
			}
			e.src, e.dst, e.w = append(e.src, s), append(e.dst, d), append(e.w, w)
		}
	}
	if m == 0 { // at least one vertex
		e.src, e.dst, e.w = []int64{int64(ids[0])}, []int64{int64(ids[0])}, []float64{1}
	}
	return e
}

// build builds the graph through the Arrow path (Builder.Append).
func (e randomEdges) build(t *testing.T) *graph.Graph {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	sb, db, wb := array.NewInt64Builder(mem), array.NewInt64Builder(mem), array.NewFloat64Builder(mem)
	defer sb.Release()
	defer db.Release()
	defer wb.Release()
	sb.AppendValues(e.src, nil)
	db.AppendValues(e.dst, nil)
	wb.AppendValues(e.w, nil)
	s, d, w := sb.NewArray(), db.NewArray(), wb.NewArray()
	defer s.Release()
	defer d.Release()
	defer w.Release()
	b := graph.NewBuilder(e.directed, e.weighted)
	var wa = w
	if !e.weighted {
		wa = nil
	}
	if err := b.Append(s, d, wa); err != nil {
		t.Fatal(err)
	}
	return b.Build()
}

// gonum graphs of the edge list, keyed by the original ids.

// multiDirected: every edge a line (undirected: both ways, a self loop
// once): gonum's weighted PageRank then sums parallel lines' weights,
// which is networkx's multigraph adjacency.
func (e randomEdges) multiDirected() *multi.WeightedDirectedGraph {
	g := multi.NewWeightedDirectedGraph()
	node := func(id int64) gg.Node {
		if n := g.Node(id); n != nil {
			return n
		}
		n := multi.Node(id)
		g.AddNode(n)
		return n
	}
	for i := range e.src {
		u, v := node(e.src[i]), node(e.dst[i])
		g.SetWeightedLine(g.NewWeightedLine(u, v, e.w[i]))
		if !e.directed && u.ID() != v.ID() {
			g.SetWeightedLine(g.NewWeightedLine(v, u, e.w[i]))
		}
	}
	return g
}

// simpleGraph: no self loops, parallel edges merged keeping the least
// weight (what a shortest path uses).
func (e randomEdges) simpleGraph() interface {
	gg.Graph
	Weight(x, y int64) (float64, bool)
} {
	type wg interface {
		gg.Graph
		Weight(x, y int64) (float64, bool)
		AddNode(gg.Node)
		SetWeightedEdge(gg.WeightedEdge)
		NewWeightedEdge(from, to gg.Node, w float64) gg.WeightedEdge
		WeightedEdge(uid, vid int64) gg.WeightedEdge
	}
	var g wg
	if e.directed {
		g = simple.NewWeightedDirectedGraph(0, math.Inf(1))
	} else {
		g = simple.NewWeightedUndirectedGraph(0, math.Inf(1))
	}
	for i := range e.src {
		for _, id := range []int64{e.src[i], e.dst[i]} {
			if g.Node(id) == nil {
				g.AddNode(simple.Node(id))
			}
		}
		if e.src[i] == e.dst[i] {
			continue
		}
		w := e.w[i]
		if old := g.WeightedEdge(e.src[i], e.dst[i]); old != nil && old.Weight() <= w {
			continue
		}
		g.SetWeightedEdge(g.NewWeightedEdge(simple.Node(e.src[i]), simple.Node(e.dst[i]), w))
	}
	return g
}

func idOf(g *graph.Graph, i int32) int64 { return g.Vertices().Int(i) }

func index(t *testing.T, g *graph.Graph, id int64) int32 {
	i, ok := g.Vertices().IndexInt(id)
	if !ok {
		t.Fatalf("vertex %d missing", id)
	}
	return i
}

// samePartition: labels (by dense index) and gonum's components describe
// the same partition.
func samePartition(t *testing.T, g *graph.Graph, c *graph.Components, want [][]gg.Node) {
	t.Helper()
	if c.Count != len(want) {
		t.Fatalf("%d components, gonum %d", c.Count, len(want))
	}
	for _, comp := range want {
		l := c.Label[index(t, g, comp[0].ID())]
		for _, n := range comp {
			if got := c.Label[index(t, g, n.ID())]; got != l {
				t.Fatalf("vertex %d in component %d, gonum puts it with %d (component %d)", n.ID(), got, comp[0].ID(), l)
			}
		}
	}
}

const trials = 300

// TestAgainstGonum: on random graphs (directed and undirected, weighted
// and not, disconnected, self loops, duplicate edges) every algorithm
// agrees with gonum: PageRank within 1e-9 of network.PageRankSparse
// (weighted over a multigraph, i.e. parallel weights summed), BFS levels
// with traverse.BreadthFirst, weak components with
// topo.ConnectedComponents, strong with topo.TarjanSCC, Dijkstra
// distances with path.DijkstraFrom, degrees with the multigraph's lines;
// BFS parents and DFS preorder against their definitions.
func TestAgainstGonum(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(16, 1))
	for trial := range trials {
		directed, weighted := trial%2 == 0, trial%4 < 2
		e := genEdges(r, directed, weighted)
		name := fmt.Sprintf("trial%d/directed=%v/weighted=%v/m=%d", trial, directed, weighted, len(e.src))
		t.Run(name, func(t *testing.T) {
			g := e.build(t)
			md := e.multiDirected()
			checkPageRank(ctx, t, g, md, 0.5+r.Float64()*0.45)
			sg := e.simpleGraph()
			root := index(t, g, e.src[r.IntN(len(e.src))])
			checkBFS(ctx, t, g, sg, root)
			checkDFS(t, g, root)
			checkComponents(t, e, g, sg)
			checkPaths(ctx, t, g, sg, root)
			checkDegrees(t, e, g, md)
		})
	}
}

func checkPageRank(ctx context.Context, t *testing.T, g *graph.Graph, md *multi.WeightedDirectedGraph, damp float64) {
	t.Helper()
	got, err := g.PageRank(ctx, graph.PageRankOptions{Damping: damp, Tolerance: 1e-15, MaxIterations: 10000})
	if err != nil {
		t.Fatal(err)
	}
	want := network.PageRankSparse(md, damp, 1e-14)
	var sum float64
	for i, x := range got.Rank {
		sum += x
		if w := want[idOf(g, int32(i))]; math.Abs(x-w) > 1e-9 {
			t.Errorf("pagerank(%d) = %.15g, gonum %.15g (damping %v)", idOf(g, int32(i)), x, w, damp)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("ranks sum to %v", sum)
	}
}

func checkBFS(ctx context.Context, t *testing.T, g *graph.Graph, sg gg.Graph, root int32) {
	t.Helper()
	got, err := g.BFS(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	depth := map[int64]int{}
	var b traverse.BreadthFirst
	b.Walk(sg, sg.Node(idOf(g, root)), func(n gg.Node, d int) bool { depth[n.ID()] = d; return false })
	for i, l := range got.Level {
		d, ok := depth[idOf(g, int32(i))]
		if !ok {
			d = -1
		}
		if int(l) != d {
			t.Fatalf("bfs level of %d = %d, gonum %d", idOf(g, int32(i)), l, d)
		}
		// the parent: the smallest-index in-neighbour one level up
		want := int32(-1)
		if l > 0 {
			for u := range int32(g.N()) {
				nbr, _ := g.Out(u)
				if got.Level[u] == l-1 && slices.Contains(nbr, int32(i)) {
					want = u
					break
				}
			}
		}
		if got.Parent[i] != want {
			t.Fatalf("bfs parent of %d = %d, want %d", i, got.Parent[i], want)
		}
	}
}

// checkDFS compares with a recursive preorder (networkx's
// dfs_preorder_nodes) and the reachable set with gonum's DepthFirst.
func checkDFS(t *testing.T, g *graph.Graph, root int32) {
	t.Helper()
	got, err := g.DFS(root)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, g.N())
	var want []int32
	var visit func(u int32)
	visit = func(u int32) {
		seen[u] = true
		want = append(want, u)
		nbr, _ := g.Out(u)
		for _, v := range nbr {
			if !seen[v] {
				visit(v)
			}
		}
	}
	visit(root)
	if !slices.Equal(got.Order, want) {
		t.Fatalf("dfs %v, want %v", got.Order, want)
	}
	all, _ := g.DFS(-1)
	if len(all.Order) != g.N() {
		t.Fatalf("dfs of all visits %d of %d", len(all.Order), g.N())
	}
}

func checkComponents(t *testing.T, e randomEdges, g *graph.Graph, sg gg.Graph) {
	t.Helper()
	und := simple.NewUndirectedGraph()
	for i := range e.src {
		for _, id := range []int64{e.src[i], e.dst[i]} {
			if und.Node(id) == nil {
				und.AddNode(simple.Node(id))
			}
		}
		if e.src[i] != e.dst[i] {
			und.SetEdge(und.NewEdge(simple.Node(e.src[i]), simple.Node(e.dst[i])))
		}
	}
	samePartition(t, g, g.WeakComponents(), topo.ConnectedComponents(und))
	if d, ok := sg.(gg.Directed); ok {
		samePartition(t, g, g.StrongComponents(), topo.TarjanSCC(d))
	} else {
		samePartition(t, g, g.StrongComponents(), topo.ConnectedComponents(und))
	}
}

func checkPaths(ctx context.Context, t *testing.T, g *graph.Graph, sg interface {
	gg.Graph
	Weight(x, y int64) (float64, bool)
}, root int32) {
	t.Helper()
	got, err := g.ShortestPaths(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	want := path.DijkstraFrom(sg.Node(idOf(g, root)), sg)
	for i, d := range got.Dist {
		id := idOf(g, int32(i))
		w := want.WeightTo(id)
		if math.IsInf(w, 1) != math.IsInf(d, 1) || (!math.IsInf(d, 1) && math.Abs(d-w) > 1e-9*(1+math.Abs(w))) {
			t.Fatalf("distance to %d = %v, gonum %v", id, d, w)
		}
		if p := got.Parent[i]; p >= 0 {
			ew, ok := sg.Weight(idOf(g, p), id)
			if !ok || math.Abs(got.Dist[p]+ew-d) > 1e-9*(1+d) {
				t.Fatalf("parent %d of %d: edge %v %v, %v + %v != %v", p, i, ok, ew, got.Dist[p], ew, d)
			}
		} else if int32(i) != root && !math.IsInf(d, 1) {
			t.Fatalf("reachable %d has no parent", i)
		}
	}
}

func checkDegrees(t *testing.T, e randomEdges, g *graph.Graph, md *multi.WeightedDirectedGraph) {
	t.Helper()
	got := g.Degrees()
	lines := func(u, v int64) int64 { return int64(len(gg.WeightedLinesOf(md.WeightedLines(u, v)))) }
	for i := range got.Degree {
		id := idOf(g, int32(i))
		var in, out int64
		for _, v := range gg.NodesOf(md.From(id)) {
			out += lines(id, v.ID())
		}
		for _, u := range gg.NodesOf(md.To(id)) {
			in += lines(u.ID(), id)
		}
		want := [3]int64{in, out, in + out}
		if !e.directed { // lines stored both ways (self loop once): networkx counts a self loop twice
			d := out + lines(id, id)
			want = [3]int64{d, d, d}
		}
		if have := [3]int64{got.In[i], got.Out[i], got.Degree[i]}; have != want {
			t.Fatalf("degrees of %d (in, out, degree) = %v, want %v", id, have, want)
		}
	}
}

// TestNegativeWeights: Dijkstra and PageRank reject negative weights.
func TestNegativeWeights(t *testing.T) {
	e := randomEdges{directed: true, weighted: true, src: []int64{1, 2}, dst: []int64{2, 3}, w: []float64{1, -1}}
	g := e.build(t)
	if _, err := g.ShortestPaths(context.Background(), 0); !errors.Is(err, graph.ErrNegativeWeight) {
		t.Fatalf("dijkstra: %v", err)
	}
	if _, err := g.PageRank(context.Background(), graph.DefaultPageRankOptions()); !errors.Is(err, graph.ErrNegativeWeight) {
		t.Fatalf("pagerank: %v", err)
	}
}

// TestLargeAgainstGonum runs the parallel paths (PageRank iterations and
// BFS frontiers above the serial threshold) on a graph of 60k edges and
// compares with gonum, on 1 and 4 goroutines.
func TestLargeAgainstGonum(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 7))
	e := randomEdges{directed: true, weighted: true}
	const n = 6000
	for range 60000 {
		s, d := r.Int64N(n), r.Int64N(n/2)*2 // odd vertices have no in-edges
		e.src, e.dst, e.w = append(e.src, s), append(e.dst, d), append(e.w, 1+r.Float64())
	}
	g := e.build(t)
	want := network.PageRankSparse(e.multiDirected(), 0.85, 1e-13)
	sg := e.simpleGraph()
	depth := map[int64]int{}
	var b traverse.BreadthFirst
	b.Walk(sg, sg.Node(e.src[0]), func(n gg.Node, d int) bool { depth[n.ID()] = d; return false })
	var first *graph.BFSResult
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		pr, err := g.PageRank(ctx, graph.PageRankOptions{Damping: 0.85, Tolerance: 1e-15, MaxIterations: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range pr.Rank {
			if w := want[idOf(g, int32(i))]; math.Abs(x-w) > 1e-9 {
				t.Fatalf("procs %d: pagerank(%d) = %v, gonum %v", procs, idOf(g, int32(i)), x, w)
			}
		}
		bfs, err := g.BFS(ctx, index(t, g, e.src[0]))
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range bfs.Level {
			d, ok := depth[idOf(g, int32(i))]
			if !ok {
				d = -1
			}
			if int(l) != d {
				t.Fatalf("procs %d: level of %d = %d, gonum %d", procs, idOf(g, int32(i)), l, d)
			}
		}
		if first == nil {
			first = bfs
		} else if !slices.Equal(first.Parent, bfs.Parent) {
			t.Fatal("bfs parents depend on GOMAXPROCS")
		}
		runtime.GOMAXPROCS(prev)
	}
}

// TestNetworkxUndirectedMultigraph: an undirected multigraph with a
// parallel edge and a self loop, against values networkx 3.x printed
// (networkx.algorithms.link_analysis.pagerank_alg._pagerank_python on
// MultiGraph([(1,2),(2,3),(2,3),(3,3),(4,5)]), alpha 0.85, tol 1e-12,
// and dict(M.degree())): a self loop counts once in PageRank's adjacency
// and twice in the degree.
func TestNetworkxUndirectedMultigraph(t *testing.T) {
	e := randomEdges{src: []int64{1, 2, 2, 3, 4}, dst: []int64{2, 3, 3, 3, 5}, w: []float64{1, 1, 1, 1, 1}}
	g := e.build(t)
	pr, err := g.PageRank(context.Background(), graph.PageRankOptions{Damping: 0.85, Tolerance: 1e-12, MaxIterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]float64{1: 0.10214913100325085, 2: 0.2546439917779617, 3: 0.2432068772187872, 4: 0.2, 5: 0.2}
	deg := map[int64]int64{1: 1, 2: 3, 3: 4, 4: 1, 5: 1}
	d := g.Degrees()
	for i, r := range pr.Rank {
		id := idOf(g, int32(i))
		if math.Abs(r-want[id]) > 1e-9 {
			t.Errorf("pagerank(%d) = %v, networkx %v", id, r, want[id])
		}
		if d.Degree[i] != deg[id] {
			t.Errorf("degree(%d) = %d, networkx %d", id, d.Degree[i], deg[id])
		}
	}
}
