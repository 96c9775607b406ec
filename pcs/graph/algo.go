package graph

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelMin is the work (edges) below which an algorithm step runs on
// one goroutine: spawning costs more than it saves.
const parallelMin = 1 << 14

// ranges splits vertices [0, n) into at most parts ranges of about equal
// edge counts by the offsets off (len n+1).
func ranges(off []int64, parts int) [][2]int32 {
	n := len(off) - 1
	if parts < 1 {
		parts = 1
	}
	total := off[n]
	out := make([][2]int32, 0, parts)
	lo := 0
	for p := 1; p <= parts && lo < n; p++ {
		hi := n
		if p < parts {
			// first vertex whose offset reaches p/parts of the edges
			target := total * int64(p) / int64(parts)
			hi = lo + 1
			for hi < n && off[hi] < target {
				hi++
			}
		}
		out = append(out, [2]int32{int32(lo), int32(hi)})
		lo = hi
	}
	return out
}

// parallel runs f over each range on its own goroutine and waits.
func parallel(rs [][2]int32, f func(part int, lo, hi int32)) {
	if len(rs) == 1 {
		f(0, rs[0][0], rs[0][1])
		return
	}
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i, r[0], r[1])
		}()
	}
	wg.Wait()
}

func workers(edges int64) int {
	if edges < parallelMin {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

// PageRankOptions are PageRank's parameters, networkx.pagerank's
// (alpha, tol, max_iter). Start from DefaultPageRankOptions.
type PageRankOptions struct {
	// Damping is the probability of following an edge (networkx alpha),
	// in [0, 1).
	Damping float64
	// Tolerance: iteration stops when the L1 norm of the change of the
	// rank vector is below N * Tolerance (networkx tol), > 0.
	Tolerance float64
	// MaxIterations bounds the power iterations (networkx max_iter), >= 1.
	MaxIterations int
}

// DefaultPageRankOptions returns networkx's defaults: damping 0.85,
// tolerance 1e-6, 100 iterations.
func DefaultPageRankOptions() PageRankOptions {
	return PageRankOptions{Damping: 0.85, Tolerance: 1e-6, MaxIterations: 100}
}

// Validate checks the options' ranges (errors wrap ErrOptions).
func (o PageRankOptions) Validate() error {
	switch {
	case !(o.Damping >= 0 && o.Damping < 1):
		return fmt.Errorf("%w: damping %v not in [0, 1)", ErrOptions, o.Damping)
	case !(o.Tolerance > 0):
		return fmt.Errorf("%w: tolerance %v <= 0", ErrOptions, o.Tolerance)
	case o.MaxIterations < 1:
		return fmt.Errorf("%w: max_iterations %d < 1", ErrOptions, o.MaxIterations)
	}
	return nil
}

// PageRankResult is PageRank's output: Rank[i] is dense vertex i's rank
// (the ranks sum to 1).
type PageRankResult struct {
	g          *Graph
	Rank       []float64
	Iterations int
}

// PageRank computes networkx.pagerank(G, alpha, tol=Tolerance,
// max_iter, weight) with no personalization: x starts at 1/N; each
// iteration x' = d*(x*P + s/N) + (1-d)/N where P is the adjacency with
// each row divided by the vertex's out-weight (parallel edges' weights
// add up; an undirected edge counts in both directions, a self loop
// once) and s the rank on dangling vertices (out-weight 0), spread
// uniformly; it stops when sum|x' - x| < N*Tolerance, else fails with
// ErrNotConverged after MaxIterations (the result then holds the last
// iterate). This is also the fixed point gonum's network.PageRank
// computes (its dangling columns are uniform too). Negative weights fail
// with ErrNegativeWeight. Iterations run on GOMAXPROCS goroutines over
// in-edge-balanced vertex ranges (pull over the CSC: no atomics); the
// sums' order, hence the last bits, may depend on GOMAXPROCS.
func (g *Graph) PageRank(ctx context.Context, o PageRankOptions) (*PageRankResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n := g.N()
	res := &PageRankResult{g: g, Rank: make([]float64, n)}
	if n == 0 {
		return res, nil
	}
	outW := make([]float64, n)
	for u := range int32(n) {
		nbr, w := g.out.at(u)
		if w == nil {
			outW[u] = float64(len(nbr))
			continue
		}
		var s float64
		for _, x := range w {
			if x < 0 {
				return nil, fmt.Errorf("%w: %v on an edge from %s", ErrNegativeWeight, x, g.v.String(u))
			}
			s += x
		}
		outW[u] = s
	}
	var dangling []int32
	inv := make([]float64, n) // 1/out-weight, 0 for dangling vertices
	for u, s := range outW {
		if s == 0 {
			dangling = append(dangling, int32(u))
		} else {
			inv[u] = 1 / s
		}
	}
	x, next, contrib := res.Rank, make([]float64, n), make([]float64, n)
	N := float64(n)
	for i := range x {
		x[i] = 1 / N
	}
	rs := ranges(g.in.off, workers(g.in.off[n]))
	errs := make([]float64, len(rs))
	d := o.Damping
	for it := 1; it <= o.MaxIterations; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var s float64
		for _, u := range dangling {
			s += x[u]
		}
		base := d*s/N + (1-d)/N
		parallel(rs, func(part int, lo, hi int32) {
			for u := lo; u < hi; u++ {
				contrib[u] = x[u] * inv[u]
			}
		})
		parallel(rs, func(part int, lo, hi int32) {
			var e float64
			for v := lo; v < hi; v++ {
				a, b := g.in.off[v], g.in.off[v+1]
				var sum float64
				if g.in.w == nil {
					for _, u := range g.in.nbr[a:b] {
						sum += contrib[u]
					}
				} else {
					w := g.in.w[a:b]
					for k, u := range g.in.nbr[a:b] {
						sum += contrib[u] * w[k]
					}
				}
				nv := d*sum + base
				e += math.Abs(nv - x[v])
				next[v] = nv
			}
			errs[part] = e
		})
		var e float64
		for _, p := range errs {
			e += p
		}
		x, next = next, x
		res.Iterations = it
		if e < N*o.Tolerance {
			copy(res.Rank, x) // x may be the scratch slice
			return res, nil
		}
	}
	copy(res.Rank, x)
	return res, fmt.Errorf("%w: %d iterations (tolerance %v)", ErrNotConverged, o.MaxIterations, o.Tolerance)
}

// BFSResult is a breadth-first search's output: Level[i] is dense vertex
// i's distance in edges from Root (-1: unreachable) and Parent[i] its
// parent in the BFS tree (-1 for Root and unreachable vertices).
type BFSResult struct {
	g      *Graph
	Root   int32
	Level  []int32
	Parent []int32
}

// BFS searches breadth-first from dense vertex root along out-edges (any
// edge of an undirected graph). Levels equal gonum's
// traverse.BreadthFirst depths and networkx's shortest path lengths; a
// vertex's parent is the smallest dense index among its in-neighbours
// one level up (deterministic, whatever the goroutines). Frontiers with
// many edges are expanded on GOMAXPROCS goroutines (level claimed by
// compare-and-swap, parent by atomic minimum). Errors: ErrUnknownVertex
// for a root out of range, ctx's error between levels.
func (g *Graph) BFS(ctx context.Context, root int32) (*BFSResult, error) {
	n := g.N()
	if root < 0 || int(root) >= n {
		return nil, fmt.Errorf("%w: index %d of %d", ErrUnknownVertex, root, n)
	}
	level, parent := make([]int32, n), make([]int32, n)
	for i := range level {
		level[i], parent[i] = -1, math.MaxInt32
	}
	level[root] = 0
	frontier := []int32{root}
	procs := runtime.GOMAXPROCS(0)
	var locals [][]int32
	for L := int32(0); len(frontier) > 0; L++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var work int64
		for _, u := range frontier {
			work += g.out.off[u+1] - g.out.off[u]
		}
		if work < parallelMin || procs == 1 || len(frontier) < 2 {
			var next []int32
			for _, u := range frontier {
				for _, v := range g.out.nbr[g.out.off[u]:g.out.off[u+1]] {
					switch level[v] {
					case -1:
						level[v], parent[v] = L+1, u
						next = append(next, v)
					case L + 1:
						parent[v] = min(parent[v], u)
					}
				}
			}
			frontier = next
			continue
		}
		parts := min(procs, len(frontier))
		if len(locals) < parts {
			locals = make([][]int32, parts)
		}
		var wg sync.WaitGroup
		for p := range parts {
			lo, hi := len(frontier)*p/parts, len(frontier)*(p+1)/parts
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := locals[p][:0]
				for _, u := range frontier[lo:hi] {
					for _, v := range g.out.nbr[g.out.off[u]:g.out.off[u+1]] {
						lv := atomic.LoadInt32(&level[v])
						if lv == -1 {
							if atomic.CompareAndSwapInt32(&level[v], -1, L+1) {
								next = append(next, v)
							}
							lv = L + 1 // whoever won set L+1
						}
						if lv == L+1 {
							for {
								cur := atomic.LoadInt32(&parent[v])
								if u >= cur || atomic.CompareAndSwapInt32(&parent[v], cur, u) {
									break
								}
							}
						}
					}
				}
				locals[p] = next
			}()
		}
		wg.Wait()
		frontier = frontier[:0:0]
		for p := range parts {
			frontier = append(frontier, locals[p]...)
		}
	}
	for i := range parent {
		if parent[i] == math.MaxInt32 {
			parent[i] = -1
		}
	}
	return &BFSResult{g: g, Root: root, Level: level, Parent: parent}, nil
}

// DFSResult is a depth-first preorder: Order lists dense vertex indices
// in the order they were first visited.
type DFSResult struct {
	g     *Graph
	Order []int32
}

// DFS returns the depth-first preorder from dense vertex root along
// out-edges, neighbours taken in edge-list order: networkx's
// dfs_preorder_nodes(G, source). A negative root visits every vertex,
// starting a new tree at each unvisited vertex in index order
// (dfs_preorder_nodes(G) with nodes in first-appearance order).
// Iterative: no recursion depth limit.
func (g *Graph) DFS(root int32) (*DFSResult, error) {
	n := g.N()
	if int(root) >= n {
		return nil, fmt.Errorf("%w: index %d of %d", ErrUnknownVertex, root, n)
	}
	seen := make([]bool, n)
	order := make([]int32, 0, n)
	type frame struct {
		u   int32
		pos int64
	}
	var stack []frame
	visit := func(s int32) {
		seen[s] = true
		order = append(order, s)
		stack = append(stack[:0], frame{s, g.out.off[s]})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			end := g.out.off[top.u+1]
			for top.pos < end && seen[g.out.nbr[top.pos]] {
				top.pos++
			}
			if top.pos == end {
				stack = stack[:len(stack)-1]
				continue
			}
			v := g.out.nbr[top.pos]
			top.pos++
			seen[v] = true
			order = append(order, v)
			stack = append(stack, frame{v, g.out.off[v]})
		}
	}
	if root >= 0 {
		visit(root)
	} else {
		for s := range int32(n) {
			if !seen[s] {
				visit(s)
			}
		}
	}
	return &DFSResult{g: g, Order: order}, nil
}

// Components is a partition of the vertices: Label[i] is dense vertex
// i's component in 0..Count-1, numbered in order of each component's
// smallest dense index (so vertex 0 is in component 0).
type Components struct {
	g      *Graph
	Label  []int32
	Count  int
	strong bool
}

// WeakComponents returns the weakly connected components (edge direction
// ignored): gonum's topo.ConnectedComponents, networkx's
// weakly_connected_components. Union-find with path halving and union by
// size over the edges: O(m α(n)).
func (g *Graph) WeakComponents() *Components {
	n := g.N()
	parent := make([]int32, n)
	size := make([]int32, n)
	for i := range parent {
		parent[i], size[i] = int32(i), 1
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for u := range int32(n) {
		for _, v := range g.out.nbr[g.out.off[u]:g.out.off[u+1]] {
			a, b := find(u), find(v)
			if a == b {
				continue
			}
			if size[a] < size[b] {
				a, b = b, a
			}
			parent[b] = a
			size[a] += size[b]
		}
	}
	for i := range parent {
		parent[i] = find(int32(i))
	}
	return relabel(g, parent, false)
}

// relabel numbers the classes of rep (a representative per vertex) by
// smallest member.
func relabel(g *Graph, rep []int32, strong bool) *Components {
	label := make([]int32, len(rep))
	byRep := make([]int32, len(rep))
	for i := range byRep {
		byRep[i] = -1
	}
	count := int32(0)
	for v, r := range rep {
		if byRep[r] < 0 {
			byRep[r] = count
			count++
		}
		label[v] = byRep[r]
	}
	return &Components{g: g, Label: label, Count: int(count), strong: strong}
}

// StrongComponents returns the strongly connected components: gonum's
// topo.TarjanSCC, networkx's strongly_connected_components (for an
// undirected graph, the connected components). Tarjan's algorithm,
// iterative: O(n + m) time, no recursion depth limit.
func (g *Graph) StrongComponents() *Components {
	n := g.N()
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	rep := make([]int32, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int32
	type frame struct {
		u   int32
		pos int64
	}
	var call []frame
	next := int32(0)
	for s := range int32(n) {
		if index[s] >= 0 {
			continue
		}
		call = append(call[:0], frame{s, g.out.off[s]})
		index[s], low[s] = next, next
		next++
		stack = append(stack, s)
		onStack[s] = true
		for len(call) > 0 {
			top := &call[len(call)-1]
			u := top.u
			if top.pos < g.out.off[u+1] {
				v := g.out.nbr[top.pos]
				top.pos++
				switch {
				case index[v] < 0:
					index[v], low[v] = next, next
					next++
					stack = append(stack, v)
					onStack[v] = true
					call = append(call, frame{v, g.out.off[v]})
				case onStack[v]:
					low[u] = min(low[u], index[v])
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].u
				low[p] = min(low[p], low[u])
			}
			if low[u] == index[u] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					rep[w] = u
					if w == u {
						break
					}
				}
			}
		}
	}
	return relabel(g, rep, true)
}

// PathsResult is single-source shortest paths' output: Dist[i] is the
// least total weight of a path from Root to dense vertex i (+Inf:
// unreachable) and Parent[i] the vertex before i on one such path (-1
// for Root and unreachable vertices).
type PathsResult struct {
	g      *Graph
	Root   int32
	Dist   []float64
	Parent []int32
}

// ShortestPaths runs Dijkstra's algorithm from dense vertex root along
// out-edges (unweighted: every edge weighs 1), with a binary heap and
// lazy deletion: O((n + m) log n). Distances equal gonum's
// path.DijkstraFrom and networkx's single_source_dijkstra_path_length
// (of parallel edges the lightest counts). Any negative weight in the
// graph fails with ErrNegativeWeight before the search starts (Dijkstra
// is wrong with them; use Bellman-Ford). Ties keep the first parent
// found.
func (g *Graph) ShortestPaths(ctx context.Context, root int32) (*PathsResult, error) {
	n := g.N()
	if root < 0 || int(root) >= n {
		return nil, fmt.Errorf("%w: index %d of %d", ErrUnknownVertex, root, n)
	}
	for i, w := range g.out.w {
		if w < 0 || math.IsNaN(w) {
			return nil, fmt.Errorf("%w: %v on an edge to %s", ErrNegativeWeight, w, g.v.String(g.out.nbr[i]))
		}
	}
	dist := make([]float64, n)
	parent := make([]int32, n)
	for i := range dist {
		dist[i], parent[i] = math.Inf(1), -1
	}
	dist[root] = 0
	h := distHeap{{0, root}}
	done := make([]bool, n)
	for pops := 0; len(h) > 0; pops++ {
		if pops&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		it := h.pop()
		u := it.v
		if done[u] || it.d > dist[u] {
			continue
		}
		done[u] = true
		nbr, w := g.out.at(u)
		for k, v := range nbr {
			wt := 1.0
			if w != nil {
				wt = w[k]
			}
			if nd := it.d + wt; nd < dist[v] {
				dist[v], parent[v] = nd, u
				h.push(distItem{nd, v})
			}
		}
	}
	return &PathsResult{g: g, Root: root, Dist: dist, Parent: parent}, nil
}

type distItem struct {
	d float64
	v int32
}

type distHeap []distItem

func (h *distHeap) push(it distItem) {
	*h = append(*h, it)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].d <= a[i].d {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *distHeap) pop() distItem {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].d < a[m].d {
			m = l
		}
		if r < len(a) && a[r].d < a[m].d {
			m = r
		}
		if m == i {
			break
		}
		a[m], a[i] = a[i], a[m]
		i = m
	}
	*h = a
	return top
}

// DegreeResult holds each dense vertex's degrees. Directed: In and Out
// count in- and out-edges (parallel edges each, a self loop once in
// each), Degree = In + Out. Undirected: In, Out and Degree are all the
// number of incident edges, a self loop counting twice (networkx's
// degree).
type DegreeResult struct {
	g               *Graph
	In, Out, Degree []int64
}

// Degrees returns every vertex's degrees in O(n).
func (g *Graph) Degrees() *DegreeResult {
	n := g.N()
	r := &DegreeResult{g: g, In: make([]int64, n), Out: make([]int64, n), Degree: make([]int64, n)}
	for u := range n {
		out := g.out.off[u+1] - g.out.off[u]
		if !g.directed {
			d := out + int64(g.selfLoop[u])
			r.In[u], r.Out[u], r.Degree[u] = d, d, d
			continue
		}
		in := g.in.off[u+1] - g.in.off[u]
		r.In[u], r.Out[u], r.Degree[u] = in, out, in+out
	}
	return r
}
