package node

import (
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
)

// RegisterBuiltins adds the built-in systems of package pcs/ops, so a
// pipeline needs no Go code for them:
//
//	{ use = "filter", options = { component = "flight", expression = "delay > 15" } }
//	{ use = "derive", options = { component = "route", field = "route", expression = "..." } }
//
// Options: component (a registered component), expression (see
// docs/expressions.md), field (derive: the field it writes), and name
// (the system's name in the plan; default "filter" or "derive", so two of
// a kind in one pipeline need names).
func RegisterBuiltins(reg *Registry) {
	reg.System("filter", func(o Options) (pcs.System, error) {
		var opts struct {
			Name       string `toml:"name"`
			Component  string `toml:"component"`
			Expression string `toml:"expression"`
		}
		if err := o.Decode(&opts); err != nil {
			return nil, err
		}
		c, err := o.Component(opts.Component)
		if err != nil {
			return nil, err
		}
		return ops.Filter(orDefault(opts.Name, "filter"), c, opts.Expression)
	})
	reg.System("derive", func(o Options) (pcs.System, error) {
		var opts struct {
			Name       string `toml:"name"`
			Component  string `toml:"component"`
			Field      string `toml:"field"`
			Expression string `toml:"expression"`
		}
		if err := o.Decode(&opts); err != nil {
			return nil, err
		}
		c, err := o.Component(opts.Component)
		if err != nil {
			return nil, err
		}
		return ops.Derive(orDefault(opts.Name, "derive"), c, opts.Field, opts.Expression)
	})
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
