package ops

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/pcs-dev/pcs/pcs"
)

// A Dataset's components have fixed schemas, so the systems that change a
// schema (Project, Rename, Cast) write a new component: each returns the
// system and the component it fills, which the caller adds to the
// pipeline (pcs.PipelineBuilder.Components) and names in the output.
// They all build on CopyInto.

// Project returns a system that copies the fields of from named fields,
// in that order, into a new component called into with those fields
// (their types and nullability unchanged): SQL's SELECT f1, f2.
//
// Errors (*Error, Expr "project(fields...)"): no field, an unknown field
// (wrapping pcs.ErrUnknownField), a field named twice.
func Project(name string, from pcs.AnyComponent, into string, fields []string) (pcs.System, *pcs.DynamicComponent, error) {
	desc := "project(" + strings.Join(fields, ", ") + ")"
	if len(fields) == 0 {
		return nil, nil, &Error{System: name, Expr: desc, Err: fmt.Errorf("no field")}
	}
	out := make([]arrow.Field, 0, len(fields))
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f] {
			return nil, nil, &Error{System: name, Expr: desc, Err: fmt.Errorf("field %q named twice", f)}
		}
		seen[f] = true
		fld, err := fieldOf(from, f)
		if err != nil {
			return nil, nil, &Error{System: name, Expr: desc, Err: err}
		}
		out = append(out, fld)
	}
	return copyNew(name, desc, from, into, out, nil)
}

// Rename returns a system that copies every field of from into a new
// component called into with the same fields in the same order, the
// fields named by the keys of renames called by their values instead
// (old name -> new name): SQL's SELECT f AS g. The columns are shared,
// not copied (zero copy).
//
// Errors (*Error, Expr "rename(old as new, ...)"): no rename, an unknown
// field (wrapping pcs.ErrUnknownField), a new name that collides with
// another field of the result.
func Rename(name string, from pcs.AnyComponent, into string, renames map[string]string) (pcs.System, *pcs.DynamicComponent, error) {
	olds := slices.Sorted(maps.Keys(renames))
	parts := make([]string, len(olds))
	for i, o := range olds {
		parts[i] = o + " as " + renames[o]
	}
	desc := "rename(" + strings.Join(parts, ", ") + ")"
	fail := func(err error) (pcs.System, *pcs.DynamicComponent, error) {
		return nil, nil, &Error{System: name, Expr: desc, Err: err}
	}
	if len(renames) == 0 {
		return fail(fmt.Errorf("no field to rename"))
	}
	for _, o := range olds {
		if _, err := fieldOf(from, o); err != nil {
			return fail(err)
		}
	}
	fields := from.Schema().Fields()
	sources := map[string]string{}
	seen := map[string]bool{}
	for i, f := range fields {
		if n, ok := renames[f.Name]; ok {
			sources[n] = f.Name
			fields[i].Name = n
		}
		if seen[fields[i].Name] {
			return fail(fmt.Errorf("two fields called %q after renaming", fields[i].Name))
		}
		seen[fields[i].Name] = true
	}
	return copyNew(name, desc, from, into, fields, sources)
}

// Cast returns a system that copies every field of from into a new
// component called into with the same fields in the same order, the
// fields named by the keys of types converted to those types with
// arrow-go's cast kernel (compute.CastToType, safe options: an integer
// overflow or a float with a fraction cast to an integer is a run error,
// permanent). Fields not cast are shared (zero copy).
//
// Errors (*Error, Expr "cast(f as type, ...)"): no field, an unknown
// field (wrapping pcs.ErrUnknownField), a cast arrow-go cannot do
// (compute.CanCast false).
func Cast(name string, from pcs.AnyComponent, into string, types map[string]arrow.DataType) (pcs.System, *pcs.DynamicComponent, error) {
	names := slices.Sorted(maps.Keys(types))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " as " + types[n].String()
	}
	desc := "cast(" + strings.Join(parts, ", ") + ")"
	if len(types) == 0 {
		return nil, nil, &Error{System: name, Expr: desc, Err: fmt.Errorf("no field to cast")}
	}
	for _, n := range names {
		if _, err := fieldOf(from, n); err != nil {
			return nil, nil, &Error{System: name, Expr: desc, Err: err}
		}
	}
	fields := from.Schema().Fields()
	for i, f := range fields {
		if t, ok := types[f.Name]; ok {
			fields[i].Type = t
		}
	}
	return copyNew(name, desc, from, into, fields, nil)
}

// copyNew makes the component into with fields and the CopyInto system
// filling it.
func copyNew(name, desc string, from pcs.AnyComponent, into string, fields []arrow.Field, sources map[string]string) (pcs.System, *pcs.DynamicComponent, error) {
	if into == "" || into == from.Name() {
		return nil, nil, &Error{System: name, Expr: desc, Err: fmt.Errorf("the new component needs a name other than %q", from.Name())}
	}
	comp := pcs.NewDynamicComponent(into, arrow.NewSchema(fields, nil))
	s, err := copyInto(name, desc, from, comp, sources)
	if err != nil {
		return nil, nil, err
	}
	return s, comp, nil
}

// CopyInto returns a system that fills every field of component into from
// a field of component from (another component of the same dataset): the
// field named sources[f], or by default the field of the same name. A
// column of the same type is shared (zero copy); another type is
// converted with arrow-go's cast kernel (compute.CastToType, safe: lossy
// conversions are permanent run errors). Deleted rows are copied too.
//
// Meta: reads the source fields, writes every field of into. Errors
// (*Error, Expr "copy(from -> into)"): an unknown source field (wrapping
// pcs.ErrUnknownField), a type arrow-go cannot cast to the target's.
func CopyInto(name string, from, into pcs.AnyComponent, sources map[string]string) (pcs.System, error) {
	return copyInto(name, "copy("+from.Name()+" -> "+into.Name()+")", from, into, sources)
}

func copyInto(name, desc string, from, into pcs.AnyComponent, sources map[string]string) (pcs.System, error) {
	s := &copySystem{desc: desc}
	var reads, writes []pcs.Ref
	for _, f := range into.Schema().Fields() {
		src := f.Name
		if n, ok := sources[f.Name]; ok {
			src = n
		}
		in, err := pcs.NewField[arrow.Array](from, src)
		if err != nil {
			return nil, &Error{System: name, Expr: desc, Err: err}
		}
		out, err := pcs.NewField[arrow.Array](into, f.Name)
		if err != nil {
			return nil, &Error{System: name, Expr: desc, Err: err}
		}
		if !arrow.TypeEqual(in.Type(), out.Type()) && !compute.CanCast(in.Type(), out.Type()) {
			return nil, &Error{System: name, Expr: desc, Err: fmt.Errorf("%w: cannot cast %s (%s) to %s", pcs.ErrFieldType, in, in.Type(), out.Type())}
		}
		s.in = append(s.in, in)
		s.out = append(s.out, out)
		reads = append(reads, in)
		writes = append(writes, out)
	}
	s.meta = pcs.Meta(name).Read(reads...).Write(writes...)
	return s, nil
}

type copySystem struct {
	meta    pcs.SystemMeta
	desc    string
	in, out []pcs.FieldRef[arrow.Array]
}

func (s *copySystem) Meta() pcs.SystemMeta { return s.meta }

// String returns "copy name: desc".
func (s *copySystem) String() string { return "copy " + s.meta.Name + ": " + s.desc }

func (s *copySystem) Run(ctx context.Context, ds *pcs.Dataset) error {
	for i, in := range s.in {
		col, err := in.Get(ds)
		if err != nil {
			return runErr(ctx, err)
		}
		out := s.out[i]
		if arrow.TypeEqual(col.DataType(), out.Type()) {
			if err := out.Set(ds, col); err != nil {
				return runErr(ctx, err)
			}
			continue
		}
		cast, err := compute.CastToType(compute.WithAllocator(ctx, ds.Allocator()), col, out.Type())
		if err != nil {
			return runErr(ctx, fmt.Errorf("ops: %s: cast %s to %s: %w", s.meta.Name, in, out.Type(), err))
		}
		err = out.Set(ds, cast)
		cast.Release()
		if err != nil {
			return runErr(ctx, err)
		}
	}
	return nil
}

// fieldOf returns the field called name of c.
func fieldOf(c pcs.AnyComponent, name string) (arrow.Field, error) {
	idx := c.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return arrow.Field{}, fmt.Errorf("%w: component %q has no field %q", pcs.ErrUnknownField, c.Name(), name)
	}
	return c.Schema().Field(idx[0]), nil
}
