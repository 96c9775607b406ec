package plan

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
	"github.com/pcs-dev/pcs/transports/files"
)

// loadTable is the "table" resource: it reads a whole file (Parquet,
// Arrow, CSV, JSONL: files.Open) once, indexes it by its key columns
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
	path := o.Path(opts.Path)
	rec, err := readFile(ctx, path, opts.Columns)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", o.where, opts.Name, err)
	}
	defer rec.Release()
	t, err := ops.NewTable(rec, opts.Keys...)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %s: %w", o.where, opts.Name, path, err)
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
	src, err := files.Open(path)
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
