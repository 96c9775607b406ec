package node

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
)

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
		var opts struct {
			Name      string            `toml:"name"`
			Component string            `toml:"component"`
			Into      string            `toml:"into"`
			Fields    map[string]string `toml:"fields"`
		}
		c, err := decodeOn(o, &opts, &opts.Component)
		if err != nil {
			return nil, err
		}
		return defined(o)(ops.Rename(orDefault(opts.Name, "rename"), c, opts.Into, opts.Fields))
	})
	reg.System("cast", func(o Options) (pcs.System, error) {
		var opts struct {
			Name      string            `toml:"name"`
			Component string            `toml:"component"`
			Into      string            `toml:"into"`
			Fields    map[string]string `toml:"fields"`
		}
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

// loadTable is the "table" resource: it reads a whole file (Parquet,
// Arrow, CSV, JSONL: OpenFile) once, indexes it by its key columns
// (ops.NewTable) and adds it under its name to each dataset's ops.Tables
// resource, where the lookup system finds it.
func loadTable(ctx context.Context, o Options) (func(*pcs.Dataset) error, error) {
	var opts struct {
		Name    string   `toml:"name"`
		Path    string   `toml:"path"`
		Keys    []string `toml:"keys"`
		Columns []string `toml:"columns"`
	}
	if err := o.Decode(&opts); err != nil {
		return nil, err
	}
	if opts.Name == "" || opts.Path == "" {
		return nil, fmt.Errorf("%w: %s: options: name and path are required", ErrConfig, o.where)
	}
	rec, err := readFile(ctx, opts.Path, opts.Columns)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", o.where, opts.Name, err)
	}
	defer rec.Release()
	t, err := ops.NewTable(rec, opts.Keys...)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %s: %w", o.where, opts.Name, opts.Path, err)
	}
	return func(ds *pcs.Dataset) error {
		ts, err := pcs.GetResource[ops.Tables](ds)
		if err != nil && !errors.Is(err, pcs.ErrNoResource) {
			return err
		}
		return pcs.InsertResource(ds, ts.With(opts.Name, t))
	}, nil
}

// readFile reads a whole file into one RecordBatch (the caller releases
// it), keeping only columns when not empty.
func readFile(ctx context.Context, path string, columns []string) (arrow.RecordBatch, error) {
	src, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		recs = append(recs, rec)
	}
	schema := src.Schema()
	if len(recs) > 0 {
		schema = recs[0].Schema()
	}
	if schema == nil {
		return nil, fmt.Errorf("%s: empty file without a schema", path)
	}
	if len(columns) == 0 {
		for _, f := range schema.Fields() {
			columns = append(columns, f.Name)
		}
	}
	fields := make([]arrow.Field, len(columns))
	cols := make([]arrow.Array, len(columns))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for i, name := range columns {
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%s: %w: no column %q (columns: %v)", path, pcs.ErrUnknownField, name, schema.Fields())
		}
		fields[i] = schema.Field(idx[0])
		parts := make([]arrow.Array, len(recs))
		for j, r := range recs {
			parts[j] = r.Column(idx[0])
		}
		if len(parts) == 0 {
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, fields[i].Type, 0)
			continue
		}
		if cols[i], err = array.Concatenate(parts, memory.DefaultAllocator); err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", path, name, err)
		}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rows), nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
