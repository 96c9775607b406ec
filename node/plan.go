package node

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/window"
)

// plan is a pipeline config resolved against a registry: the components,
// the built pcs.Pipeline, the loaded resources and the output columns.
// pcs-node's runners and `pcs run` (RunLocal) share it, so one pipeline
// section means the same in both.
type plan struct {
	pipeline  *pcs.Pipeline // nil when the window system is the only one
	comps     []pcs.AnyComponent
	input     pcs.AnyComponent
	outSchema *arrow.Schema
	outCols   []colRef
	resources []func(*pcs.Dataset) error
	// window, when the pipeline ends with the window system: its spec and
	// the schema of the rows it gets (the pipeline's output columns);
	// outSchema is then the window results' schema.
	window   *window.Spec
	windowIn *arrow.Schema
	// windowShards > 0: fleet windows (shards.go).
	windowShards int
}

// newWindow returns a window operator with empty state, or nil when the
// pipeline has no window system.
func (p *plan) newWindow(mem memory.Allocator) (*window.Operator, error) {
	if p.window == nil {
		return nil, nil
	}
	return window.New(*p.window, p.windowIn, mem)
}

type colRef struct{ component, field string }

// newPlan resolves pc: declared components, systems (built in order;
// they may define components), the pipeline's components, output columns
// and resources (loaded now).
func newPlan(ctx context.Context, pc PipelineConfig, reg *Registry) (*plan, error) {
	p := &plan{}
	sc := &scope{reg: reg}
	for i, d := range pc.Declared {
		c, err := declare(d)
		if err != nil {
			return nil, fmt.Errorf("component %d (%q): %w", i+1, d.Name, err)
		}
		if err := sc.define(c); err != nil {
			return nil, err
		}
	}
	var systems []pcs.System
	var windowOpts *Options
	for i, u := range pc.Systems {
		if u.Use == windowSystem {
			if i != len(pc.Systems)-1 {
				return nil, fmt.Errorf("%w: system %d (%q): the window system must be the pipeline's last", ErrConfig, i+1, u.Use)
			}
			windowOpts = &Options{where: fmt.Sprintf("system %d (%q)", i+1, u.Use), raw: u.Options, scope: sc}
			break
		}
		f, err := reg.system(u.Use)
		if err != nil {
			return nil, err
		}
		s, err := f(Options{where: fmt.Sprintf("system %d (%q)", i+1, u.Use), raw: u.Options, scope: sc})
		if err != nil {
			return nil, fmt.Errorf("system %q: %w", u.Use, err)
		}
		systems = append(systems, s)
	}
	listed := map[string]bool{}
	for _, name := range pc.Components {
		c, err := sc.component(name)
		if err != nil {
			return nil, err
		}
		listed[name] = true
		p.comps = append(p.comps, c)
	}
	for _, c := range sc.order {
		if !listed[c.Name()] {
			p.comps = append(p.comps, c)
		}
	}
	for _, c := range p.comps {
		if c.Name() == pc.Input.Component {
			p.input = c
		}
	}
	if p.input == nil {
		return nil, fmt.Errorf("%w: input.component %q is not a component of the pipeline (%v)", ErrConfig, pc.Input.Component, compNames(p.comps))
	}
	if err := p.planOutput(pc, sc); err != nil {
		return nil, err
	}
	if windowOpts != nil {
		spec, out, shards, err := windowSpec(*windowOpts, p.outSchema)
		if err != nil {
			return nil, err
		}
		p.window, p.windowIn, p.outSchema, p.windowShards = &spec, p.outSchema, out, shards
	}
	if len(systems) > 0 { // none: a pipeline of only the window system
		var err error
		if p.pipeline, err = pcs.NewPipeline(pc.Name).Components(p.comps...).Retry(pc.retryPolicy()).Add(systems...).Build(); err != nil {
			return nil, err
		}
	}
	for i, u := range pc.Resources {
		f, err := reg.resource(u.Use)
		if err != nil {
			return nil, err
		}
		load, err := f(ctx, Options{where: fmt.Sprintf("resource %d (%q)", i+1, u.Use), raw: u.Options, scope: sc})
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", u.Use, err)
		}
		p.resources = append(p.resources, load)
	}
	return p, nil
}

// declare makes the component a [[pipeline.component]] table declares.
func declare(d ComponentConfig) (pcs.AnyComponent, error) {
	if d.Name == "" {
		return nil, fmt.Errorf("%w: name is empty", ErrConfig)
	}
	if len(d.Fields) == 0 {
		return nil, fmt.Errorf("%w: no fields", ErrConfig)
	}
	fields := make([]arrow.Field, len(d.Fields))
	seen := map[string]bool{}
	for i, s := range d.Fields {
		f, err := parseField(s)
		if err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%w: field %q declared twice", ErrConfig, f.Name)
		}
		seen[f.Name] = true
		fields[i] = f
	}
	return pcs.NewDynamicComponent(d.Name, arrow.NewSchema(fields, nil)), nil
}

func compNames(cs []pcs.AnyComponent) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name()
	}
	return out
}

// planOutput resolves output.components (default: all the pipeline's
// components) into the output schema.
func (p *plan) planOutput(pc PipelineConfig, sc *scope) error {
	comps := p.comps
	if names := pc.Output.Components; len(names) > 0 {
		comps = nil
		for _, name := range names {
			c, err := sc.component(name)
			if err != nil {
				return fmt.Errorf("output.components: %w", err)
			}
			comps = append(comps, c)
		}
	}
	seen := map[string]string{}
	var fields []arrow.Field
	for _, c := range comps {
		for _, f := range c.Schema().Fields() {
			if prev, dup := seen[f.Name]; dup {
				return fmt.Errorf("%w: output field %q is in components %q and %q", ErrConfig, f.Name, prev, c.Name())
			}
			seen[f.Name] = c.Name()
			fields = append(fields, f)
			p.outCols = append(p.outCols, colRef{component: c.Name(), field: f.Name})
		}
	}
	p.outSchema = arrow.NewSchema(fields, nil)
	return nil
}

// dataset builds the dataset of one input partition, id: the input
// component from recs (released here, matched by column name, see
// conform), the other components empty-filled, the resources and the
// pcs.PartitionID id inserted. The caller releases it.
func (p *plan) dataset(ctx context.Context, mem memory.Allocator, id string, recs []arrow.RecordBatch) (*pcs.Dataset, error) {
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(p.comps...); err != nil {
		ds.Release()
		return nil, err
	}
	for _, rec := range recs {
		c, err := conform(ctx, mem, rec, p.input.Schema())
		if err != nil {
			ds.Release()
			return nil, fmt.Errorf("input component %q: %w", p.input.Name(), err)
		}
		_, err = ds.Append(map[string]arrow.RecordBatch{p.input.Name(): c})
		c.Release()
		if err != nil {
			ds.Release()
			return nil, err
		}
	}
	if err := pcs.InsertResource(ds, pcs.PartitionID(id)); err != nil {
		ds.Release()
		return nil, err
	}
	for _, load := range p.resources {
		if err := load(ds); err != nil {
			ds.Release()
			return nil, err
		}
	}
	return ds, nil
}

// output assembles the output batch from the output components' columns
// (compact ds first): the pipeline's result, or the window system's input
// when it ends the pipeline. The caller releases it.
func (p *plan) output(ds *pcs.Dataset) arrow.RecordBatch {
	cols := make([]arrow.Array, len(p.outCols))
	for i, c := range p.outCols {
		cols[i], _ = ds.Column(c.component, c.field) // resolved in planOutput
	}
	schema := p.outSchema
	if p.window != nil {
		schema = p.windowIn
	}
	return array.NewRecordBatch(schema, cols, int64(ds.Len()))
}
