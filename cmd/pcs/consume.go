package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/pcs-dev/pcs/transports/files"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Consume defaults and tuning.
const (
	defaultPreviewRows       = 20
	defaultPreviewPartitions = 3
	// fetchPartitions is the most partitions one pull takes.
	fetchPartitions = 64
)

type consumeOptions struct {
	subject           string
	server            string
	out               string
	limit             int64
	follow            bool
	durable           string
	quiet             bool
	previewRows       int
	previewPartitions int
}

func (e *env) consumeCommand() *cobra.Command {
	var o consumeOptions
	cmd := &cobra.Command{
		Use:   "consume --subject SUBJECT [flags]",
		Short: "Read the partitions of a subject into a file or a table preview",
		Long: `Consume reads the partitions of SUBJECT (wildcards allowed) from the stream
that captures it and decodes them (following claim checks into the object
store). With --out it writes every row to a Parquet (.parquet) or Arrow file
(.arrow, .ipc: IPC file format; .arrows: IPC stream format), created
atomically: the file appears under its name only once complete. Without
--out it prints the first rows of the first partitions as a table.

By default it reads the subject from the start with an ordered consumer
(nothing is acknowledged; the stream is left as it is) and stops when no
partition is pending. --follow keeps waiting for new partitions until
SIGINT/SIGTERM or --limit. --durable NAME reads through the durable pull
consumer NAME (created with explicit acks if missing) and acknowledges the
partitions once their rows are written: with --out, after the file is
complete; a partition cut short by --limit is not acknowledged (it is
redelivered whole).

Prints one summary line to stdout: partitions, rows, elapsed time.`,
		Example: `  pcs consume --subject flights.raw --out flights.parquet
  pcs consume --subject flights.raw --limit 10
  pcs consume --subject 'flights.>' --follow --durable archiver --out flights.arrows`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("consume takes no arguments, got %q (use --out FILE to write a file)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.consume(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.subject, "subject", "s", "", "subject to read, wildcards allowed (required)")
	f.StringVar(&o.server, "server", e.defaultServer(), "NATS server URL; $PCS_SERVER, else $NATS_URL, sets the default")
	f.StringVarP(&o.out, "out", "o", "", "write all rows to this file: .parquet, .arrow/.ipc (IPC file) or .arrows (IPC stream); default: print a preview")
	f.Int64Var(&o.limit, "limit", 0, "stop after this many rows, cutting the last partition short (0: no limit)")
	f.BoolVarP(&o.follow, "follow", "f", false, "wait for new partitions until SIGINT/SIGTERM or --limit")
	f.StringVar(&o.durable, "durable", "", "read through this durable consumer and acknowledge what was written (default: ordered consumer, no acks)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	f.IntVar(&o.previewRows, "preview-rows", defaultPreviewRows, "rows shown per partition in the preview")
	f.IntVar(&o.previewPartitions, "preview-partitions", defaultPreviewPartitions, "partitions shown in the preview")
	return cmd
}

func (e *env) consume(ctx context.Context, o consumeOptions) error {
	if err := validateSubject("consume", o.subject, true); err != nil {
		return err
	}
	if o.limit < 0 {
		return usagef("consume: --limit must not be negative, got %d", o.limit)
	}
	if o.previewRows < 0 || o.previewPartitions < 0 {
		return usagef("consume: --preview-rows and --preview-partitions must not be negative")
	}
	var format files.Format
	if o.out != "" {
		var err error
		if format, err = files.FormatOf(o.out); err != nil {
			return usagef("consume: --out %q: want a .parquet, .arrow (.ipc, .feather), .arrows, .csv (.tsv) or .jsonl (.ndjson) file", o.out)
		}
	}
	if strings.HasSuffix(o.subject, ".dlq") {
		return usagef("consume: %s is a dead-letter subject: its partitions failed (many are undecodable); use 'pcs dlq list --pipeline %s'", o.subject, strings.TrimSuffix(o.subject, ".dlq"))
	}
	if o.durable != "" && strings.ContainsFunc(o.durable, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`.*>/\`, r)
	}) {
		return usagef("consume: --durable %q: no whitespace, '.', '*', '>', '/' or '\\'", o.durable)
	}

	nc, err := connect(ctx, o.server, "pcs consume")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	stream, err := streamForSubject(ctx, js, o.subject, o.server)
	if err != nil {
		return err
	}
	if err := checkConsumable(ctx, js, stream, o); err != nil {
		return err
	}

	c := &consumer{o: o, js: js, stream: stream}
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.closeConsumer()
	src, err := natsjs.NewSource(c.cons, js, natsjs.WithFollow(o.follow), natsjs.WithFetchLimits(fetchPartitions, natsjs.DefaultFetchBytes))
	if err != nil {
		return err
	}
	c.src = src
	defer src.Close() // naks what was fetched and not written (--limit)

	if o.out != "" {
		c.out = &fileOutput{path: o.out, format: format}
		c.prog = e.newProgress("consume", -1, o.quiet)
	} else {
		c.out = &previewOutput{w: e.stdout, rows: o.previewRows, partitions: o.previewPartitions}
		c.prog = e.newProgress("consume", -1, true)
	}

	start := time.Now()
	runErr := c.run(ctx)
	c.prog.done()
	interrupted := runErr == nil && ctx.Err() != nil
	if runErr == nil && interrupted && !o.follow {
		runErr = errors.New("consume interrupted")
	}
	// Complete the output, then acknowledge what it holds. After SIGINT in
	// --follow mode ctx is done: finish with a fresh, bounded one.
	fctx, cancel := withoutCancel(ctx, 30*time.Second)
	defer cancel()
	if runErr != nil {
		c.out.abort()
		_ = src.Nak(fctx) // the partitions written to the abandoned output
		if o.out != "" {
			return fmt.Errorf("%w; %s not written", runErr, o.out)
		}
		return runErr
	}

	err = c.out.close(fctx)
	switch {
	case errors.Is(err, errNothingWritten):
		// Partitions without rows (if any) are done all the same.
		fmt.Fprintf(e.stderr, "pcs: no rows on %s; %s not created\n", o.subject, o.out)
	case err != nil:
		_ = src.Nak(fctx)
		return err
	}
	if err := src.Ack(fctx); err != nil {
		return fmt.Errorf("rows written, but acknowledging them failed (they will be delivered again): %w", err)
	}
	elapsed := time.Since(start)

	line := fmt.Sprintf("consumed %s, %s rows, %s from %s in %s (%s rows/s)",
		plural(c.partitions, "partition"), humanize.Comma(c.rows), humanize.IBytes(uint64(c.bytes)), o.subject,
		roundDuration(elapsed), rate(c.rows, elapsed))
	if o.out != "" && c.rows > 0 {
		line += "; wrote " + o.out
	}
	if o.limit > 0 && c.rows >= o.limit {
		line += "; limit reached"
	}
	if c.stoppedAtMaxAck {
		line += fmt.Sprintf("; stopped at the consumer's max_ack_pending (%d unacknowledged partitions): run again for the rest", c.maxAckPending)
	}
	fmt.Fprintln(e.stdout, line)
	return nil
}

// consumer drives one consume run: it reads partitions through a
// natsjs.Source, which fetches, decodes, holds what was read until Ack
// (keeping it alive meanwhile) and gives back what was not written.
type consumer struct {
	o      consumeOptions
	js     jetstream.JetStream
	stream string
	cons   jetstream.Consumer
	src    *natsjs.Source
	out    output
	prog   *progress

	maxAckPending int // of a durable consumer; 0: unbounded

	partitions, rows, bytes int64
	stoppedAtMaxAck         bool
}

// open creates the ordered consumer, or finds or creates the durable one.
func (c *consumer) open(ctx context.Context) error {
	if c.o.durable == "" {
		cons, err := c.js.OrderedConsumer(ctx, c.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{c.o.subject},
			// Bound the re-creation of the server-side consumer when the
			// server is gone, so that pcs fails instead of hanging.
			MaxResetAttempts: 3,
		})
		if err != nil {
			return fmt.Errorf("create ordered consumer on stream %s: %w", c.stream, explainAPIError(err, c.stream, c.o.subject))
		}
		c.cons = cons
		return nil
	}

	cons, err := c.js.Consumer(ctx, c.stream, c.o.durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = c.js.CreateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
			Durable:       c.o.durable,
			FilterSubject: c.o.subject,
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			// With --out, acks wait for the complete file: do not
			// bound the partitions delivered and not yet acked.
			MaxAckPending: -1,
		})
		if err != nil {
			return fmt.Errorf("create durable consumer %s on stream %s: %w", c.o.durable, c.stream, explainAPIError(err, c.stream, c.o.subject))
		}
	case err != nil:
		return fmt.Errorf("durable consumer %s on stream %s: %w", c.o.durable, c.stream, err)
	}
	cfg := cons.CachedInfo().Config
	if cfg.DeliverSubject != "" {
		return fmt.Errorf("consumer %s on stream %s is a push consumer; pcs consume needs a pull consumer", c.o.durable, c.stream)
	}
	filters := cfg.FilterSubjects
	if cfg.FilterSubject != "" {
		filters = append(filters, cfg.FilterSubject)
	}
	if !slices.Equal(filters, []string{c.o.subject}) {
		return fmt.Errorf("durable consumer %s on stream %s filters %q, not %q; use another --durable name", c.o.durable, c.stream, filters, c.o.subject)
	}
	c.cons = cons
	c.maxAckPending = max(cfg.MaxAckPending, 0)
	return nil
}

// closeConsumer deletes the ordered consumer's server-side consumer (it
// would otherwise linger until its inactivity threshold).
func (c *consumer) closeConsumer() {
	if c.o.durable != "" || c.cons == nil {
		return
	}
	if info := c.cons.CachedInfo(); info != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = c.js.DeleteConsumer(ctx, c.stream, info.Name)
		cancel()
	}
}

// limitReached reports whether the limit is reached.
func (c *consumer) limitReached() bool { return c.o.limit > 0 && c.rows >= c.o.limit }

// run reads partitions until none is left (not following), the limit,
// the consumer's max_ack_pending (with --out), or ctx's end (returning
// nil: the caller tells an interruption). A partition is written whole
// or not at all: ctx (SIGINT) is checked between partitions.
func (c *consumer) run(ctx context.Context) error {
	_, preview := c.out.(*previewOutput)
	for !c.limitReached() {
		p, recs, err := c.src.Next(ctx)
		var pe *natsjs.PartitionError
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, natsjs.ErrAckPending) && preview:
			// Every printed partition may be acked: make room.
			if err := c.src.Ack(ctx); err != nil {
				return err
			}
			continue
		case errors.Is(err, natsjs.ErrAckPending):
			// With --out, acks wait for the complete file, and the server
			// delivers nothing beyond max_ack_pending: stop there.
			c.stoppedAtMaxAck = true
			return nil
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &pe):
			_ = c.src.Redeliver(pe.Partition) // fail again at once on the next run
			return fmt.Errorf("partition %s (stream seq %d): %w", pe.Partition.ID(), pe.Partition.StreamSeq(), pe.Err)
		default:
			return fmt.Errorf("fetch from stream %s: %w", c.stream, err)
		}
		if err := c.handle(context.WithoutCancel(ctx), p, recs); err != nil {
			return err
		}
		// In preview mode every printed partition is acked, a fetched
		// batch at a time.
		if preview && c.src.Buffered() == 0 {
			if err := c.src.Ack(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// handle writes the rows of one partition (recs, released here), cutting
// them at the limit; a partition cut short is given back for
// redelivery, whole.
func (c *consumer) handle(ctx context.Context, p *natsjs.Partition, recs []arrow.RecordBatch) error {
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	cut := false
	if c.o.limit > 0 && c.rows+n > c.o.limit {
		recs = truncate(recs, c.o.limit-c.rows)
		n, cut = c.o.limit-c.rows, true
	}
	if err := c.out.write(ctx, p, recs); err != nil {
		return fmt.Errorf("partition %s (stream seq %d): %w", p.ID(), p.StreamSeq(), err)
	}
	c.partitions++
	c.rows += n
	if meta, err := p.Meta(); err == nil && meta.Object != nil {
		c.bytes += meta.Object.Size
	} else {
		c.bytes += int64(len(p.Body()))
	}
	if cut {
		// Not all its rows were written: let it be delivered again.
		_ = c.src.Redeliver(p)
	}
	c.prog.update(c.rows, c.bytes)
	return nil
}

// truncate returns the first n rows of recs as new slices, releasing recs.
func truncate(recs []arrow.RecordBatch, n int64) []arrow.RecordBatch {
	out := make([]arrow.RecordBatch, 0, len(recs))
	for _, r := range recs {
		switch {
		case n <= 0:
		case r.NumRows() <= n:
			r.Retain()
			out = append(out, r)
			n -= r.NumRows()
		default:
			out = append(out, r.NewSlice(0, n))
			n = 0
		}
		r.Release()
	}
	return out
}

// checkConsumable refuses, in one line, what JetStream would refuse with
// a raw API error: an ordered read of a work-queue stream (10084: such
// streams take only consumers with explicit acks, e.g. a pipeline's
// input) and a wildcard whose subjects are spread over several streams.
func checkConsumable(ctx context.Context, js jetstream.JetStream, stream string, o consumeOptions) error {
	names := js.StreamNames(ctx, jetstream.WithStreamListSubject(o.subject))
	var all []string
	for n := range names.Name() {
		all = append(all, n)
	}
	if len(all) > 1 {
		slices.Sort(all)
		return fmt.Errorf("subject %q spans streams %s: consume the subjects of one stream at a time (e.g. a pipeline's sink subject)", o.subject, strings.Join(all, ", "))
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	cfg := st.CachedInfo().Config
	if cfg.Retention == jetstream.WorkQueuePolicy && o.durable == "" {
		return fmt.Errorf("stream %s is a work queue (a pipeline's input: each partition goes to one consumer and is deleted once processed), so it cannot be read without taking partitions from its pipeline; consume the pipeline's output subject instead", stream)
	}
	return nil
}

// explainAPIError turns the JetStream API errors a consume run can meet
// into one line that says what to do; other errors are returned as they
// are.
func explainAPIError(err error, stream, subject string) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	// JetStream error codes (nats-server's JSConsumerWQ* errors).
	const (
		wqRequiresExplicitAck = 10084
		wqMultipleUnfiltered  = 10099
		wqConsumerNotUnique   = 10100
	)
	switch apiErr.ErrorCode {
	case wqRequiresExplicitAck:
		return fmt.Errorf("stream %s is a work queue: it accepts only consumers with explicit acks (use --durable NAME, and only if nothing else reads %s)", stream, subject)
	case wqMultipleUnfiltered, wqConsumerNotUnique:
		return fmt.Errorf("stream %s is a work queue and another consumer (e.g. the pipeline's) already reads %s: each partition goes to one consumer; consume the pipeline's output subject instead", stream, subject)
	}
	return err
}
