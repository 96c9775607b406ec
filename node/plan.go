package node

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// plan is a pipeline config resolved against a registry: the components,
// the built pcs.Pipeline, the loaded resources and the output columns.
// pcs-node's runners and `pcs run` (RunLocal) share it, so one pipeline
// section means the same in both.
type plan struct {
	pipeline  *pcs.Pipeline
	comps     []pcs.AnyComponent
	input     pcs.AnyComponent
	outSchema *arrow.Schema
	outCols   []colRef
	resources []func(*pcs.Dataset) error
}

type colRef struct{ component, field string }

// newPlan resolves pc: components, output columns, systems (built in
// order), resources (loaded now).
func newPlan(ctx context.Context, pc PipelineConfig, reg *Registry) (*plan, error) {
	p := &plan{}
	for _, name := range pc.Components {
		c, err := reg.component(name)
		if err != nil {
			return nil, err
		}
		p.comps = append(p.comps, c)
		if name == pc.Input.Component {
			p.input = c
		}
	}
	if p.input == nil {
		return nil, fmt.Errorf("%w: input.component %q is not in components %v", ErrConfig, pc.Input.Component, pc.Components)
	}
	if err := p.planOutput(pc, reg); err != nil {
		return nil, err
	}
	b := pcs.NewPipeline(pc.Name).Components(p.comps...).Retry(pc.retryPolicy())
	for i, u := range pc.Systems {
		f, err := reg.system(u.Use)
		if err != nil {
			return nil, err
		}
		s, err := f(Options{where: fmt.Sprintf("system %d (%q)", i+1, u.Use), raw: u.Options, reg: reg})
		if err != nil {
			return nil, fmt.Errorf("system %q: %w", u.Use, err)
		}
		b.Add(s)
	}
	var err error
	if p.pipeline, err = b.Build(); err != nil {
		return nil, err
	}
	for i, u := range pc.Resources {
		f, err := reg.resource(u.Use)
		if err != nil {
			return nil, err
		}
		load, err := f(ctx, Options{where: fmt.Sprintf("resource %d (%q)", i+1, u.Use), raw: u.Options, reg: reg})
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", u.Use, err)
		}
		p.resources = append(p.resources, load)
	}
	return p, nil
}

// planOutput resolves output.components into the output schema.
func (p *plan) planOutput(pc PipelineConfig, reg *Registry) error {
	names := pc.Output.Components
	if len(names) == 0 {
		names = pc.Components
	}
	seen := map[string]string{}
	var fields []arrow.Field
	for _, name := range names {
		c, err := reg.component(name)
		if err != nil {
			return err
		}
		for _, f := range c.Schema().Fields() {
			if prev, dup := seen[f.Name]; dup {
				return fmt.Errorf("%w: output field %q is in components %q and %q", ErrConfig, f.Name, prev, name)
			}
			seen[f.Name] = name
			fields = append(fields, f)
			p.outCols = append(p.outCols, colRef{component: name, field: f.Name})
		}
	}
	p.outSchema = arrow.NewSchema(fields, nil)
	return nil
}

// dataset builds the dataset of one input: the input component from recs
// (released here, matched by column name, see conform), the other
// components empty-filled, the resources inserted. The caller releases it.
func (p *plan) dataset(ctx context.Context, mem memory.Allocator, recs []arrow.RecordBatch) (*pcs.Dataset, error) {
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
	for _, load := range p.resources {
		if err := load(ds); err != nil {
			ds.Release()
			return nil, err
		}
	}
	return ds, nil
}

// output assembles the output batch from the output components' columns
// (compact ds first); the caller releases it.
func (p *plan) output(ds *pcs.Dataset) arrow.RecordBatch {
	cols := make([]arrow.Array, len(p.outCols))
	for i, c := range p.outCols {
		cols[i], _ = ds.Column(c.component, c.field) // resolved in planOutput
	}
	return array.NewRecordBatch(p.outSchema, cols, int64(ds.Len()))
}
