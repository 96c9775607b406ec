package plan

import (
	"fmt"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/graph"
	"github.com/pcs-dev/pcs/pcs/ops"
	"github.com/pcs-dev/pcs/pcs/state/pebblestate"
)

// DefaultRegistry returns a new registry holding the built-ins
// (RegisterBuiltins): what `pcs run` and the stock pcs-node use. A
// program with systems of its own registers them on it too.
func DefaultRegistry() *Registry {
	reg := NewRegistry()
	RegisterBuiltins(reg)
	return reg
}

// RegisterBuiltins adds the built-in systems of package pcs/ops and the
// built-in resource "table", so a pipeline needs no Go code for them.
// docs/systems.md is the reference, with a tested example of each:
//
//	filter  { component, expression }
//	derive  { component, field, expression, into }
//	lookup  { component, table, keys, values, columns, into, inner }
//	dedupe  { component, keys, across, max_keys }
//	project { component, into, fields = ["a", "b"] }
//	rename  { component, into, fields = { old = "new" } }
//	cast    { component, into, fields = { f = "float64" } }
//	totals  { component, keys, value, out, into } (stateful: checkpointed)
//	resource table { name, path, keys, columns }
//
// and the graph systems of package pcs/graph (docs/graph.md), which
// accumulate an edge list (checkpointed) and answer at the end of input
// (plan.Finisher), one row per vertex:
//
//	pagerank       { component, source, target, weight, directed, damping, tolerance, max_iterations }
//	bfs            { component, source, target, weight, directed, root }
//	components     { component, source, target, weight, directed, strong }
//	shortest_paths { component, source, target, weight, directed, root }
//	degree         { component, source, target, weight, directed }
//
// Every system also takes name, its name in the plan (default the
// system's kind, so two of a kind in one pipeline need names).
func RegisterBuiltins(reg *Registry) {
	reg.System("filter", func(o Options) (pcs.System, error) {
		var opts struct {
			Name       string `toml:"name"`
			Component  string `toml:"component"`
			Expression string `toml:"expression"`
		}
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		return ops.Filter(orDefault(opts.Name, "filter"), c, opts.Expression)
	})
	reg.System("derive", func(o Options) (pcs.System, error) {
		var opts struct {
			Name       string `toml:"name"`
			Component  string `toml:"component"`
			Into       string `toml:"into"`
			Field      string `toml:"field"`
			Expression string `toml:"expression"`
		}
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		into, err := componentOr(o, opts.Into, c)
		if err != nil {
			return nil, err
		}
		return ops.DeriveInto(orDefault(opts.Name, "derive"), c, into, opts.Field, opts.Expression)
	})
	reg.System("lookup", func(o Options) (pcs.System, error) {
		var opts struct {
			Name      string   `toml:"name"`
			Component string   `toml:"component"`
			Into      string   `toml:"into"`
			Table     string   `toml:"table"`
			Keys      []string `toml:"keys"`
			Values    []string `toml:"values"`
			Columns   []string `toml:"columns"`
			Inner     bool     `toml:"inner"`
		}
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		if opts.Table == "" {
			return nil, fmt.Errorf("%w: %s: options: table is empty (the name of a table resource)", ErrConfig, o.where)
		}
		into, err := componentOr(o, opts.Into, c)
		if err != nil {
			return nil, err
		}
		return ops.LookupNamed(orDefault(opts.Name, "lookup"), c, opts.Table, opts.Keys,
			ops.LookupOptions{Into: into, Values: opts.Values, Columns: opts.Columns, Inner: opts.Inner})
	})
	reg.System("dedupe", func(o Options) (pcs.System, error) {
		var opts struct {
			Name      string   `toml:"name"`
			Component string   `toml:"component"`
			Keys      []string `toml:"keys"`
			Across    bool     `toml:"across"`
			MaxKeys   int      `toml:"max_keys"`
		}
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		if opts.Across {
			return ops.DedupeAcross(orDefault(opts.Name, "dedupe"), c, opts.Keys, ops.DedupeOptions{MaxKeys: opts.MaxKeys})
		}
		return ops.Dedupe(orDefault(opts.Name, "dedupe"), c, opts.Keys)
	})
	reg.System("project", func(o Options) (pcs.System, error) {
		var opts struct {
			Name      string   `toml:"name"`
			Component string   `toml:"component"`
			Into      string   `toml:"into"`
			Fields    []string `toml:"fields"`
		}
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		return defined(o)(ops.Project(orDefault(opts.Name, "project"), c, opts.Into, opts.Fields))
	})
	reg.System("rename", func(o Options) (pcs.System, error) {
		var opts fieldMapOptions
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		return defined(o)(ops.Rename(orDefault(opts.Name, "rename"), c, opts.Into, opts.Fields))
	})
	reg.System("cast", func(o Options) (pcs.System, error) {
		var opts fieldMapOptions
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		types := make(map[string]arrow.DataType, len(opts.Fields))
		for f, name := range opts.Fields {
			dt, err := ParseType(name)
			if err != nil {
				return nil, fmt.Errorf("%s: options: fields.%s: %w", o.where, f, err)
			}
			types[f] = dt
		}
		return defined(o)(ops.Cast(orDefault(opts.Name, "cast"), c, opts.Into, types))
	})
	reg.System("totals", func(o Options) (pcs.System, error) {
		var opts struct {
			Name      string   `toml:"name"`
			Component string   `toml:"component"`
			Into      string   `toml:"into"`
			Keys      []string `toml:"keys"`
			Value     string   `toml:"value"`
			Out       string   `toml:"out"`
		}
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		into, err := componentOr(o, opts.Into, c)
		if err != nil {
			return nil, err
		}
		name := orDefault(opts.Name, "totals")
		st, err := o.stateBackend(name)
		if err != nil {
			return nil, err
		}
		sys, err := ops.RunningTotalsWith(name, c, opts.Keys, opts.Value, into, opts.Out, ops.TotalsOptions{State: st})
		if err != nil && st != nil {
			st.Close()
		}
		return sys, err
	})
	reg.Resource("table", loadTable)
	registerGraph(reg)
}

// graphOptions are the options every graph system takes: the edge list
// (component, source and target id fields, optional weight field) and
// whether edges are directed (default true).
type graphOptions struct {
	Name      string `toml:"name"`
	Component string `toml:"component"`
	Source    string `toml:"source"`
	Target    string `toml:"target"`
	Weight    string `toml:"weight"`
	Directed  *bool  `toml:"directed"`
}

// graphSystem builds the graph.System of kind over o's edge list.
func graphSystem(o Options, kind string, g graphOptions, algo graph.Algorithm) (pcs.System, error) {
	if g.Component == "" {
		return nil, fmt.Errorf("%w: %s: options: component is empty", ErrConfig, o.where)
	}
	if g.Source == "" || g.Target == "" {
		return nil, fmt.Errorf("%w: %s: options: source and target (the edge list's vertex id fields) are required", ErrConfig, o.where)
	}
	c, err := o.Component(g.Component)
	if err != nil {
		return nil, err
	}
	directed := g.Directed == nil || *g.Directed
	return graph.NewSystem(graph.SystemConfig{Name: orDefault(g.Name, kind), Component: c,
		Source: g.Source, Target: g.Target, Weight: g.Weight, Directed: directed, Algorithm: algo})
}

// registerGraph registers the graph systems (see RegisterBuiltins).
func registerGraph(reg *Registry) {
	reg.System("pagerank", func(o Options) (pcs.System, error) {
		var opts struct {
			graphOptions
			Damping       *float64 `toml:"damping"`
			Tolerance     float64  `toml:"tolerance"`
			MaxIterations int      `toml:"max_iterations"`
		}
		if err := o.Decode(&opts); err != nil {
			return nil, err
		}
		po := graph.DefaultPageRankOptions()
		if opts.Damping != nil {
			po.Damping = *opts.Damping
		}
		if opts.Tolerance != 0 {
			po.Tolerance = opts.Tolerance
		}
		if opts.MaxIterations != 0 {
			po.MaxIterations = opts.MaxIterations
		}
		if err := po.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: options: %v", ErrConfig, o.where, err)
		}
		return graphSystem(o, "pagerank", opts.graphOptions, graph.PageRankAlgorithm(po))
	})
	rooted := func(kind string, algo func(string) graph.Algorithm) {
		reg.System(kind, func(o Options) (pcs.System, error) {
			var opts struct {
				graphOptions
				Root string `toml:"root"`
			}
			if err := o.Decode(&opts); err != nil {
				return nil, err
			}
			if opts.Root == "" {
				return nil, fmt.Errorf("%w: %s: options: root (the start vertex's id) is empty", ErrConfig, o.where)
			}
			return graphSystem(o, kind, opts.graphOptions, algo(opts.Root))
		})
	}
	rooted("bfs", graph.BFSAlgorithm)
	rooted("shortest_paths", graph.ShortestPathsAlgorithm)
	reg.System("components", func(o Options) (pcs.System, error) {
		var opts struct {
			graphOptions
			Strong bool `toml:"strong"`
		}
		if err := o.Decode(&opts); err != nil {
			return nil, err
		}
		return graphSystem(o, "components", opts.graphOptions, graph.ComponentsAlgorithm(opts.Strong))
	})
	reg.System("degree", func(o Options) (pcs.System, error) {
		var opts graphOptions
		if err := o.Decode(&opts); err != nil {
			return nil, err
		}
		return graphSystem(o, "degree", opts, graph.DegreeAlgorithm())
	})
}

// fieldMapOptions are the options of rename and cast: a field map from
// the component's fields to new names or types, into a new component.
type fieldMapOptions struct {
	Name      string            `toml:"name"`
	Component string            `toml:"component"`
	Into      string            `toml:"into"`
	Fields    map[string]string `toml:"fields"`
}

// decodeOn decodes o into opts and resolves the component *name names.
func decodeOn(o Options, opts any, name *string) (pcs.AnyComponent, error) {
	if err := o.Decode(opts); err != nil {
		return nil, err
	}
	if *name == "" {
		return nil, fmt.Errorf("%w: %s: options: component is empty", ErrConfig, o.where)
	}
	return o.Component(*name)
}

// componentOr resolves name, or returns c when name is empty.
func componentOr(o Options, name string, c pcs.AnyComponent) (pcs.AnyComponent, error) {
	if name == "" {
		return c, nil
	}
	return o.Component(name)
}

// defined adds the component a reshaping system made to the pipeline.
func defined(o Options) func(pcs.System, *pcs.DynamicComponent, error) (pcs.System, error) {
	return func(s pcs.System, c *pcs.DynamicComponent, err error) (pcs.System, error) {
		if err != nil {
			return nil, err
		}
		if err := o.Define(c); err != nil {
			return nil, err
		}
		return s, nil
	}
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// stateBackend opens the state backend of the stateful system called
// name, as the pipeline's [pipeline.state] says: nil (the system's own
// in-memory default) or a pebble store in <dir>/<pipeline>/<name>,
// emptied (the state comes back from checkpoints).
func (o Options) stateBackend(name string) (pcs.StateBackend, error) {
	st := o.state
	if st.Backend != "pebble" {
		return nil, nil
	}
	dir := st.Dir
	if !filepath.IsAbs(dir) && o.dir != "" {
		dir = filepath.Join(o.dir, dir)
	}
	dir = filepath.Join(dir, o.pipeline, name)
	opts := []pebblestate.Option{pebblestate.Truncate()}
	if st.Cache > 0 {
		opts = append(opts, pebblestate.CacheSize(int64(st.Cache)))
	}
	b, err := pebblestate.Open(dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: state: %w", o.where, err)
	}
	return b, nil
}
