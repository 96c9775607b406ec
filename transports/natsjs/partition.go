package natsjs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Partition is one partition message delivered by a JetStream consumer
// (Consumer.Fetch, Ordered.Next, Source.Next, or NewPartition for a
// message pulled by other means). It wraps the jetstream.Msg and parses
// its headers once.
//
// Settling: exactly one of Ack, Nak or Term should be called eventually
// (for a consumer with explicit acks), either on the Partition or on its
// AckHandle (Handle), not both; InProgress or KeepAlive extend the ack
// wait meanwhile. A Partition keeps the message, body included: a caller
// that holds many decoded partitions until some later point (a file
// complete, a checkpoint) should keep their AckHandles instead, which do
// not reference the body.
//
// A Partition is not safe for concurrent use, except KeepAlive's
// heartbeats, which may run while its owner works on it.
type Partition struct {
	msg     jetstream.Msg
	c       *Consumer // nil for NewPartition
	meta    Meta
	metaErr error
	stream  string
	seq     uint64
	deliv   uint64
	pending uint64
	handle  *AckHandle
}

// NewPartition wraps a message delivered by a JetStream consumer (for
// callers that pull with Consume or Messages instead of Fetch).
//
// Prefer reading through a Consumer (Consumer.Fetch) or an
// Ordered reader (OpenOrdered): their partitions resolve claim
// checks by themselves and give ack handles without the message body.
// NewPartition stays until every caller has moved.
func NewPartition(msg jetstream.Msg) *Partition { return newPartition(msg, nil) }

func newPartition(msg jetstream.Msg, c *Consumer) *Partition {
	p := &Partition{msg: msg, c: c}
	p.meta, p.metaErr = ParseMeta(msg.Headers())
	if md, err := msg.Metadata(); err == nil {
		p.stream, p.seq, p.deliv, p.pending = md.Stream, md.Sequence.Stream, md.NumDelivered, md.NumPending
	}
	return p
}

// Msg returns the underlying message (for dead-lettering it with its
// original headers and body; see DeadLetter).
func (p *Partition) Msg() jetstream.Msg { return p.msg }

// Meta returns the parsed headers; the error (wrapping ErrBadHeader and
// ErrCorrupt) reports a malformed Pcs-* header.
func (p *Partition) Meta() (Meta, error) { return p.meta, p.metaErr }

// ID returns the partition id (Nats-Msg-Id), "" for a message without
// one.
func (p *Partition) ID() string { return p.msg.Headers().Get(HeaderMsgID) }

// Key returns the name PCS files the partition under (catalog records,
// output ids, dead-letter ids): its ID, or "<stream>/<stream seq>" for a
// foreign message without Nats-Msg-Id, or "unknown" for a message
// without either.
func (p *Partition) Key() string {
	if id := p.ID(); id != "" {
		return id
	}
	if p.stream != "" {
		return p.stream + "/" + strconv.FormatUint(p.seq, 10)
	}
	return "unknown"
}

// Subject returns the subject the partition was published to.
func (p *Partition) Subject() string { return p.msg.Subject() }

// Stream returns the name of the stream the message was read from (""
// if the message carries no JetStream metadata).
func (p *Partition) Stream() string { return p.stream }

// StreamSeq returns the stream sequence of the message (0 if the message
// carries no JetStream metadata).
func (p *Partition) StreamSeq() uint64 { return p.seq }

// Delivered returns how many times the message has been delivered,
// this delivery included (1 the first time).
func (p *Partition) Delivered() uint64 { return p.deliv }

// Pending returns how many messages of the consumer's filter were not
// yet delivered when this one was (JetStream's NumPending in the
// message's metadata): 0 for the last one available then.
func (p *Partition) Pending() uint64 { return p.pending }

// Body returns the message body as received: the Arrow IPC stream, or
// empty for a claim check. The caller must not modify it.
func (p *Partition) Body() []byte { return p.msg.Data() }

// Size returns the message size in bytes as the server counts it for
// byte-bounded pulls: subject, headers and body.
func (p *Partition) Size() int {
	m := nats.Msg{Subject: p.msg.Subject(), Header: p.msg.Headers(), Data: p.msg.Data()}
	return m.Size()
}

// Decode returns the partition's record batches, owned by the caller,
// who releases each. As with the package's Decode, uncompressed buffers
// alias the message body (or the fetched object), which nothing
// modifies; others are allocated from mem (nil:
// memory.DefaultAllocator). For a claim check it fetches
// the body from the object store through objs and verifies its size and
// digest; objs nil means the object stores of the Consumer or Ordered
// reader that delivered p (ErrNoObjectStore for a partition from
// NewPartition, or a Source made without them). It checks the decoded
// batches against Pcs-Rows and Pcs-Schema.
//
// Errors that redelivery cannot fix wrap ErrCorrupt: malformed headers,
// an undecodable body, a mismatch with the headers, a missing object or
// bucket, a digest mismatch. Other errors (object store unreachable, ctx)
// are transient.
func (p *Partition) Decode(ctx context.Context, objs ObjectStores, mem memory.Allocator) ([]arrow.RecordBatch, error) {
	if p.metaErr != nil {
		return nil, fmt.Errorf("natsjs: partition %s: %w", p.ID(), p.metaErr)
	}
	if objs == nil && p.c != nil && p.c.objs != nil {
		objs = p.c.objs
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
