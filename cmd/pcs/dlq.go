package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// dlqOptions are the flags every pcs dlq subcommand shares.
type dlqOptions struct {
	pipeline string
	stream   string // the pipeline's input stream; default natsjs.InputStream
	server   string
	all      bool
	keep     bool
	subject  string
}

func (e *env) dlqCommand() *cobra.Command {
	var o dlqOptions
	cmd := &cobra.Command{
		Use:   "dlq {list|show|replay|purge} --pipeline NAME [flags]",
		Short: "List, show, replay and purge a pipeline's dead letters",
		Long: `A partition that a pipeline cannot process (undecodable, schema mismatch,
a permanent error, or past max_deliver) goes to the dead-letter subject
<pipeline>.dlq, stream <input stream>_DLQ, with its original body and
headers plus Pcs-Error, Pcs-Error-Reason, Pcs-Source-Stream,
Pcs-Source-Seq, Pcs-Deliveries and Pcs-Node. Dead letters are named by
their sequence in that stream (the SEQ column of list).

  list    one line per dead letter: seq, id, reason, time, size, original
          subject and error (bodies are not decoded)
  show    every header of the dead letters SEQ..., and whether the body
          decodes (rows, columns)
  replay  after a fix, publishes the dead letters SEQ... (or --all) again
          to their original subject under a new id "<id>.r<seq>" (the
          original id is still in the input stream's duplicate window and
          recorded in the catalog as dead-lettered: it would be dropped),
          then deletes them from the dead-letter stream (--keep keeps
          them). Replaying the same dead letter twice publishes the same id,
          which JetStream and the catalog deduplicate.
  purge   deletes the dead letters SEQ... (or --all)`,
		Example: `  pcs dlq list --pipeline flights
  pcs dlq show --pipeline flights 3
  pcs dlq replay --pipeline flights 3 4
  pcs dlq purge --pipeline flights --all`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("dlq: missing action: list, show, replay or purge")
			}
			switch args[0] {
			case "list":
				if len(args) > 1 {
					return usagef("dlq list takes no sequence numbers")
				}
			case "show", "replay", "purge":
				if len(args) == 1 && (args[0] == "show" || !o.all) {
					return usagef("dlq %s: give the sequence numbers of the dead letters (see 'pcs dlq list')%s", args[0], map[bool]string{true: "", false: " or --all"}[args[0] == "show"])
				}
			default:
				return usagef("dlq: unknown action %q: want list, show, replay or purge", args[0])
			}
			if o.pipeline == "" {
				return usagef("dlq: --pipeline is required")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs, err := parseSeqs(args[1:])
			if err != nil {
				return err
			}
			return e.dlq(cmd.Context(), o, args[0], seqs)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.pipeline, "pipeline", "p", "", "pipeline name (required)")
	f.StringVar(&o.stream, "input-stream", "", "the pipeline's input stream, when not the default PCS_<NAME>_IN")
	f.StringVar(&o.server, "server", e.defaultServer(), "NATS server URL; $PCS_SERVER, else $NATS_URL, sets the default")
	f.BoolVar(&o.all, "all", false, "replay or purge every dead letter")
	f.BoolVar(&o.keep, "keep", false, "replay: keep the dead letters after replaying them")
	f.StringVar(&o.subject, "subject", "", "replay: publish to this subject instead of the original one")
	return cmd
}

// parseSeqs parses dead-letter sequence numbers.
func parseSeqs(args []string) ([]uint64, error) {
	var seqs []uint64
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || n == 0 {
			return nil, usagef("dlq: %q is not a dead-letter sequence number (see 'pcs dlq list')", a)
		}
		seqs = append(seqs, n)
	}
	return seqs, nil
}

// deadLetter is one message of a dead-letter stream.
type deadLetter struct {
	seq  uint64
	msg  *jetstream.RawStreamMsg
	size int64 // body bytes (the object's for a claim check)
}

func (d deadLetter) id() string { return d.msg.Header.Get(natsjs.HeaderMsgID) }

// originalID is the partition id without the "/dlq" suffix DeadLetter adds
// ("<pipeline>/<key>/dlq"): the partition's own Nats-Msg-Id is kept in the
// copied headers unless DeadLetter overwrote it.
func (d deadLetter) originalID(pipeline string) string {
	id := d.id()
	return strings.TrimSuffix(strings.TrimPrefix(id, pipeline+"/"), "/dlq")
}

func (e *env) dlq(ctx context.Context, o dlqOptions, action string, seqs []uint64) error {
	if o.stream == "" {
		o.stream = natsjs.InputStream(o.pipeline)
	}
	nc, err := connect(ctx, o.server, "pcs dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	name := natsjs.DLQStream(o.stream)
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("no dead-letter stream %s on %s: is %q the pipeline's name (and %s its input stream)? pcs-node creates it", name, redactURL(o.server), o.pipeline, o.stream)
	}
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", name, err)
	}
	if (o.all && action != "list") || action == "list" {
		seqs = nil
		for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
			seqs = append(seqs, seq)
		}
	}
	var letters []deadLetter
	for _, seq := range seqs {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			if action == "list" || o.all {
				continue // deleted: a gap
			}
			return fmt.Errorf("no dead letter %d in %s (see 'pcs dlq list --pipeline %s')", seq, name, o.pipeline)
		}
		if err != nil {
			return fmt.Errorf("dead letter %d: %w", seq, err)
		}
		d := deadLetter{seq: seq, msg: m, size: int64(len(m.Data))}
		if ref, err := natsjs.ParseObjectRef(m.Header.Get(natsjs.HeaderObject)); err == nil {
			d.size = ref.Size
		}
		letters = append(letters, d)
	}
	switch action {
	case "list":
		return listDeadLetters(e.stdout, o.pipeline, name, letters)
	case "show":
		return e.showDeadLetters(ctx, js, letters)
	case "purge":
		for _, d := range letters {
			if err := st.DeleteMsg(ctx, d.seq); err != nil {
				return fmt.Errorf("delete dead letter %d: %w", d.seq, err)
			}
		}
		fmt.Fprintf(e.stdout, "purged %s from %s\n", plural(int64(len(letters)), "dead letter"), name)
		return nil
	case "replay":
		return e.replayDeadLetters(ctx, js, st, o, letters)
	}
	return usagef("dlq: unknown action %q", action)
}

// listDeadLetters prints one line per dead letter.
func listDeadLetters(w io.Writer, pipeline, stream string, letters []deadLetter) error {
	if len(letters) == 0 {
		_, err := fmt.Fprintf(w, "no dead letters in %s\n", stream)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tID\tREASON\tTIME\tSIZE\tSUBJECT\tERROR")
	for _, d := range letters {
		h := d.msg.Header
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.seq, orDash(d.originalID(pipeline)), orDash(h.Get(natsjs.HeaderErrorReason)),
			d.msg.Time.UTC().Format(time.RFC3339), humanize.IBytes(uint64(d.size)), orDash(sourceSubject(h)), cutError(oneLine(h.Get(natsjs.HeaderError))))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s in %s\n", plural(int64(len(letters)), "dead letter"), stream)
	return err
}

// sourceSubject is the subject the partition was read from: the
// Pcs-Source-Subject header when the node set it.
func sourceSubject(h nats.Header) string { return h.Get(natsjs.HeaderSourceSubject) }

// cutError cuts an error text for the last column of list (show prints
// it whole).
func cutError(s string) string {
	if r := []rune(s); len(r) > 120 {
		return string(r[:119]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// showDeadLetters prints the headers of each dead letter and whether its
// body decodes.
func (e *env) showDeadLetters(ctx context.Context, js jetstream.JetStream, letters []deadLetter) error {
	for i, d := range letters {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "dead letter %d (stored %s, %s):\n", d.seq, d.msg.Time.UTC().Format(time.RFC3339Nano), humanize.IBytes(uint64(d.size)))
		keys := make([]string, 0, len(d.msg.Header))
		for k := range d.msg.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, v := range d.msg.Header[k] {
				fmt.Fprintf(e.stdout, "  %s: %s\n", k, v)
			}
		}
		fmt.Fprintf(e.stdout, "  body: %s\n", describeBody(ctx, js, d))
	}
	return nil
}

// describeBody decodes a dead letter's body (following a claim check) and
// says what it holds, or why it does not decode.
func describeBody(ctx context.Context, js jetstream.JetStream, d deadLetter) string {
	body := d.msg.Data
	if v := d.msg.Header.Get(natsjs.HeaderObject); v != "" {
		ref, err := natsjs.ParseObjectRef(v)
		if err != nil {
			return "bad claim check: " + err.Error()
		}
		if body, err = natsjs.FetchObject(ctx, js, ref); err != nil {
			return "claim check not readable: " + err.Error()
		}
	}
	recs, err := natsjs.Decode(body, memory.DefaultAllocator)
	if err != nil {
		return "does not decode: " + err.Error()
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	if len(recs) == 0 {
		return "an Arrow IPC stream without batches"
	}
	return fmt.Sprintf("%s rows, schema %s", humanize.Comma(rows), oneLine(recs[0].Schema().String()))
}

// dlqHeaders are the headers DeadLetter adds; replay removes them.
var dlqHeaders = []string{natsjs.HeaderError, natsjs.HeaderErrorReason, natsjs.HeaderSourceStream, natsjs.HeaderSourceSeq,
	natsjs.HeaderDeliveries, natsjs.HeaderNode, natsjs.HeaderSourceSubject}

// replayDeadLetters publishes each dead letter again to its original
// subject under id "<original id>.r<seq>", waits for the acks, then
// deletes it from the dead-letter stream unless --keep.
func (e *env) replayDeadLetters(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, o dlqOptions, letters []deadLetter) error {
	fallback := o.subject
	if fallback == "" {
		// Without Pcs-Source-Subject: the input stream's only subject.
		in, err := js.Stream(ctx, o.stream)
		if err == nil {
			if subs := in.CachedInfo().Config.Subjects; len(subs) == 1 && !strings.ContainsAny(subs[0], "*>") {
				fallback = subs[0]
			}
		}
	}
	var replayed, dups int
	for _, d := range letters {
		subject := o.subject
		if subject == "" {
			subject = sourceSubject(d.msg.Header)
		}
		if subject == "" {
			subject = fallback
		}
		if subject == "" {
			return fmt.Errorf("dead letter %d: its original subject is unknown (input stream %s has several subjects): give --subject", d.seq, o.stream)
		}
		h := nats.Header{}
		for k, v := range d.msg.Header {
			h[k] = append([]string(nil), v...)
		}
		for _, k := range dlqHeaders {
			h.Del(k)
		}
		id := d.originalID(o.pipeline) + ".r" + strconv.FormatUint(d.seq, 10)
		if err := natsjs.ValidateID(id); err != nil {
			return fmt.Errorf("dead letter %d: %w", d.seq, err)
		}
		h.Set(natsjs.HeaderMsgID, id)
		ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: d.msg.Data})
		if err != nil {
			return fmt.Errorf("replay dead letter %d to %s: %w", d.seq, subject, err)
		}
		if ack.Duplicate {
			dups++
		}
		replayed++
		fmt.Fprintf(e.stdout, "replayed %d as %s to %s\n", d.seq, id, subject)
		if !o.keep {
			if err := st.DeleteMsg(ctx, d.seq); err != nil {
				return fmt.Errorf("replayed dead letter %d, but deleting it failed: %w", d.seq, err)
			}
		}
	}
	line := fmt.Sprintf("replayed %s", plural(int64(replayed), "dead letter"))
	if dups > 0 {
		line += fmt.Sprintf(" (%d already replayed: deduplicated)", dups)
	}
	_, err := fmt.Fprintln(e.stdout, line)
	return err
}
