package pcs

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/array/arreflect"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// AnyComponent is what a Dataset registers: a name, unique in the dataset,
// and an Arrow schema. *Component[T] and *DynamicComponent implement it.
// Passed as a [Ref] in SystemMeta it declares access to every field.
type AnyComponent interface {
	Name() string
	Schema() *arrow.Schema
	Ref
}

// Component is a Go struct type T bound to an Arrow schema: a group of
// columns (one per exported field) that a Dataset stores as one
// RecordBatch. It converts []T to a RecordBatch and back.
//
// The schema comes from T's fields and their `arrow:"name"` tags (rules of
// arrow-go's arreflect; `arrow:"-"` skips a field; pointer fields are
// nullable), or from [WithSchema]. time.Time fields map to
// timestamp[ns, UTC] and round-trip, which arreflect v18.8.0 alone does not
// do (it infers them as an empty struct and loses the data).
//
// A Component is immutable and safe for concurrent use.
type Component[T any] struct {
	name     string
	schema   *arrow.Schema // the component's schema
	inferred *arrow.Schema // T's natural schema; differs from schema only with WithSchema
	times    [][]int       // struct field index paths of time.Time / *time.Time fields
	timeCols []int         // their column indexes in inferred
}

// ComponentOption configures NewComponent.
type ComponentOption func(*componentOptions)

type componentOptions struct{ schema *arrow.Schema }

// WithSchema sets the component's schema explicitly, for example int32
// where T has int64, or dictionary strings. Every schema field must match a
// field of T by name and be castable (arrow compute cast) to and from T's
// natural type; conversions cast column by column.
func WithSchema(s *arrow.Schema) ComponentOption {
	return func(o *componentOptions) { o.schema = s }
}

var timeType = reflect.TypeFor[time.Time]()

// TimestampNS is the Arrow type of time.Time fields: timestamp[ns, UTC].
var TimestampNS = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}

// NewComponent binds struct type T to a component named name. It returns
// an error if T is not a struct, a field has a type Arrow cannot represent,
// or a WithSchema schema does not fit T.
func NewComponent[T any](name string, opts ...ComponentOption) (*Component[T], error) {
	var o componentOptions
	for _, opt := range opts {
		opt(&o)
	}
	if name == "" || strings.ContainsAny(name, ".*") {
		return nil, fmt.Errorf("%w: component name %q must be non-empty without '.' or '*'", ErrBuild, name)
	}
	rt := reflect.TypeFor[T]()
	if rt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: component %q: %v is not a struct", ErrBuild, name, rt)
	}
	inferred, err := arreflect.InferSchema[T]()
	if err != nil {
		return nil, fmt.Errorf("pcs: component %q: %w", name, err)
	}
	c := &Component[T]{name: name}
	// Patch time.Time fields: arreflect infers them as struct<>.
	fields := inferred.Fields()
	times := timeFields(rt)
	for col, f := range fields {
		path, ok := times[f.Name]
		if !ok || f.Type.ID() != arrow.STRUCT {
			continue // tagged with an explicit temporal type arreflect handles
		}
		fields[col].Type = TimestampNS
		c.times = append(c.times, path)
		c.timeCols = append(c.timeCols, col)
	}
	md := inferred.Metadata()
	c.inferred = arrow.NewSchema(fields, &md)
	c.schema = c.inferred
	if o.schema != nil {
		if err := checkCastable(name, c.inferred, o.schema); err != nil {
			return nil, err
		}
		c.schema = o.schema
	}
	return c, nil
}

// MustComponent is NewComponent that panics on error; for package-level
// component variables.
func MustComponent[T any](name string, opts ...ComponentOption) *Component[T] {
	c, err := NewComponent[T](name, opts...)
	if err != nil {
		panic(err)
	}
	return c
}

// Name returns the component's name.
func (c *Component[T]) Name() string { return c.name }

// Schema returns the component's Arrow schema.
func (c *Component[T]) Schema() *arrow.Schema { return c.schema }

func (c *Component[T]) access() access { return componentAccess(c.name) }

// String returns "name.*", the notation of a whole-component access.
func (c *Component[T]) String() string { return c.name + ".*" }

// Batch converts rows to a RecordBatch with the component's schema and
// len(rows) rows, allocated from mem. The caller owns the result and must
// Release it.
func (c *Component[T]) Batch(mem memory.Allocator, rows []T) (arrow.RecordBatch, error) {
	rec, err := arreflect.RecordFromSlice(rows, mem)
	if err != nil {
		return nil, fmt.Errorf("pcs: component %q: %w", c.name, err)
	}
	defer rec.Release()
	cols := append([]arrow.Array(nil), rec.Columns()...)
	for k, path := range c.times {
		ts, err := buildTimes(mem, rows, path)
		if err != nil {
			return nil, fmt.Errorf("pcs: component %q: field %q: %w", c.name, c.inferred.Field(c.timeCols[k]).Name, err)
		}
		cols[c.timeCols[k]] = ts
		defer ts.Release()
	}
	if c.schema != c.inferred {
		for i := range cols {
			if arrow.TypeEqual(cols[i].DataType(), c.schema.Field(i).Type) {
				continue
			}
			out, err := castColumn(compute.WithAllocator(context.Background(), mem), cols[i], c.schema.Field(i).Type)
			if err != nil {
				return nil, fmt.Errorf("pcs: component %q: field %q: %w", c.name, c.schema.Field(i).Name, err)
			}
			cols[i] = out
			defer out.Release()
		}
	}
	return array.NewRecordBatch(c.schema, cols, int64(len(rows))), nil
}

// Rows converts a RecordBatch with the component's schema to a new []T.
// rec is only read; the caller keeps ownership of it. Returns an error
// wrapping ErrSchemaMismatch if rec's schema differs from the component's.
func (c *Component[T]) Rows(rec arrow.RecordBatch) ([]T, error) {
	if !rec.Schema().Equal(c.schema) {
		return nil, fmt.Errorf("%w: component %q: batch schema %s, want %s", ErrSchemaMismatch, c.name, rec.Schema(), c.schema)
	}
	if c.schema != c.inferred {
		cols := make([]arrow.Array, rec.NumCols())
		for i, col := range rec.Columns() {
			want := c.inferred.Field(i).Type
			if arrow.TypeEqual(col.DataType(), want) {
				col.Retain()
				cols[i] = col
				continue
			}
			out, err := castColumn(context.Background(), col, want)
			if err != nil {
				releaseAll(cols)
				return nil, fmt.Errorf("pcs: component %q: field %q: %w", c.name, c.schema.Field(i).Name, err)
			}
			cols[i] = out
		}
		rec = array.NewRecordBatch(c.inferred, cols, rec.NumRows())
		releaseAll(cols)
		defer rec.Release()
	}
	rows, err := arreflect.RecordToSlice[T](rec)
	if err != nil {
		return nil, fmt.Errorf("pcs: component %q: %w", c.name, err)
	}
	return rows, nil
}

// buildTimes builds the timestamp[ns, UTC] column of the struct field at
// index path path (a nil pointer on the way gives a null). A time outside
// the int64 nanosecond range (years 1678..2262, the zero time.Time among
// them) is an error: time.UnixNano would silently wrap it.
func buildTimes[T any](mem memory.Allocator, rows []T, path []int) (arrow.Array, error) {
	b := array.NewTimestampBuilder(mem, TimestampNS)
	defer b.Release()
	b.Reserve(len(rows))
rows:
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for _, x := range path {
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					b.AppendNull()
					continue rows
				}
				v = v.Elem()
			}
			v = v.Field(x)
		}
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				b.AppendNull()
				continue
			}
			v = v.Elem()
		}
		t := v.Interface().(time.Time)
		ts, err := arrow.TimestampFromTime(t, arrow.Nanosecond)
		if err != nil {
			return nil, fmt.Errorf("row %d: time %v is outside the range of timestamp[ns]: %w", i, t, err)
		}
		b.UnsafeAppend(ts)
	}
	return b.NewArray(), nil
}

// timeFields maps the column name of every time.Time and *time.Time field
// of struct type rt, top-level or promoted from an embedded struct, to its
// index path. It follows arreflect's column rules: breadth-first through
// untagged anonymous struct fields, `arrow:"-"` skipped, the shallowest
// field of a name wins, a single tagged one breaks a tie, and a name that
// stays ambiguous has no column.
func timeFields(rt reflect.Type) map[string][]int {
	type cand struct {
		path   []int
		depth  int
		tagged bool
		isTime bool
	}
	type entry struct {
		t     reflect.Type
		path  []int
		depth int
	}
	byName := map[string][]cand{}
	visited := map[reflect.Type]bool{}
	for queue := []entry{{t: rt}}; len(queue) > 0; {
		e := queue[0]
		queue = queue[1:]
		st := e.t
		for st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		if st.Kind() != reflect.Struct || visited[st] {
			continue
		}
		if e.depth > 0 {
			visited[st] = true
		}
		for i := 0; i < st.NumField(); i++ {
			sf := st.Field(i)
			if !sf.IsExported() && !sf.Anonymous {
				continue
			}
			tag, hasTag := sf.Tag.Lookup("arrow")
			if tag == "-" {
				continue
			}
			path := append(append([]int(nil), e.path...), i)
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if sf.Anonymous && !hasTag && ft.Kind() == reflect.Struct {
				queue = append(queue, entry{t: ft, path: path, depth: e.depth + 1})
				continue
			}
			tagName, _, _ := strings.Cut(tag, ",")
			name := arrowName(sf)
			base := sf.Type
			if base.Kind() == reflect.Pointer {
				base = base.Elem()
			}
			byName[name] = append(byName[name], cand{path: path, depth: e.depth, tagged: tagName != "", isTime: base == timeType})
		}
	}
	out := map[string][]int{}
	for name, cs := range byName {
		minDepth := cs[0].depth
		for _, c := range cs {
			minDepth = min(minDepth, c.depth)
		}
		var win, tagged []cand
		for _, c := range cs {
			if c.depth == minDepth {
				win = append(win, c)
				if c.tagged {
					tagged = append(tagged, c)
				}
			}
		}
		if len(win) > 1 {
			win = tagged
		}
		if len(win) == 1 && win[0].isTime {
			out[name] = win[0].path
		}
	}
	return out
}

// arrowName is the column name of a struct field under arreflect's rules.
func arrowName(sf reflect.StructField) string {
	tag := sf.Tag.Get("arrow")
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return sf.Name
}

func fieldIndex(s *arrow.Schema, name string) int {
	if idx := s.FieldIndices(name); len(idx) > 0 {
		return idx[0]
	}
	return -1
}

func checkCastable(name string, natural, explicit *arrow.Schema) error {
	if natural.NumFields() != explicit.NumFields() {
		return fmt.Errorf("%w: component %q: schema has %d fields, struct has %d", ErrSchemaMismatch, name, explicit.NumFields(), natural.NumFields())
	}
	for i, f := range explicit.Fields() {
		nf := natural.Field(i)
		if nf.Name != f.Name {
			return fmt.Errorf("%w: component %q: schema field %d is %q, struct field is %q", ErrSchemaMismatch, name, i, f.Name, nf.Name)
		}
		if !arrow.TypeEqual(nf.Type, f.Type) && !castable(nf.Type, f.Type) {
			return fmt.Errorf("%w: component %q: field %q: cannot cast %s <-> %s", ErrSchemaMismatch, name, f.Name, nf.Type, f.Type)
		}
	}
	return nil
}

// castable reports whether castColumn converts natural to explicit and
// back.
func castable(natural, explicit arrow.DataType) bool {
	if d, ok := explicit.(*arrow.DictionaryType); ok && natural.ID() != arrow.DICTIONARY {
		return arrow.IsInteger(d.IndexType.ID()) &&
			(arrow.TypeEqual(natural, d.ValueType) || compute.CanCast(natural, d.ValueType)) &&
			compute.CanCast(explicit, natural)
	}
	return compute.CanCast(natural, explicit) && compute.CanCast(explicit, natural)
}

// castColumn casts col to dt with arrow compute's checked cast. arrow-go
// cannot cast into a dictionary type, so a dictionary target is encoded
// here: values cast to the value type, dictionary_encode (int32 indices),
// then a checked cast of the indices to the index type.
func castColumn(ctx context.Context, col arrow.Array, dt arrow.DataType) (arrow.Array, error) {
	d, ok := dt.(*arrow.DictionaryType)
	if !ok || col.DataType().ID() == arrow.DICTIONARY {
		return compute.CastToType(ctx, col, dt)
	}
	vals := col
	if !arrow.TypeEqual(col.DataType(), d.ValueType) {
		var err error
		if vals, err = compute.CastToType(ctx, col, d.ValueType); err != nil {
			return nil, err
		}
		defer vals.Release()
	}
	enc, err := compute.DictionaryEncodeArray(ctx, compute.DictionaryEncodeOptions{}, vals)
	if err != nil {
		return nil, err
	}
	defer enc.Release()
	de, ok := enc.(*array.Dictionary)
	if !ok {
		return nil, fmt.Errorf("dictionary_encode returned %s", enc.DataType())
	}
	idx, err := compute.CastToType(ctx, de.Indices(), d.IndexType)
	if err != nil {
		return nil, fmt.Errorf("dictionary indices: %w", err)
	}
	defer idx.Release()
	return array.NewDictionaryArray(d, idx, de.Dictionary()), nil
}

// DynamicComponent is a component known only by its schema at run time
// (data read from Parquet, CSV or a partition), with no Go struct type.
type DynamicComponent struct {
	name   string
	schema *arrow.Schema
}

// NewDynamicComponent returns a component named name with the given schema.
func NewDynamicComponent(name string, schema *arrow.Schema) *DynamicComponent {
	return &DynamicComponent{name: name, schema: schema}
}

// Name returns the component's name.
func (c *DynamicComponent) Name() string { return c.name }

// Schema returns the component's schema.
func (c *DynamicComponent) Schema() *arrow.Schema { return c.schema }

func (c *DynamicComponent) access() access { return componentAccess(c.name) }

// String returns "name.*".
func (c *DynamicComponent) String() string { return c.name + ".*" }

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}
