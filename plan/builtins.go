package plan

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
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
		return ops.RunningTotals(orDefault(opts.Name, "totals"), c, opts.Keys, opts.Value, into, opts.Out)
	})
	reg.Resource("table", loadTable)
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
