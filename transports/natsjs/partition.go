package natsjs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Fetch defaults.
const (
	// DefaultFetchBytes is the byte bound of one Fetch when maxBytes <= 0
	// (16 MiB). Pulling large messages without a byte bound lets the
	// server push more than the client drains in time, and it then
	// disconnects the client as a slow consumer.
	DefaultFetchBytes = 16 << 20
	// fetchIdleWait is the expiry of the pull request that waits for the
	// first message when ctx has no earlier deadline; Fetch re-issues it
	// until ctx is done. The request asks for one message, so it returns
	// the moment one is available: the expiry bounds only the idle churn
	// (one request per 5 s per waiting consumer).
	fetchIdleWait = 5 * time.Second
	// fetchFillWait is the expiry of the second pull request, which asks
	// for the messages the first one reported pending. It returns at once
	// unless other consumers took them first (then after at most this).
	fetchFillWait = 100 * time.Millisecond
)

// ObjectStores resolves claim-check buckets. jetstream.JetStream
// implements it.
type ObjectStores interface {
	ObjectStore(ctx context.Context, bucket string) (jetstream.ObjectStore, error)
}

// Partition is one partition message delivered by a JetStream consumer.
// It wraps the jetstream.Msg and parses its headers once. Exactly one of
// Ack, Nak or Term should be called eventually; InProgress extends the
// ack wait meanwhile. A Partition is not safe for concurrent use.
type Partition struct {
	msg     jetstream.Msg
	meta    Meta
	metaErr error
	seq     uint64
	deliv   uint64
	pending uint64
}

// NewPartition wraps a message delivered by a JetStream consumer (for
// callers that pull with Consume or Messages instead of Fetch).
func NewPartition(msg jetstream.Msg) *Partition {
	p := &Partition{msg: msg}
	p.meta, p.metaErr = ParseMeta(msg.Headers())
	if md, err := msg.Metadata(); err == nil {
		p.seq, p.deliv, p.pending = md.Sequence.Stream, md.NumDelivered, md.NumPending
	}
	return p
}

// Msg returns the underlying message (for dead-lettering it with its
// original headers and body).
func (p *Partition) Msg() jetstream.Msg { return p.msg }

// Meta returns the parsed headers; the error (wrapping ErrBadHeader and
// ErrCorrupt) reports a malformed Pcs-* header.
func (p *Partition) Meta() (Meta, error) { return p.meta, p.metaErr }

// ID returns the partition id (Nats-Msg-Id), "" for a message without
// one.
func (p *Partition) ID() string { return p.msg.Headers().Get(HeaderMsgID) }

// Subject returns the subject the partition was published to.
func (p *Partition) Subject() string { return p.msg.Subject() }

// StreamSeq returns the stream sequence of the message (0 if the message
// carries no JetStream metadata).
func (p *Partition) StreamSeq() uint64 { return p.seq }

// Delivered returns how many times the message has been delivered,
// this delivery included (1 the first time).
func (p *Partition) Delivered() uint64 { return p.deliv }

// Body returns the message body as received: the Arrow IPC stream, or
// empty for a claim check. The caller must not modify it.
func (p *Partition) Body() []byte { return p.msg.Data() }

// Size returns the message size in bytes as the server counts it for
// byte-bounded pulls: subject, headers and body.
func (p *Partition) Size() int {
	m := nats.Msg{Subject: p.msg.Subject(), Header: p.msg.Headers(), Data: p.msg.Data()}
	return m.Size()
}

// Decode returns the partition's record batches, allocated from mem (nil:
// memory.DefaultAllocator) and owned by the caller, who releases each.
// For a claim check it fetches the body from the object store through
// objs (ErrNoObjectStore if nil) and verifies its size and digest. It
// checks the decoded batches against Pcs-Rows and Pcs-Schema.
//
// Errors that redelivery cannot fix wrap ErrCorrupt: malformed headers,
// an undecodable body, a mismatch with the headers, a missing object or
// bucket, a digest mismatch. Other errors (object store unreachable, ctx)
// are transient.
func (p *Partition) Decode(ctx context.Context, objs ObjectStores, mem memory.Allocator) ([]arrow.RecordBatch, error) {
	if p.metaErr != nil {
		return nil, fmt.Errorf("natsjs: partition %s: %w", p.ID(), p.metaErr)
	}
	body := p.msg.Data()
	if p.meta.Object != nil {
		if len(body) != 0 {
			return nil, fmt.Errorf("%w: partition %s: claim check with a %d-byte body", ErrCorrupt, p.meta.ID, len(body))
		}
		var err error
		body, err = FetchObject(ctx, objs, *p.meta.Object)
		if err != nil {
			return nil, fmt.Errorf("natsjs: partition %s: %w", p.meta.ID, err)
		}
	}
	recs, err := Decode(body, mem)
	if err != nil {
		return nil, fmt.Errorf("natsjs: partition %s: %w", p.meta.ID, err)
	}
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	if p.meta.Rows >= 0 && rows != p.meta.Rows {
		releaseAll(recs)
		return nil, fmt.Errorf("%w: partition %s: %d rows, %s says %d", ErrCorrupt, p.meta.ID, rows, HeaderRows, p.meta.Rows)
	}
	if p.meta.Schema != "" && len(recs) > 0 {
		if fp := Fingerprint(recs[0].Schema()); fp != p.meta.Schema {
			releaseAll(recs)
			return nil, fmt.Errorf("%w: partition %s: schema fingerprint %s, %s says %s", ErrCorrupt, p.meta.ID, fp, HeaderSchema, p.meta.Schema)
		}
	}
	return recs, nil
}

// FetchObject reads a claim-check body from the object store and
// verifies its size and SHA-256 digest against ref. A missing bucket or
// object, or a size or digest mismatch, wraps ErrCorrupt.
func FetchObject(ctx context.Context, objs ObjectStores, ref ObjectRef) ([]byte, error) {
	if objs == nil {
		return nil, ErrNoObjectStore
	}
	if ref.Size > MaxDecodedBytes {
		return nil, fmt.Errorf("%w: object %s/%s of %d bytes exceeds %d", ErrCorrupt, ref.Bucket, ref.Name, ref.Size, int64(MaxDecodedBytes))
	}
	obs, err := objs.ObjectStore(ctx, ref.Bucket)
	if err != nil {
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("%w: object bucket %s: %w", ErrCorrupt, ref.Bucket, err)
		}
		return nil, fmt.Errorf("natsjs: object bucket %s: %w", ref.Bucket, err)
	}
	res, err := obs.Get(ctx, ref.Name)
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, fmt.Errorf("%w: object %s/%s: %w", ErrCorrupt, ref.Bucket, ref.Name, err)
		}
		return nil, fmt.Errorf("natsjs: object %s/%s: %w", ref.Bucket, ref.Name, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, fmt.Errorf("natsjs: object %s/%s: %w", ref.Bucket, ref.Name, err)
	}
	// nats.go verifies the data against info.Digest while reading it to
	// the end (ErrDigestMismatch), so comparing the digests here checks
	// the data against the claim check without hashing it again.
	if int64(info.Size) != ref.Size || info.Digest != ref.Digest {
		return nil, fmt.Errorf("%w: object %s/%s: digest %s (%d bytes), %s says %s (%d bytes)", ErrCorrupt, ref.Bucket, ref.Name, info.Digest, info.Size, HeaderObject, ref.Digest, ref.Size)
	}
	buf := bytes.NewBuffer(make([]byte, 0, ref.Size))
	if _, err := io.Copy(buf, res); err != nil {
		if errors.Is(err, jetstream.ErrDigestMismatch) {
			return nil, fmt.Errorf("%w: object %s/%s: %w", ErrCorrupt, ref.Bucket, ref.Name, err)
		}
		return nil, fmt.Errorf("natsjs: object %s/%s: %w", ref.Bucket, ref.Name, err)
	}
	if data := buf.Bytes(); int64(len(data)) == ref.Size {
		return data, nil
	}
	return nil, fmt.Errorf("%w: object %s/%s: read %d bytes, %s says %d", ErrCorrupt, ref.Bucket, ref.Name, buf.Len(), HeaderObject, ref.Size)
}

// Ack acknowledges the partition and waits for the server to confirm it
// (double ack), so that it is not delivered again.
func (p *Partition) Ack(ctx context.Context) error { return p.msg.DoubleAck(ctx) }

// Nak asks for redelivery after delay (0: at once). Note that the
// consumer's BackOff applies to ack timeouts, not to naks.
func (p *Partition) Nak(delay time.Duration) error {
	if delay <= 0 {
		return p.msg.Nak()
	}
	return p.msg.NakWithDelay(delay)
}

// Term stops redelivery for good (after dead-lettering, say); reason is
// reported in the server's advisory.
func (p *Partition) Term(reason string) error {
	if reason == "" {
		return p.msg.Term()
	}
	return p.msg.TermWithReason(reason)
}

// InProgress resets the ack wait timer: send it while a long batch runs.
func (p *Partition) InProgress() error { return p.msg.InProgress() }

// Fetch pulls up to maxMsgs partitions totalling at most about maxBytes
// (<= 0: DefaultFetchBytes) from cons. It blocks until at least one
// partition is available or ctx is done (then it returns ctx's error),
// and never waits to fill a short batch:
//
//  1. a pull request for one message waits for the first partition (it
//     expires after 5 s or at ctx's deadline and is re-issued);
//  2. that message's metadata tells how many more are pending; a second
//     pull for min(pending, maxMsgs-1) messages and the remaining bytes,
//     expiring after 100 ms, takes those at once.
//
// This avoids both pitfalls of a plain Fetch(n): waiting the whole
// max-wait when fewer than n are available, and FetchNoWait's lack of a
// byte bound. The first partition is pulled without a byte bound (it is
// one message), so a partition larger than maxBytes is still delivered.
//
// Partitions delivered while ctx is being cancelled are nak'ed.
func Fetch(ctx context.Context, cons jetstream.Consumer, maxMsgs, maxBytes int) ([]*Partition, error) {
	return fetch(ctx, cons, maxMsgs, maxBytes, fetchIdleWait, false)
}

// fetch implements Fetch; with once it issues the first pull only once
// (expiring after firstWait) and may return no partition.
func fetch(ctx context.Context, cons jetstream.Consumer, maxMsgs, maxBytes int, firstWait time.Duration, once bool) ([]*Partition, error) {
	if maxMsgs < 1 {
		maxMsgs = 1
	}
	if maxBytes <= 0 {
		maxBytes = DefaultFetchBytes
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wait := firstWait
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = time.Until(dl)
			if wait < 5*time.Millisecond {
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}
		// The pull expires on the server at 90% of pctx's time, before
		// pctx ends, so nothing is delivered to an abandoned request.
		pctx, cancel := context.WithTimeout(ctx, wait)
		batch, err := cons.Fetch(1, jetstream.FetchContext(pctx))
		if err != nil {
			cancel()
			return nil, fmt.Errorf("natsjs: fetch: %w", err)
		}
		first := drain(batch)
		berr := batch.Error()
		cancel()
		if err := ctx.Err(); err != nil {
			nakAll(first)
			return nil, err
		}
		if len(first) == 0 {
			if berr != nil && !errors.Is(berr, context.DeadlineExceeded) {
				return nil, fmt.Errorf("natsjs: fetch: %w", berr)
			}
			if once {
				return nil, nil
			}
			continue
		}
		out := first
		left := maxBytes - first[0].Size()
		if n := min(uint64(maxMsgs-1), first[0].pending); n > 0 && left > 0 {
			more, err := cons.Fetch(int(n), jetstream.FetchMaxBytes(left), jetstream.FetchMaxWait(fetchFillWait))
			if err == nil {
				out = append(out, drain(more)...)
			}
		}
		return out, nil
	}
}

func drain(b jetstream.MessageBatch) []*Partition {
	var out []*Partition
	for m := range b.Messages() {
		out = append(out, NewPartition(m))
	}
	return out
}

func nakAll(ps []*Partition) {
	for _, p := range ps {
		_ = p.Nak(0)
	}
}
