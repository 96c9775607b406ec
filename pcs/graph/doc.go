// Package graph builds compressed sparse adjacency (CSR for out-edges,
// CSC for in-edges) from Arrow edge lists and runs graph algorithms on
// it: breadth-first search (levels, parents), depth-first preorder,
// PageRank, weakly and strongly connected components, single-source
// shortest paths (Dijkstra) and degrees. Results are Arrow record batches
// keyed by the original vertex ids (column "vertex").
//
// # Edge lists and vertex ids
//
// A Builder takes edge-list columns batch by batch (source and target:
// any Arrow integer type, read as int64, or string / large string; an
// optional weight: any integer or floating type, read as float64) and
// maps each distinct vertex id to a dense index 0..n-1 in order of first
// appearance (source before target within a row). Rows with a null
// source, target or weight are skipped and counted. Build sorts the
// edges by source with a counting sort (O(n + m) time, stable: a vertex's
// out-edges keep their input order) into a Graph. Duplicate edges and
// self loops are kept: algorithms define what they mean (PageRank sums
// parallel edges' weights, Dijkstra takes the lightest, degree counts
// each).
//
// A Graph is immutable and safe for concurrent use. In an undirected
// graph every edge {u, v} is stored as u->v and v->u (a self loop once),
// which is networkx's adjacency of an undirected (multi)graph.
//
// # Definitions
//
// The algorithms follow networkx (and agree with gonum's
// gonum.org/v1/gonum/graph packages, which the property tests check on
// random graphs): PageRank is networkx.pagerank (power iteration from
// the uniform vector, dangling nodes' rank spread uniformly, stop when
// the L1 change is below n*tolerance) and equals gonum's
// network.PageRank's fixed point within 1e-9; BFS levels are
// traverse.BreadthFirst's depths; components are
// topo.ConnectedComponents' and topo.TarjanSCC's partitions; shortest
// paths are path.DijkstraFrom's distances.
//
// # Parallelism and Arrow memory
//
// PageRank iterations and large BFS frontiers run on GOMAXPROCS
// goroutines over vertex ranges balanced by edge count. Results do not
// depend on the number of goroutines (BFS parents are the smallest-index
// parent in the previous level, not the first to arrive).
//
// Builder.Append reads the arrays it is given and keeps none of them
// (ids are copied). Every Record method returns a new RecordBatch
// allocated from the given allocator; the caller releases it.
//
// # Pipelines
//
// NewSystem wraps an algorithm as a pcs.System for pipelines: it
// accumulates the edges of every dataset it runs on (checkpointed state,
// pcs.Stateful) and computes the algorithm at the end of input (Finish,
// which package plan calls at `pcs run`'s end and at a producer's final
// watermark on pcs-node). docs/graph.md has the TOML systems.
package graph
