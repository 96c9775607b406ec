package transporttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
)

const (
	// testTimeout bounds every sub-test's I/O calls.
	testTimeout = 2 * time.Minute
	// prompt is how fast a call with a cancelled ctx must return.
	prompt = 2 * time.Second
	// largeValue and largeRows make the LargeBatch batch: 68 values of
	// 1 MiB, 68 MiB of string data, above 64 MiB (arrow-go's IPC reader
	// allows 64 MiB of metadata and 256 MiB of body per message).
	largeValue = 1 << 20
	largeRows  = 68
	// maxReads stops a source that never returns io.EOF.
	maxReads = 1 << 20
)

// Run runs the conformance suite against the transport that h describes,
// as sub-tests of t:
//
//   - RoundTrip/<type> (one per Caps.Types, named by TypeName): a schema
//     of an int64 "id" column and three columns of the type: with some
//     nulls (row 0 among them), without nulls (Nullable false), and only
//     nulls; written as batches of 1, 150 and 73 rows, read back and
//     compared value by value, along with the schema of every batch (and
//     Source.Schema when not nil). The values include the type's edges
//     (minimum and maximum integers, infinities, pre-1970 times, strings
//     with commas, quotes and newlines, ...). The batches read are
//     compared after the Source is closed: they must stay valid.
//   - RoundTrip/all-types: every type of Caps.Types in one schema.
//   - Sliced: batches that are slices (non-zero offsets) of a larger one.
//   - EmptyBatches/only-empty, /between, /no-writes: batches with zero
//     rows are accepted, and read back as no rows without error; a sink
//     closed without any Write leaves a place that reads as empty.
//   - SchemaMismatch: Write of a batch whose schema differs (a type, a
//     name, an extra column, a missing one) returns an error wrapping
//     transports.ErrSchemaMismatch, writes nothing, and leaves the sink
//     usable (skipped when Caps.Unbound).
//   - LargeBatch: a batch with 68 MiB of string data in 68 rows round
//     trips.
//   - Cancel/Write, Cancel/Read: a call with a cancelled ctx returns an
//     error wrapping context.Canceled within 2 s, consumes or writes
//     nothing (the next calls with a live ctx see all the data, exactly
//     once), and leaves no goroutine behind once everything is closed.
//   - Flush: Write, Flush, Write, Flush, Close reads back everything.
//   - EOF: after the last batch, Read returns io.EOF, and again on three
//     more calls.
//   - Close: Write after the Sink's Close and Read after the Source's
//     Close return an error and no batch; a second Close of either
//     returns nil when Caps.CloseIdempotent.
//   - Acker/Ack, Acker/Nak, Acker/NoAck, for transports whose Sources
//     are transports.Ackers (Endpoint.NewAckSource; skipped for the
//     others, and an error if a Source is an Acker and NewAckSource is
//     nil), after watermill's TestResendOnError and TestNoAck: batches
//     read and acked are not delivered again, even after Caps.AckWait;
//     batches given back with Nak (Nacker) are delivered again at once,
//     before the ack wait, and the rest exactly once; batches read and
//     not acked are not delivered to another reader while the first
//     holds them, and are delivered again, all of them, after the
//     reader closed and Caps.AckWait passed.
//
// Every sub-test checks that nothing allocated from its checked
// allocator is left (see Harness.Open). Sub-tests listed in h.Skip are
// skipped with the reason given; a name in h.Skip that is no sub-test
// is an error.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("transporttest: Harness.Open is nil")
	}
	if len(h.Caps.Types) == 0 {
		t.Fatal("transporttest: Harness.Caps.Types is empty")
	}
	for _, dt := range h.Caps.Types {
		if !canGenerate(dt) {
			t.Fatalf("transporttest: no data generator for type %s (see AllTypes)", dt)
		}
	}
	s := &suite{h: h, g: gen{noEmpty: h.Caps.EmptyIsNull}}

	s.run(t, "RoundTrip", func(t *testing.T) {
		for _, dt := range h.Caps.Types {
			s.run(t, "RoundTrip/"+TypeName(dt), func(t *testing.T) { s.testRoundTrip(t, typeSchema(dt)) })
		}
		s.run(t, "RoundTrip/all-types", func(t *testing.T) { s.testRoundTrip(t, s.allTypesSchema()) })
	})
	s.run(t, "Sliced", s.testSliced)
	s.run(t, "EmptyBatches", func(t *testing.T) {
		s.run(t, "EmptyBatches/only-empty", func(t *testing.T) { s.testEmpty(t, []int64{0, 0, 0}) })
		s.run(t, "EmptyBatches/between", func(t *testing.T) { s.testEmpty(t, []int64{0, 5, 0, 7, 0}) })
		s.run(t, "EmptyBatches/no-writes", func(t *testing.T) { s.testEmpty(t, nil) })
	})
	s.run(t, "SchemaMismatch", s.testSchemaMismatch)
	s.run(t, "LargeBatch", s.testLargeBatch)
	s.run(t, "Cancel", func(t *testing.T) {
		s.run(t, "Cancel/Write", s.testCancelWrite)
		s.run(t, "Cancel/Read", s.testCancelRead)
	})
	s.run(t, "Flush", s.testFlush)
	s.run(t, "EOF", s.testEOF)
	s.run(t, "Close", s.testClose)
	s.run(t, "Acker", func(t *testing.T) {
		s.run(t, "Acker/Ack", s.testAck)
		s.run(t, "Acker/Nak", s.testNak)
		s.run(t, "Acker/NoAck", s.testNoAck)
	})

	for name := range h.Skip {
		known := s.paths[name]
		for p := name; !known && strings.Contains(p, "/"); {
			p = p[:strings.LastIndexByte(p, '/')]
			_, skipped := h.Skip[p]
			known = skipped && s.paths[p] // below a skipped sub-test
		}
		if !known {
			t.Errorf("transporttest: Harness.Skip names %q, which is no sub-test", name)
		}
	}
}

type suite struct {
	h     Harness
	g     gen
	paths map[string]bool // sub-tests run or skipped
}

// run runs f as the sub-test path (names below Run joined by "/"),
// unless h.Skip lists it or one of its parents.
func (s *suite) run(t *testing.T, path string, f func(t *testing.T)) {
	if s.paths == nil {
		s.paths = map[string]bool{}
	}
	s.paths[path] = true
	name := path[strings.LastIndexByte(path, '/')+1:]
	t.Run(name, func(t *testing.T) {
		for p := path; ; {
			if reason, ok := s.h.Skip[p]; ok {
				t.Skip(reason)
			}
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
		f(t)
	})
}

// env is one sub-test's place and allocator.
type env struct {
	t   *testing.T
	mem *memory.CheckedAllocator
	ep  Endpoint
	g   gen
	ctx context.Context

	sinks   []*trackedSink
	sources []*trackedSource
}

func (s *suite) open(t *testing.T) *env {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	// Registered first, so it runs after the harness's cleanups.
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ep := s.h.Open(t, mem)
	if ep.NewSink == nil || ep.NewSource == nil {
		t.Fatal("transporttest: Harness.Open returned an Endpoint without NewSink or NewSource")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	e := &env{t: t, mem: mem, ep: ep, g: s.g, ctx: ctx}
	// After a failure, close what the sub-test left open before the
	// allocator is checked.
	t.Cleanup(func() {
		for _, s := range e.sinks {
			if !s.closed {
				s.Close(context.Background())
			}
		}
		for _, s := range e.sources {
			if !s.closed {
				s.Close()
			}
		}
	})
	return e
}

// trackedSink and trackedSource remember whether they were closed.
type trackedSink struct {
	transports.Sink
	closed bool
}

func (s *trackedSink) Close(ctx context.Context) error {
	s.closed = true
	return s.Sink.Close(ctx)
}

type trackedSource struct {
	transports.Source
	closed bool
}

func (s *trackedSource) Close() error {
	s.closed = true
	return s.Source.Close()
}

func typeSchema(dt arrow.DataType) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: dt, Nullable: true},
		{Name: "v_nn", Type: dt},
		{Name: "v_null", Type: dt, Nullable: true},
	}, nil)
}

func (s *suite) allTypesSchema() *arrow.Schema {
	fields := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}
	for _, dt := range s.h.Caps.Types {
		fields = append(fields, arrow.Field{Name: TypeName(dt), Type: dt, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// simpleSchema is used where the types do not matter.
var simpleSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// batch returns rows [start, start+n) of the test data of schema; the
// caller releases it.
func (e *env) batch(schema *arrow.Schema, start, n int64) arrow.RecordBatch {
	return e.g.batch(e.mem, schema, start, n)
}

func (e *env) sink(schema *arrow.Schema) transports.Sink {
	e.t.Helper()
	sink, err := e.ep.NewSink(schema)
	if err != nil {
		e.t.Fatalf("NewSink: %v", err)
	}
	ts := &trackedSink{Sink: sink}
	e.sinks = append(e.sinks, ts)
	return ts
}

func (e *env) source(schema *arrow.Schema) transports.Source {
	e.t.Helper()
	src, err := e.ep.NewSource(schema)
	if err != nil {
		e.t.Fatalf("NewSource: %v", err)
	}
	ts := &trackedSource{Source: src}
	e.sources = append(e.sources, ts)
	if sc := src.Schema(); sc != nil && !sc.Equal(schema) {
		e.t.Fatalf("Source.Schema() differs from the schema written: %s", schemaDiff(sc, schema))
	}
	return ts
}

// writeSizes writes consecutive batches of the given sizes through one
// sink, closes it, and returns all the rows written as one batch.
func (e *env) writeSizes(schema *arrow.Schema, sizes ...int64) arrow.RecordBatch {
	e.t.Helper()
	sink := e.sink(schema)
	var start int64
	for _, n := range sizes {
		b := e.batch(schema, start, n)
		err := sink.Write(e.ctx, b)
		b.Release()
		if err != nil {
			sink.Close(e.ctx)
			e.t.Fatalf("Write of rows [%d, %d): %v", start, start+n, err)
		}
		start += n
	}
	if err := sink.Close(e.ctx); err != nil {
		e.t.Fatalf("Sink.Close: %v", err)
	}
	return e.batch(schema, 0, start)
}

// readAll reads src to io.EOF with ctx, checking the schema of every
// batch. The caller releases the batches.
func (e *env) readAll(ctx context.Context, src transports.Source, schema *arrow.Schema) []arrow.RecordBatch {
	e.t.Helper()
	var out []arrow.RecordBatch
	for i := 0; ; i++ {
		if i == maxReads {
			release(out)
			e.t.Fatalf("no io.EOF after %d Reads", maxReads)
		}
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			if rec != nil {
				e.t.Errorf("Read returned a batch with io.EOF")
				rec.Release()
			}
			return out
		}
		if err != nil {
			release(out)
			e.t.Fatalf("Read #%d: %v", i+1, err)
		}
		if rec == nil {
			release(out)
			e.t.Fatalf("Read #%d returned neither a batch nor an error", i+1)
		}
		out = append(out, rec)
		if !rec.Schema().Equal(schema) {
			release(out)
			e.t.Fatalf("Read #%d: the batch's schema differs from the schema written: %s", i+1, schemaDiff(rec.Schema(), schema))
		}
	}
}

// readBack opens a source, reads everything and closes the source. The
// caller releases the batches (which must stay valid after Close).
func (e *env) readBack(schema *arrow.Schema) []arrow.RecordBatch {
	e.t.Helper()
	src := e.source(schema)
	got := e.readAll(e.ctx, src, schema)
	if err := src.Close(); err != nil {
		release(got)
		e.t.Fatalf("Source.Close: %v", err)
	}
	return got
}

// schemaDiff describes how got differs from want: the fields that
// differ (name, type, nullability, metadata, shown with Go syntax so
// that nested field names and metadata are visible) and the schema
// metadata.
func schemaDiff(got, want *arrow.Schema) string {
	var b strings.Builder
	if got.NumFields() != want.NumFields() {
		fmt.Fprintf(&b, "\n  %d fields, want %d:\n  got  %s\n  want %s", got.NumFields(), want.NumFields(), got, want)
		return b.String()
	}
	for i := range want.NumFields() {
		g, w := got.Field(i), want.Field(i)
		if g.Equal(w) {
			continue
		}
		fmt.Fprintf(&b, "\n  field %d: got  %s\n  %*s want %s", i, fieldString(g), len(fmt.Sprint(i))+7, "", fieldString(w))
	}
	if gm, wm := got.Metadata(), want.Metadata(); !gm.Equal(wm) {
		fmt.Fprintf(&b, "\n  schema metadata: got %v, want %v", gm, wm)
	}
	return b.String()
}

func fieldString(f arrow.Field) string {
	s := fmt.Sprintf("%s: %s", f.Name, typeString(f.Type))
	if f.Nullable {
		s += " nullable"
	}
	if f.HasMetadata() {
		s += fmt.Sprintf(" metadata %v", f.Metadata)
	}
	return s
}

// typeString is dt.String() with the names, nullability and metadata of
// nested fields spelled out.
func typeString(dt arrow.DataType) string {
	if nt, ok := dt.(arrow.NestedType); ok {
		parts := make([]string, len(nt.Fields()))
		for i, f := range nt.Fields() {
			parts[i] = fieldString(f)
		}
		return fmt.Sprintf("%s<%s>", nt.Name(), strings.Join(parts, ", "))
	}
	return dt.String()
}

func release(bs []arrow.RecordBatch) {
	for _, b := range bs {
		if b != nil {
			b.Release()
		}
	}
}

// checkRows compares the rows of got, in order, with want.
func checkRows(t *testing.T, want arrow.RecordBatch, got []arrow.RecordBatch) {
	t.Helper()
	var total int64
	for _, g := range got {
		total += g.NumRows()
	}
	if total != want.NumRows() {
		t.Errorf("read %d rows in %d batches, want %d", total, len(got), want.NumRows())
		if total > want.NumRows() {
			return
		}
	}
	reported := 0
	var off int64
	for bi, g := range got {
		n := g.NumRows()
		if g.NumCols() != want.NumCols() {
			t.Fatalf("batch %d has %d columns, want %d", bi, g.NumCols(), want.NumCols())
		}
		for j := 0; j < int(want.NumCols()); j++ {
			wc, gc := want.Column(j), g.Column(j)
			if array.SliceEqual(wc, off, off+n, gc, 0, n) {
				continue
			}
			for i := int64(0); i < n; i++ {
				if array.SliceEqual(wc, off+i, off+i+1, gc, i, i+1) {
					continue
				}
				t.Errorf("column %q, row %d (batch %d, row %d): got %s, want %s",
					want.ColumnName(j), off+i, bi, i, short(gc.ValueStr(int(i))), short(wc.ValueStr(int(off+i))))
				if reported++; reported >= 10 {
					t.Fatal("too many differences")
				}
				break
			}
		}
		off += n
	}
}

func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q... (%d bytes)", s[:80], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func (s *suite) testRoundTrip(t *testing.T, schema *arrow.Schema) {
	e := s.open(t)
	want := e.writeSizes(schema, 1, 150, 73)
	defer want.Release()
	got := e.readBack(schema)
	defer release(got)
	checkRows(t, want, got)
}

func (s *suite) testSliced(t *testing.T) {
	e := s.open(t)
	schema := s.allTypesSchema()
	want := e.batch(schema, 0, 100)
	defer want.Release()
	sink := e.sink(schema)
	for _, r := range [][2]int64{{0, 3}, {3, 4}, {4, 4}, {4, 61}, {61, 100}} {
		sl := want.NewSlice(r[0], r[1])
		err := sink.Write(e.ctx, sl)
		sl.Release()
		if err != nil {
			sink.Close(e.ctx)
			t.Fatalf("Write of slice [%d, %d): %v", r[0], r[1], err)
		}
	}
	if err := sink.Close(e.ctx); err != nil {
		t.Fatalf("Sink.Close: %v", err)
	}
	got := e.readBack(schema)
	defer release(got)
	checkRows(t, want, got)
}

func (s *suite) testEmpty(t *testing.T, sizes []int64) {
	e := s.open(t)
	want := e.writeSizes(simpleSchema, sizes...)
	defer want.Release()
	got := e.readBack(simpleSchema)
	defer release(got)
	checkRows(t, want, got)
}

func (s *suite) testSchemaMismatch(t *testing.T) {
	if s.h.Caps.Unbound {
		t.Skip("Caps.Unbound: the sink accepts any schema")
	}
	e := s.open(t)
	other := map[string]*arrow.Schema{
		"another type": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "s", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		}, nil),
		"another name": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "t", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		}, nil),
		"an extra column": arrow.NewSchema(append(simpleSchema.Fields(),
			arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true}), nil),
		"fewer columns": arrow.NewSchema(simpleSchema.Fields()[:2], nil),
	}
	sink := e.sink(simpleSchema)
	for what, sc := range other {
		b := e.batch(sc, 0, 3)
		err := sink.Write(e.ctx, b)
		b.Release()
		if !errors.Is(err, transports.ErrSchemaMismatch) {
			t.Errorf("Write of a batch with %s: %v, want an error wrapping transports.ErrSchemaMismatch", what, err)
		}
	}
	b := e.batch(simpleSchema, 0, 10)
	err := sink.Write(e.ctx, b)
	b.Release()
	if err != nil {
		sink.Close(e.ctx)
		t.Fatalf("Write after a schema mismatch: %v (a mismatch must leave the sink usable)", err)
	}
	if err := sink.Close(e.ctx); err != nil {
		t.Fatalf("Sink.Close: %v", err)
	}
	want := e.batch(simpleSchema, 0, 10)
	defer want.Release()
	got := e.readBack(simpleSchema)
	defer release(got)
	checkRows(t, want, got)
}

func (s *suite) testLargeBatch(t *testing.T) {
	e := s.open(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "payload", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	want := largeBatch(e.mem, schema)
	defer want.Release()
	if n := want.Column(1).Data().Buffers()[2].Len(); n <= 64<<20 {
		t.Fatalf("large batch has only %d bytes of strings", n)
	}
	sink := e.sink(schema)
	if err := sink.Write(e.ctx, want); err != nil {
		sink.Close(e.ctx)
		t.Fatalf("Write of a %d MiB batch: %v", largeRows*largeValue>>20, err)
	}
	if err := sink.Close(e.ctx); err != nil {
		t.Fatalf("Sink.Close after a %d MiB batch: %v", largeRows*largeValue>>20, err)
	}
	got := e.readBack(schema)
	defer release(got)
	checkRows(t, want, got)
}

// largeBatch builds largeRows rows of largeValue-byte strings (row 5 is
// null), each starting with its row number.
func largeBatch(mem memory.Allocator, schema *arrow.Schema) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	ss := b.Field(1).(*array.StringBuilder)
	ss.ReserveData(largeRows * largeValue)
	pattern := make([]byte, largeValue)
	for i := range pattern {
		pattern[i] = "abcdefghijklmnopqrstuvwxyz0123456789 ,;-"[i%40]
	}
	for r := 0; r < largeRows; r++ {
		ids.Append(int64(r))
		if r == 5 {
			ss.AppendNull()
			continue
		}
		copy(pattern, fmt.Sprintf("%08d|", r))
		ss.BinaryBuilder.Append(pattern)
	}
	return b.NewRecordBatch()
}

func (s *suite) testCancelWrite(t *testing.T) {
	e := s.open(t)
	before := goroutines(s.h.IgnoreGoroutines)
	sink := e.sink(simpleSchema)
	cctx, cancel := context.WithCancel(e.ctx)
	cancel()
	b := e.batch(simpleSchema, 0, 10)
	start := time.Now()
	err := sink.Write(cctx, b)
	elapsed := time.Since(start)
	b.Release()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled ctx: %v, want an error wrapping context.Canceled", err)
	}
	if elapsed > prompt {
		t.Errorf("Write with a cancelled ctx took %v", elapsed)
	}
	b = e.batch(simpleSchema, 10, 20)
	err = sink.Write(e.ctx, b)
	b.Release()
	if err != nil {
		sink.Close(e.ctx)
		t.Fatalf("Write after a cancelled Write: %v (a ctx error must leave the sink usable)", err)
	}
	if err := sink.Close(e.ctx); err != nil {
		t.Fatalf("Sink.Close: %v", err)
	}
	want := e.batch(simpleSchema, 10, 20)
	defer want.Release()
	got := e.readBack(simpleSchema)
	defer release(got)
	checkRows(t, want, got)
	s.checkGoroutines(t, before)
}

func (s *suite) testCancelRead(t *testing.T) {
	e := s.open(t)
	want := e.writeSizes(simpleSchema, 10, 20)
	defer want.Release()
	before := goroutines(s.h.IgnoreGoroutines)
	src := e.source(simpleSchema)
	cctx, cancel := context.WithCancel(e.ctx)
	cancel()
	start := time.Now()
	rec, err := src.Read(cctx)
	elapsed := time.Since(start)
	if rec != nil {
		rec.Release()
		t.Errorf("Read with a cancelled ctx returned a batch (err %v)", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled ctx: %v, want an error wrapping context.Canceled", err)
	}
	if elapsed > prompt {
		t.Errorf("Read with a cancelled ctx took %v", elapsed)
	}
	got := e.readAll(e.ctx, src, simpleSchema)
	defer release(got)
	if err := src.Close(); err != nil {
		t.Errorf("Source.Close: %v", err)
	}
	checkRows(t, want, got)
	s.checkGoroutines(t, before)
}

// goroutines returns the stacks of the running goroutines by id, except
// the caller's and those whose stack contains one of ignore.
func goroutines(ignore []string) map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the caller
			continue
		}
		head, _, _ := strings.Cut(g, " [")
		if slices.ContainsFunc(ignore, func(s string) bool { return strings.Contains(g, s) }) {
			continue
		}
		out[head] = g
	}
	return out
}

// checkGoroutines waits up to 3 s for the goroutines not in before (and
// not ignored) to end, and reports the stacks of those that do not.
func (s *suite) checkGoroutines(t *testing.T, before map[string]string) {
	t.Helper()
	var left []string
	for i := 0; i < 60; i++ {
		left = left[:0]
		for id, g := range goroutines(s.h.IgnoreGoroutines) {
			if _, ok := before[id]; !ok {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%d goroutines started during the sub-test are still running after everything was closed:\n%s",
		len(left), strings.Join(left, "\n\n"))
}

func (s *suite) testFlush(t *testing.T) {
	e := s.open(t)
	sink := e.sink(simpleSchema)
	for _, r := range [][2]int64{{0, 10}, {10, 25}} {
		b := e.batch(simpleSchema, r[0], r[1]-r[0])
		err := sink.Write(e.ctx, b)
		b.Release()
		if err != nil {
			sink.Close(e.ctx)
			t.Fatalf("Write: %v", err)
		}
		if err := sink.Flush(e.ctx); err != nil {
			sink.Close(e.ctx)
			t.Fatalf("Flush: %v", err)
		}
	}
	if err := sink.Close(e.ctx); err != nil {
		t.Fatalf("Sink.Close: %v", err)
	}
	want := e.batch(simpleSchema, 0, 25)
	defer want.Release()
	got := e.readBack(simpleSchema)
	defer release(got)
	checkRows(t, want, got)
}

func (s *suite) testEOF(t *testing.T) {
	e := s.open(t)
	want := e.writeSizes(simpleSchema, 7)
	defer want.Release()
	src := e.source(simpleSchema)
	defer src.Close()
	got := e.readAll(e.ctx, src, simpleSchema)
	defer release(got)
	checkRows(t, want, got)
	for i := 0; i < 3; i++ {
		rec, err := src.Read(e.ctx)
		if rec != nil {
			rec.Release()
			t.Errorf("Read #%d after io.EOF returned a batch", i+1)
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("Read #%d after io.EOF: %v, want io.EOF", i+1, err)
		}
	}
}

func (s *suite) testClose(t *testing.T) {
	e := s.open(t)
	sink := e.sink(simpleSchema)
	b := e.batch(simpleSchema, 0, 5)
	defer b.Release()
	if err := sink.Write(e.ctx, b); err != nil {
		sink.Close(e.ctx)
		t.Fatalf("Write: %v", err)
	}
	if err := sink.Close(e.ctx); err != nil {
		t.Fatalf("Sink.Close: %v", err)
	}
	if s.h.Caps.CloseIdempotent {
		if err := sink.Close(e.ctx); err != nil {
			t.Errorf("second Sink.Close: %v, want nil", err)
		}
	}
	if err := sink.Write(e.ctx, b); err == nil {
		t.Errorf("Write after Sink.Close returned nil")
	}

	src := e.source(simpleSchema)
	got := e.readAll(e.ctx, src, simpleSchema)
	defer release(got)
	if err := src.Close(); err != nil {
		t.Fatalf("Source.Close: %v", err)
	}
	if s.h.Caps.CloseIdempotent {
		if err := src.Close(); err != nil {
			t.Errorf("second Source.Close: %v, want nil", err)
		}
	}
	rec, err := src.Read(e.ctx)
	if rec != nil {
		rec.Release()
		t.Errorf("Read after Source.Close returned a batch")
	}
	if err == nil {
		t.Errorf("Read after Source.Close returned no error")
	}
	checkRows(t, b, got)
}

// ackerEnv opens a sub-test's place for the Acker sub-tests; it skips
// them for a transport whose Sources are not transports.Ackers.
func (s *suite) ackerEnv(t *testing.T) *env {
	t.Helper()
	e := s.open(t)
	if e.ep.NewAckSource == nil {
		e.writeSizes(simpleSchema).Release()
		src := e.source(simpleSchema)
		_, acker := src.(*trackedSource).Source.(transports.Acker)
		src.Close()
		if acker {
			t.Fatal("transporttest: the Source is a transports.Acker, but Endpoint.NewAckSource is nil")
		}
		t.Skip("the transport's Source is not a transports.Acker")
	}
	if s.h.Caps.AckWait <= 0 {
		t.Fatal("transporttest: Endpoint.NewAckSource needs Caps.AckWait")
	}
	return e
}

// ackSource returns a Source of NewAckSource, failing unless it is an
// Acker.
func (e *env) ackSource(schema *arrow.Schema) transports.Source {
	e.t.Helper()
	src, err := e.ep.NewAckSource(schema)
	if err != nil {
		e.t.Fatalf("NewAckSource: %v", err)
	}
	ts := &trackedSource{Source: src}
	e.sources = append(e.sources, ts)
	if _, ok := src.(transports.Acker); !ok {
		e.t.Fatalf("NewAckSource returned a %T, which is not a transports.Acker", src)
	}
	return ts
}

func ack(t *testing.T, ctx context.Context, src transports.Source) {
	t.Helper()
	if err := src.(*trackedSource).Source.(transports.Acker).Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

// idCounts counts the values of the "id" column (column 0) of got.
func idCounts(got []arrow.RecordBatch) map[int64]int {
	n := map[int64]int{}
	for _, b := range got {
		for _, id := range b.Column(0).(*array.Int64).Int64Values() {
			n[id]++
		}
	}
	return n
}

// checkIDsOnce fails unless got holds every id in [0, n) exactly once.
func checkIDsOnce(t *testing.T, got []arrow.RecordBatch, n int64, what string) {
	t.Helper()
	counts := idCounts(got)
	for id := int64(0); id < n; id++ {
		if counts[id] != 1 {
			t.Fatalf("%s: row %d read %d times, want once", what, id, counts[id])
		}
	}
	if len(counts) != int(n) {
		t.Fatalf("%s: %d distinct rows, want %d", what, len(counts), n)
	}
}

func (s *suite) testAck(t *testing.T) {
	e := s.ackerEnv(t)
	want := e.writeSizes(simpleSchema, 10, 20, 5)
	defer want.Release()
	src := e.ackSource(simpleSchema)
	got := e.readAll(e.ctx, src, simpleSchema)
	defer release(got)
	checkRows(t, want, got)
	ack(t, e.ctx, src)
	if err := src.Close(); err != nil {
		t.Fatalf("Source.Close: %v", err)
	}
	// Past the ack wait, nothing comes back.
	time.Sleep(s.h.Caps.AckWait + s.h.Caps.AckWait/2)
	again := e.readAll(e.ctx, e.ackSource(simpleSchema), simpleSchema)
	defer release(again)
	if n := numRows(again); n != 0 {
		t.Fatalf("%d acked rows delivered again after the ack wait", n)
	}
}

func (s *suite) testNak(t *testing.T) {
	e := s.ackerEnv(t)
	want := e.writeSizes(simpleSchema, 10, 20, 5)
	defer want.Release()
	src := e.ackSource(simpleSchema)
	nacker, ok := src.(*trackedSource).Source.(Nacker)
	if !ok {
		t.Skip("the Source is not a transporttest.Nacker")
	}
	first, err := src.Read(e.ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	given := first.NumRows()
	first.Release()
	start := time.Now()
	if err := nacker.Nak(e.ctx); err != nil {
		t.Fatalf("Nak: %v", err)
	}
	// The batch given back comes again, and every other one once.
	got := e.readAll(e.ctx, src, simpleSchema)
	defer release(got)
	took := time.Since(start)
	checkIDsOnce(t, got, want.NumRows(), fmt.Sprintf("after a Nak of the first %d rows", given))
	if took >= s.h.Caps.AckWait {
		t.Errorf("the rows given back came after %v, not before the ack wait (%v)", took, s.h.Caps.AckWait)
	}
	ack(t, e.ctx, src)
	if err := src.Close(); err != nil {
		t.Fatalf("Source.Close: %v", err)
	}
	again := e.readAll(e.ctx, e.ackSource(simpleSchema), simpleSchema)
	defer release(again)
	if n := numRows(again); n != 0 {
		t.Fatalf("%d acked rows delivered again", n)
	}
}

func (s *suite) testNoAck(t *testing.T) {
	e := s.ackerEnv(t)
	want := e.writeSizes(simpleSchema, 10, 20)
	defer want.Release()
	start := time.Now()
	holder := e.ackSource(simpleSchema)
	got := e.readAll(e.ctx, holder, simpleSchema)
	defer release(got)
	checkRows(t, want, got)

	// Held, not acked: another reader gets nothing.
	other := e.ackSource(simpleSchema)
	none := e.readAll(e.ctx, other, simpleSchema)
	defer release(none)
	if n := numRows(none); n != 0 {
		t.Fatalf("another reader got %d rows that were read and not acked", n)
	}
	if took := time.Since(start); took >= s.h.Caps.AckWait {
		t.Logf("reading took %v, longer than the ack wait %v", took, s.h.Caps.AckWait)
	}
	other.Close()

	// Closed without Ack: everything comes again after the ack wait.
	if err := holder.Close(); err != nil {
		t.Fatalf("Source.Close: %v", err)
	}
	time.Sleep(s.h.Caps.AckWait + s.h.Caps.AckWait/2)
	src := e.ackSource(simpleSchema)
	again := e.readAll(e.ctx, src, simpleSchema)
	defer release(again)
	checkIDsOnce(t, again, want.NumRows(), "after the ack wait")
	ack(t, e.ctx, src)
	if err := src.Close(); err != nil {
		t.Fatalf("Source.Close: %v", err)
	}
}

func numRows(bs []arrow.RecordBatch) int64 {
	var n int64
	for _, b := range bs {
		n += b.NumRows()
	}
	return n
}
