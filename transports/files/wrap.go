package files

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
)

// projection returns some columns of its source's batches, without
// copying them (WithColumns and WithSchema for the formats that read
// whole rows), and null columns for declared columns the file lacks.
type projection struct {
	transports.Source
	schema *arrow.Schema
	idx    []int // per output column: its index in the source's schema, or -1: nulls
	mem    memory.Allocator
}

// newProjection selects the columns names of src. A name src lacks is
// an ErrUnknownColumn error, unless fill (the declared schema) has it:
// it then reads as nulls of its declared type.
func newProjection(src transports.Source, names []string, path string, fill *arrow.Schema, mem memory.Allocator) (*projection, error) {
	in := src.Schema()
	p := &projection{Source: src, idx: make([]int, len(names)), mem: mem}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		found := in.FieldIndices(name)
		if len(found) == 0 && fill != nil {
			p.idx[i] = -1
			fields[i] = fill.Field(fill.FieldIndices(name)[0])
			fields[i].Nullable = true
			continue
		}
		if len(found) == 0 {
			have := make([]string, in.NumFields())
			for j, f := range in.Fields() {
				have[j] = f.Name
			}
			return nil, fmt.Errorf("%w %q in %s (columns: %s)", ErrUnknownColumn, name, path, strings.Join(have, ", "))
		}
		p.idx[i] = found[0]
		fields[i] = in.Field(found[0])
	}
	md := in.Metadata()
	p.schema = arrow.NewSchema(fields, &md)
	return p, nil
}

// Schema returns the selected columns' schema.
func (p *projection) Schema() *arrow.Schema { return p.schema }

// Read returns the next batch of the source with the selected columns;
// the caller releases it.
func (p *projection) Read(ctx context.Context) (arrow.RecordBatch, error) {
	rec, err := p.Source.Read(ctx)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	cols := make([]arrow.Array, len(p.idx))
	for i, j := range p.idx {
		if j >= 0 {
			cols[i] = rec.Column(j)
			continue
		}
		cols[i] = array.MakeArrayOfNull(p.mem, p.schema.Field(i).Type, int(rec.NumRows()))
		defer cols[i].Release()
	}
	return array.NewRecordBatch(p.schema, cols, rec.NumRows()), nil
}

// rebatch slices its source's batches to at most max rows, without
// copying (WithBatchRows for Arrow IPC files, whose batches are as
// written).
type rebatch struct {
	transports.Source
	max int64
	cur arrow.RecordBatch // being sliced; nil when none
	off int64
}

// Read returns the next slice of at most max rows (a batch of zero rows
// passes through as it is); the caller releases it.
func (r *rebatch) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.cur == nil {
		rec, err := r.Source.Read(ctx)
		if err != nil {
			return nil, err
		}
		if rec.NumRows() <= r.max {
			return rec, nil
		}
		r.cur, r.off = rec, 0
	}
	end := min(r.off+r.max, r.cur.NumRows())
	out := r.cur.NewSlice(r.off, end)
	r.off = end
	if end == r.cur.NumRows() {
		r.cur.Release()
		r.cur = nil
	}
	return out, nil
}

// Close releases the batch being sliced and closes the source.
func (r *rebatch) Close() error {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	return r.Source.Close()
}
