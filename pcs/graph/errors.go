package graph

import "errors"

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrNegativeWeight: Dijkstra (and PageRank) met an edge of negative
	// weight, for which they are not defined.
	ErrNegativeWeight = errors.New("graph: negative edge weight")
	// ErrVertexType: an id column that is neither an integer nor a string
	// type, or of a type other than the ids seen before.
	ErrVertexType = errors.New("graph: unsupported vertex id type")
	// ErrWeightType: a weight column that is not an integer or floating
	// type.
	ErrWeightType = errors.New("graph: unsupported weight type")
	// ErrUnknownVertex: a root vertex that is not in the graph.
	ErrUnknownVertex = errors.New("graph: unknown vertex")
	// ErrNotConverged: PageRank did not converge within its maximum
	// number of iterations (networkx's PowerIterationFailedConvergence).
	ErrNotConverged = errors.New("graph: pagerank did not converge")
	// ErrOptions: invalid algorithm options (a damping outside [0, 1), a
	// tolerance <= 0, ...).
	ErrOptions = errors.New("graph: invalid options")
	// ErrTooLarge: more than 2^31-1 vertices (dense indices are int32).
	ErrTooLarge = errors.New("graph: too many vertices")
)
