package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
	"github.com/pcs-dev/pcs/transports/natsjs"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// Publish defaults.
const (
	// publishAckTimeout is how long one publish attempt waits for its
	// ack before it is sent again under the same id (an ack lost with
	// a connection never comes).
	publishAckTimeout = 10 * time.Second
	defaultBatchRows  = 64 << 10  // 65536
	defaultBatchBytes = 960 << 10 // inline under the default 1 MiB max_payload (headers included)
)

type publishOptions struct {
	subject      string
	server       string
	batchRows    int64
	batchBytes   sizeValue
	compression  string
	sourceID     string
	objectBucket string
	rowID        string        // --row-id: name of the added row-position column; "" none
	endOfInput   bool          // --end-of-input: a last, empty partition with the final watermark
	maxLine      sizeValue     // --max-line-bytes: longest CSV record or JSON line
	reconnect    time.Duration // --reconnect-wait: how long to wait for a server that went away
	quiet        bool
}

func (e *env) publishCommand() *cobra.Command {
	o := publishOptions{batchBytes: defaultBatchBytes, maxLine: files.DefaultMaxLineBytes, reconnect: defaultReconnectWait}
	cmd := &cobra.Command{
		Use:   "publish --subject SUBJECT [flags] FILE...",
		Short: "Publish Parquet, Arrow, CSV and JSON Lines files to a subject as partitions",
		Long: `Publish reads Parquet, Arrow IPC (file or stream format), CSV and JSON Lines
files and publishes their rows to SUBJECT as PCS partitions: Arrow IPC streams
of at most --batch-rows rows and about --batch-bytes bytes (estimated from the
Arrow buffers; the file's batches are re-cut without copying). Partitions above the server's max_payload (1 MiB
by default) go to the object store (claim check) and the message carries
Pcs-Object.

The format is detected from the first bytes ("PAR1" Parquet, "ARROW1" Arrow
IPC file, 0xFFFFFFFF Arrow IPC stream), else from the extension (.parquet;
.arrow, .ipc, .feather; .arrows; .csv, .tsv with tabs; .jsonl, .ndjson), else
a first line holding a JSON object is JSON Lines. CSV and JSON Lines column
types are inferred from the first 10,000 rows; a record or line longer than
--max-line-bytes (64MiB) is an error naming its line, so that memory stays
bounded whatever the file holds.

Partition ids are "<source-id>/<seq>", seq counting from 1 per file; the
source id defaults to the file's base name without extension. Re-publishing
the same file with the same flags therefore republishes the same ids, and
JetStream drops them as duplicates within the stream's duplicate window.

--row-id NAME adds an int64 column NAME (last, not nullable) holding each
row's 0-based position in the input: counted across batches and files, in
the order given, so that consumers can check that every row arrived exactly
once.

When the server goes away mid-publish (a restart, a cluster electing a new
leader), publish says so on stderr, waits up to --reconnect-wait for it,
and resumes: partitions whose ack was lost are published again under their
ids, which JetStream deduplicates. After a failure of any kind, running the
same command again publishes the same ids: nothing is stored twice.

A stream must capture SUBJECT (pcs-node provisions its streams; or create
one, e.g. 'nats stream add --subjects SUBJECT').`,
		Example: `  pcs publish --subject flights.raw flights-3m.parquet
  pcs publish --subject flights.raw --batch-rows 100000 --compression zstd a.arrow b.arrow
  pcs publish --subject flights.raw --row-id row_id flights-3m.parquet
  pcs publish --subject airports.raw airports.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("publish: no input files (see 'pcs publish --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.publish(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.subject, "subject", "s", "", "subject to publish to (required)")
	f.StringVar(&o.server, "server", e.defaultServer(), "NATS server URL; $PCS_SERVER, else $NATS_URL, sets the default")
	f.Int64Var(&o.batchRows, "batch-rows", defaultBatchRows, "maximum rows per partition")
	f.Var(&o.batchBytes, "batch-bytes", "approximate maximum Arrow bytes per partition (e.g. 8MiB, 512KiB)")
	f.StringVar(&o.compression, "compression", "none", "IPC body compression: none, lz4 or zstd (partitions under 64 KiB stay uncompressed)")
	f.StringVar(&o.sourceID, "source-id", "", "source id of the partition ids (default: each file's base name without extension; with several files, one sequence across them)")
	f.StringVar(&o.objectBucket, "object-bucket", natsjs.DefaultObjectBucket, "object store bucket for partitions above the inline limit (created if missing)")
	f.StringVar(&o.rowID, "row-id", "", "add an int64 column of this name: each row's 0-based position in the input (across batches and files)")
	f.BoolVar(&o.endOfInput, "end-of-input", false, "publish a last, empty partition whose Pcs-Watermark is the final watermark (natsjs.EndOfInput, 9999-01-01T00:00:00Z): window pipelines then fire every window")
	f.Var(&o.maxLine, "max-line-bytes", "longest CSV record or JSON line read (e.g. 64MiB); a longer one is an error")
	f.DurationVar(&o.reconnect, "reconnect-wait", defaultReconnectWait, "how long to wait for the server to come back when the connection is lost mid-publish, then resume (e.g. 30s, 5m)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	return cmd
}

// bucketName is what natsjs.WithObjectBucket accepts.
var bucketName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// publishInput is one file to publish and its partition id source.
type publishInput struct {
	path     string
	sourceID string
	format   files.Format
}

func (e *env) publish(ctx context.Context, o publishOptions, paths []string) error {
	// Usage errors first, before touching files or the network.
	if err := validateSubject("publish", o.subject, false); err != nil {
		return err
	}
	if o.batchRows < 1 {
		return usagef("publish: --batch-rows must be at least 1, got %d", o.batchRows)
	}
	if o.batchBytes < 1 {
		return usagef("publish: --batch-bytes must be at least 1 byte")
	}
	if o.maxLine < 1 {
		return usagef("publish: --max-line-bytes must be at least 1 byte")
	}
	if o.reconnect <= 0 {
		return usagef("publish: --reconnect-wait must be positive, got %s", o.reconnect)
	}
	comp, err := natsjs.ParseCompression(o.compression)
	if err != nil {
		return usagef("publish: --compression %q: want none, lz4 or zstd", o.compression)
	}
	if !bucketName.MatchString(o.objectBucket) {
		return usagef("publish: --object-bucket %q: use letters, digits, '-' and '_' only", o.objectBucket)
	}
	if strings.TrimSpace(o.rowID) != o.rowID || strings.ContainsFunc(o.rowID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return usagef("publish: --row-id %q: no leading or trailing whitespace or control characters", o.rowID)
	}
	if o.sourceID != "" {
		if err := natsjs.ValidateID(o.sourceID); err != nil {
			return usagef("publish: --source-id %q: no commas, whitespace or control characters", o.sourceID)
		}
	}

	// Then the files: they must exist and have distinct source ids.
	inputs := make([]publishInput, 0, len(paths))
	bySource := map[string]string{}
	for _, path := range paths {
		format, err := files.Sniff(path)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		in := publishInput{path: path, sourceID: o.sourceID, format: format}
		if in.sourceID == "" {
			base := filepath.Base(path)
			in.sourceID = strings.TrimSuffix(base, filepath.Ext(base))
			if err := natsjs.ValidateID(in.sourceID); err != nil {
				return usagef("publish: %s: source id %q is not usable in partition ids (no commas, whitespace or control characters): set --source-id", path, in.sourceID)
			}
			if other, dup := bySource[in.sourceID]; dup {
				return usagef("publish: %s and %s would both publish ids %q/<seq>; set --source-id (one sequence across the files) or publish them separately", other, path, in.sourceID)
			}
			bySource[in.sourceID] = path
		}
		inputs = append(inputs, in)
	}

	down := newOutage(o.reconnect, o.server, e.stderr)
	nc, err := connect(ctx, o.server, "pcs publish", down.options()...)
	if err != nil {
		return err
	}
	defer nc.Close()
	down.watch(nc)
	defer down.close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := streamForSubject(ctx, js, o.subject, o.server); err != nil {
		return err
	}

	// The publisher's own source id is unused: Publish takes explicit ids,
	// so that batches can be grouped into one partition.
	pub, err := natsjs.NewPublisher(js, o.subject,
		natsjs.WithSourceID(inputs[0].sourceID),
		natsjs.WithCompression(comp),
		natsjs.WithObjectBucket(o.objectBucket, 0),
		// Retry transient failures (a lost connection, 503 while a stream
		// has no leader) for about --reconnect-wait: backoff waits are
		// capped at 5 s.
		natsjs.WithRetry(natsjs.DefaultMaxRetries+int(o.reconnect/(5*time.Second)), 100*time.Millisecond),
		natsjs.WithAckTimeout(publishAckTimeout),
	)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}

	start := time.Now()
	total := int64(0)
	for _, in := range inputs {
		n := int64(-1)
		if in.format == files.Parquet {
			n = parquetRows(in.path)
		}
		if n < 0 {
			total = -1
			break
		}
		total += n
	}
	prog := e.newProgress("publish", total, o.quiet)

	var seq uint64 = 1
	var rowID int64              // the next row's position, with --row-id
	var lastSchema *arrow.Schema // of the last partition, for --end-of-input
	for i, in := range inputs {
		if i > 0 && o.sourceID == "" {
			seq = 1
		}
		seq, err = publishFile(ctx, pub, in, o, seq, &rowID, &lastSchema, func() {
			st := pub.Stats()
			prog.update(st.Rows, st.Bytes)
		})
		if err != nil {
			cctx, cancel := withoutCancel(ctx, 5*time.Second)
			_ = pub.Close(cctx)
			cancel()
			prog.done()
			return publishFailed(ctx, down, err, pub.Stats())
		}
	}
	if o.endOfInput && lastSchema != nil {
		if err := publishEnd(ctx, pub, lastSchema, natsjs.PartitionID(inputs[len(inputs)-1].sourceID, seq)); err != nil {
			prog.done()
			return publishFailed(ctx, down, err, pub.Stats())
		}
	}
	if err := pub.Close(ctx); err != nil {
		prog.done()
		return publishFailed(ctx, down, err, pub.Stats())
	}
	elapsed := time.Since(start)
	st := pub.Stats()
	prog.update(st.Rows, st.Bytes)
	prog.done()

	line := fmt.Sprintf("published %s, %s rows, %s to %s in %s (%s rows/s)",
		plural(st.Partitions, "partition"), humanize.Comma(st.Rows), humanize.IBytes(uint64(st.Bytes)), o.subject,
		roundDuration(elapsed), rate(st.Rows, elapsed))
	if st.Duplicates > 0 {
		line += fmt.Sprintf("; %d were duplicates already in the stream", st.Duplicates)
	}
	if st.ClaimChecks > 0 {
		line += fmt.Sprintf("; %d via object store %q", st.ClaimChecks, o.objectBucket)
	}
	fmt.Fprintln(e.stdout, line)
	return nil
}

// publishFailed is the error of a failed publish: the interruption, the
// server that stayed away (down), or err.
func publishFailed(ctx context.Context, down *outage, err error, st natsjs.PublisherStats) error {
	if ctx.Err() != nil {
		return fmt.Errorf("publish interrupted after %d acknowledged partitions (%s rows); publishing again resumes, the ids deduplicate", st.Partitions, humanize.Comma(st.Rows))
	}
	if derr := down.err(); derr != nil {
		return fmt.Errorf("publish: %w, after %d acknowledged partitions (%s rows); run the same command again to resume: the partition ids deduplicate", derr, st.Partitions, humanize.Comma(st.Rows))
	}
	return err
}

// publishFile publishes the rows of one file as partitions
// "<in.sourceID>/<seq>", seq counting from seq, and returns the next seq.
// With --row-id, *rowID is the position of the file's first row in the
// whole input and is advanced past its rows. sent is called after each
// partition.
func publishFile(ctx context.Context, pub *natsjs.Publisher, in publishInput, o publishOptions, seq uint64, rowID *int64, schema **arrow.Schema, sent func()) (uint64, error) {
	opts := []files.Option{files.WithFormat(in.format), files.WithMaxLineBytes(int64(o.maxLine))}
	if in.format != files.ArrowFile && in.format != files.ArrowStream {
		// Decode batches of the partition size. Arrow batches are cut by
		// the cutter alone: it estimates bytes per row from the whole
		// buffers of a batch, which a slice shares.
		opts = append(opts, files.WithBatchRows(o.batchRows))
	}
	src, err := files.Open(in.path, opts...)
	if err != nil {
		return seq, fmt.Errorf("open %s: %w", in.path, err)
	}
	defer src.Close()

	c := &cutter{maxRows: o.batchRows, maxBytes: int64(o.batchBytes)}
	c.emit = func(recs []arrow.RecordBatch) error {
		id := natsjs.PartitionID(in.sourceID, seq)
		if err := pub.Publish(ctx, recs, natsjs.Meta{ID: id}); err != nil {
			return fmt.Errorf("publish %s partition %s: %w", in.path, id, err)
		}
		*schema = recs[0].Schema()
		seq++
		sent()
		return nil
	}
	err = transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
		if o.rowID != "" {
			withID, err := addRowID(rec, o.rowID, *rowID)
			if err != nil {
				return fmt.Errorf("publish: %s: %w", in.path, err)
			}
			defer withID.Release()
			rec = withID
			*rowID += rec.NumRows()
		}
		return c.push(rec)
	})
	if err != nil {
		c.release()
		return seq, err
	}
	if err := c.flush(); err != nil {
		c.release()
		return seq, err
	}
	return seq, nil
}

// addRowID returns rec with one more column, name (int64, not nullable,
// last), holding first, first+1, ... The caller still releases rec and
// releases the result.
func addRowID(rec arrow.RecordBatch, name string, first int64) (arrow.RecordBatch, error) {
	schema := rec.Schema()
	if schema.HasField(name) {
		return nil, fmt.Errorf("--row-id %q: the input already has a column of that name", name)
	}
	n := int(rec.NumRows())
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		b.UnsafeAppend(first + int64(i))
	}
	ids := b.NewInt64Array()
	defer ids.Release()
	fields := append(schema.Fields(), arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64})
	md := schema.Metadata()
	cols := append(append(make([]arrow.Array, 0, len(fields)), rec.Columns()...), ids)
	return array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, int64(n)), nil
}

// parquetRows returns the row count of a Parquet file (from its footer),
// or -1.
func parquetRows(path string) int64 {
	src, err := files.Open(path, files.WithFormat(files.Parquet))
	if err != nil {
		return -1
	}
	defer src.Close()
	if p, ok := src.(*parquet.Source); ok {
		return p.NumRows()
	}
	return -1
}

// validateSubject refuses empty subjects, whitespace and, for publishing,
// wildcards.
func validateSubject(cmd, subject string, wildcards bool) error {
	if subject == "" {
		return usagef("%s: missing --subject (see 'pcs %s --help')", cmd, cmd)
	}
	if strings.ContainsFunc(subject, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return usagef("%s: --subject %q: subjects contain no whitespace", cmd, subject)
	}
	for _, tok := range strings.Split(subject, ".") {
		if tok == "" {
			return usagef("%s: --subject %q: empty token", cmd, subject)
		}
		if !wildcards && (tok == "*" || tok == ">") {
			return usagef("%s: --subject %q: cannot publish to a wildcard subject", cmd, subject)
		}
	}
	return nil
}

// streamForSubject returns the name of the stream that captures subject,
// or an error that says how to create one.
func streamForSubject(ctx context.Context, js jetstream.JetStream, subject, server string) (string, error) {
	name, err := js.StreamNameBySubject(ctx, subject)
	switch {
	case err == nil:
		return name, nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return "", fmt.Errorf("no JetStream stream captures subject %q on %s: start pcs-node (it provisions its streams) or create one, e.g. 'nats stream add --subjects %q'", subject, redactURL(server), subject)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return "", fmt.Errorf("JetStream is not enabled on %s", redactURL(server))
	}
	return "", fmt.Errorf("look up the stream of subject %q on %s: %w", subject, redactURL(server), err)
}

// publishEnd publishes an empty partition of schema under id whose
// Pcs-Watermark is the final watermark (the end of the producer's input).
func publishEnd(ctx context.Context, pub *natsjs.Publisher, schema *arrow.Schema, id string) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	if err := pub.Publish(ctx, []arrow.RecordBatch{rec}, natsjs.Meta{ID: id, Watermark: natsjs.EndOfInput}); err != nil {
		return fmt.Errorf("publish the end of input %s: %w", id, err)
	}
	return nil
}
