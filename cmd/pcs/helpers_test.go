package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// testBroker is an embedded broker with a TCP listener on a random port.
type testBroker struct {
	b   *broker.Broker
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
}

func startBroker(t *testing.T) *testBroker {
	t.Helper()
	b := brokertest.Start(t, brokertest.WithListener())
	nc := brokertest.Conn(t, b)
	js, err := b.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &testBroker{b: b, url: b.ClientURL(), nc: nc, js: js}
}

// stream provisions a stream capturing subjects.
func (tb *testBroker) stream(t *testing.T, name string, subjects ...string) {
	t.Helper()
	_, err := broker.Provision(context.Background(), tb.js, broker.Spec{
		Streams: []broker.StreamSpec{{Name: name, Subjects: subjects, Discard: broker.DiscardNew}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// msgs returns the number of messages in stream name, not counting
// output fences (natsjs.WithFence).
func (tb *testBroker) msgs(t *testing.T, name string) uint64 {
	t.Helper()
	s, err := tb.js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for subject, msgs := range info.State.Subjects {
		if !strings.HasPrefix(subject, "pcs.fence.") { // outputs, not their fences
			n += msgs
		}
	}
	return n
}

// result is the outcome of one in-process pcs run.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pcs runs the CLI in-process with args and no environment defaults.
func pcs(ctx context.Context, args ...string) result {
	return pcsEnv(ctx, func(string) string { return "" }, args...)
}

func pcsEnv(ctx context.Context, getenv func(string) string, args ...string) result {
	var stdout, stderr syncBuffer
	return pcsTo(ctx, getenv, &stdout, &stderr, args...)
}

func pcsTo(ctx context.Context, getenv func(string) string, stdout, stderr *syncBuffer, args ...string) result {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv, progressEvery: time.Hour}
	code := e.run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustPCS runs pcs and fails the test unless it exits 0.
func mustPCS(t *testing.T, args ...string) result {
	t.Helper()
	r := pcs(context.Background(), args...)
	if r.code != 0 {
		t.Fatalf("pcs %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// makeRecords builds rows rows in batches of batchRows: id int64, name
// utf8 (every 7th null), price float64, at timestamp[ms, UTC], ok bool.
func makeRecords(t *testing.T, rows, batchRows int) []arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var out []arrow.RecordBatch
	t0 := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	for i := 0; i < rows; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%7 == 3 {
			b.Field(1).(*array.StringBuilder).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("name-%05d", i))
		}
		b.Field(2).(*array.Float64Builder).Append(float64(i) * 1.25)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(t0.Add(time.Duration(i) * time.Second).UnixMilli()))
		b.Field(4).(*array.BooleanBuilder).Append(i%2 == 0)
		if (i+1)%batchRows == 0 || i == rows-1 {
			out = append(out, b.NewRecordBatch())
		}
	}
	t.Cleanup(func() { release(out) })
	return out
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

func writeSink(t *testing.T, sink transports.Sink, recs []arrow.RecordBatch) {
	t.Helper()
	ctx := context.Background()
	for _, r := range recs {
		if err := sink.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// writeParquet writes recs to dir/name with transports/parquet.
func writeParquet(t *testing.T, dir, name string, recs []arrow.RecordBatch) string {
	t.Helper()
	path := filepath.Join(dir, name)
	// Several row groups for small inputs, so that batches span them.
	rg := int64(400)
	if numRows(recs) > 4000 {
		rg = 1 << 14
	}
	sink, err := parquet.NewSink(path, recs[0].Schema(), parquet.WithRowGroupRows(rg))
	if err != nil {
		t.Fatal(err)
	}
	writeSink(t, sink, recs)
	return path
}

// writeArrow writes recs to dir/name with transports/arrowfile.
func writeArrow(t *testing.T, dir, name string, format arrowfile.Format, recs []arrow.RecordBatch) string {
	t.Helper()
	path := filepath.Join(dir, name)
	sink, err := arrowfile.NewSink(path, recs[0].Schema(), arrowfile.WithFormat(format))
	if err != nil {
		t.Fatal(err)
	}
	writeSink(t, sink, recs)
	return path
}

// readFile reads every batch of a Parquet or Arrow file.
func readFile(t *testing.T, path string) []arrow.RecordBatch {
	t.Helper()
	var src transports.Source
	var err error
	if strings.HasSuffix(path, ".parquet") {
		src, err = parquet.NewSource(path)
	} else {
		src, err = arrowfile.NewSource(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []arrow.RecordBatch
	for {
		r, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	t.Cleanup(func() { release(out) })
	return out
}

func numRows(recs []arrow.RecordBatch) int64 {
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	return n
}

// concat joins recs (of one schema) into one batch.
func concat(t *testing.T, recs []arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("no batches")
	}
	schema := recs[0].Schema()
	cols := make([]arrow.Array, schema.NumFields())
	for j := range cols {
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(j)
		}
		c, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		cols[j] = c
	}
	rec := array.NewRecordBatch(schema, cols, -1)
	t.Cleanup(rec.Release)
	return rec
}

// sameRows checks that got holds the first n rows of want (all of them
// when n < 0), with the same schema.
func sameRows(t *testing.T, want, got []arrow.RecordBatch, n int64) {
	t.Helper()
	w, g := concat(t, want), concat(t, got)
	if !w.Schema().Equal(g.Schema()) {
		t.Fatalf("schema:\n got %v\nwant %v", g.Schema(), w.Schema())
	}
	if n >= 0 {
		w = w.NewSlice(0, n)
		defer w.Release()
	}
	if g.NumRows() != w.NumRows() {
		t.Fatalf("rows: got %d, want %d", g.NumRows(), w.NumRows())
	}
	if !array.RecordEqual(w, g) {
		for j := range w.Columns() {
			if !array.Equal(w.Column(j), g.Column(j)) {
				t.Fatalf("column %q differs", w.ColumnName(j))
			}
		}
		t.Fatal("rows differ")
	}
}

// oneErrorLine checks that stderr is exactly one line starting "pcs: "
// that contains every one of want.
func oneErrorLine(t *testing.T, r result, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "pcs: ") || !strings.HasSuffix(r.stderr, "\n") {
		t.Fatalf("stderr is not one \"pcs: \" line: %q", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Errorf("stderr %q does not mention %q", lines[0], w)
		}
	}
}
