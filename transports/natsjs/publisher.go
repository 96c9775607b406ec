package natsjs

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/zeebo/xxh3"

	"github.com/pcs-dev/pcs/transports"
)

// Publisher defaults.
const (
	// DefaultInlineLimit is the largest message (headers plus body, bytes)
	// published inline when neither WithInlineLimit nor the server's
	// max_payload says otherwise: 1 MiB, the NATS server's default
	// max_payload. Larger partitions go to the object store.
	DefaultInlineLimit = 1 << 20
	// DefaultObjectBucket is the default object store bucket for claim
	// checks.
	DefaultObjectBucket = "pcs-objects"
	// DefaultMaxInFlight is the default number of partitions whose publish
	// ack is outstanding. More than about 64 async 1 MiB publishes in
	// flight overflow a stream's ingest queue (429 "too many requests").
	DefaultMaxInFlight = 32
	// DefaultMaxRetries is how often a publish that failed with a
	// transient error (429, 503, ack timeout, disconnect) is retried.
	DefaultMaxRetries = 8
	// DefaultAckTimeout is how long one publish attempt waits for its ack.
	DefaultAckTimeout = 30 * time.Second
	// objectChunkSize is the object store chunk size: 1 MiB chunks put and
	// get faster than the 128 KiB default.
	objectChunkSize = 1 << 20
)

// Option configures a Publisher (functional options; an invalid value
// makes NewPublisher fail).
type Option func(*pubConfig) error

type pubConfig struct {
	sourceID    string
	startSeq    uint64
	enc         EncodeOptions
	inlineLimit int
	bucket      string
	objectTTL   time.Duration
	maxInFlight int
	eventTime   string
	lineage     []string
	maxRetries  int
	ackTimeout  time.Duration
	retryWait   time.Duration
	fence       string // WithFence: the fence subject prefix
}

// WithSourceID sets the producer's source id (required): Write publishes
// partitions "<source-id>/<seq>". It must pass ValidateID.
func WithSourceID(id string) Option {
	return func(c *pubConfig) error {
		if err := ValidateID(id); err != nil {
			return fmt.Errorf("natsjs: source id: %w", err)
		}
		c.sourceID = id
		return nil
	}
}

// WithStartSeq sets the sequence number of the first partition Write
// publishes (default 1). A producer that replays its input from the
// start with the same source id and start sequence republishes the same
// ids, which JetStream deduplicates within the stream's duplicate window.
func WithStartSeq(seq uint64) Option {
	return func(c *pubConfig) error { c.startSeq = seq; return nil }
}

// WithCompression sets the IPC body compression (default none). Small
// partitions stay uncompressed, see EncodeOptions.CompressMinBytes.
func WithCompression(comp Compression) Option {
	return func(c *pubConfig) error {
		if comp < CompressionNone || comp > CompressionZstd {
			return fmt.Errorf("natsjs: unknown compression %v", comp)
		}
		c.enc.Compression = comp
		return nil
	}
}

// WithEncodeOptions sets all encoding options at once (overriding
// WithCompression when given after it).
func WithEncodeOptions(o EncodeOptions) Option {
	return func(c *pubConfig) error { c.enc = o; return nil }
}

// WithInlineLimit sets the largest message, headers plus body in bytes,
// published inline (default: the server's max_payload, 1 MiB unless the
// server is configured otherwise). The effective limit is always capped
// by the server's max_payload. Larger partitions
// are stored in the object store and the message carries Pcs-Object and
// an empty body.
func WithInlineLimit(n int) Option {
	return func(c *pubConfig) error {
		if n < 1024 {
			return fmt.Errorf("natsjs: inline limit %d below 1024 bytes", n)
		}
		c.inlineLimit = n
		return nil
	}
}

// WithObjectBucket sets the object store bucket for claim checks (default
// DefaultObjectBucket). It is created, with ttl as its objects' max age
// (0: keep forever), on the first claim check if it does not exist; an
// existing bucket is used as it is.
func WithObjectBucket(bucket string, ttl time.Duration) Option {
	return func(c *pubConfig) error {
		if bucket == "" || strings.ContainsFunc(bucket, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			return fmt.Errorf("natsjs: bad object bucket name %q", bucket)
		}
		c.bucket, c.objectTTL = bucket, ttl
		return nil
	}
}

// WithMaxInFlight bounds the partitions whose publish ack is outstanding
// (default DefaultMaxInFlight, 32). Publish blocks while the bound is
// reached.
func WithMaxInFlight(n int) Option {
	return func(c *pubConfig) error {
		if n < 1 {
			return fmt.Errorf("natsjs: max in flight %d below 1", n)
		}
		c.maxInFlight = n
		return nil
	}
}

// WithEventTime names the event-time column (timestamp or date type).
// Each partition then carries Pcs-Event-Min and Pcs-Event-Max, unless
// the Meta given to Publish already sets them.
func WithEventTime(column string) Option {
	return func(c *pubConfig) error { c.eventTime = column; return nil }
}

// WithLineage sets the input partition ids (Pcs-Lineage) of partitions
// whose Meta has no lineage of its own, i.e. of every Write.
func WithLineage(ids ...string) Option {
	return func(c *pubConfig) error {
		for _, id := range ids {
			if err := ValidateID(id); err != nil {
				return fmt.Errorf("natsjs: lineage: %w", err)
			}
		}
		c.lineage = append([]string(nil), ids...)
		return nil
	}
}

// WithRetry sets how often a transiently failing publish is retried
// (default DefaultMaxRetries) and the first backoff wait (default 100 ms;
// it doubles up to 5 s, with jitter). 0 retries disables retrying.
func WithRetry(maxRetries int, firstWait time.Duration) Option {
	return func(c *pubConfig) error {
		if maxRetries < 0 || firstWait <= 0 {
			return fmt.Errorf("natsjs: bad retry %d, %v", maxRetries, firstWait)
		}
		c.maxRetries, c.retryWait = maxRetries, firstWait
		return nil
	}
}

// WithAckTimeout sets how long one publish attempt waits for its ack
// before it is retried (default DefaultAckTimeout).
func WithAckTimeout(d time.Duration) Option {
	return func(c *pubConfig) error {
		if d <= 0 {
			return fmt.Errorf("natsjs: ack timeout %v", d)
		}
		c.ackTimeout = d
		return nil
	}
}

// PublisherStats counts what a Publisher published, at ack time.
type PublisherStats struct {
	// Partitions acknowledged by JetStream, duplicates included.
	Partitions int64
	// Duplicates is how many of them JetStream reported as duplicates
	// (same Nats-Msg-Id within the duplicate window): expected on replay.
	Duplicates int64
	// Rows in acknowledged partitions.
	Rows int64
	// Bytes of encoded bodies (inline or in the object store) of
	// acknowledged partitions.
	Bytes int64
	// ClaimChecks is how many acknowledged partitions went through the
	// object store.
	ClaimChecks int64
	// Retries of publish attempts after transient errors.
	Retries int64
	// Failures is the number of partitions whose publish failed for good.
	Failures int64
}

// Publisher publishes partitions to one subject. It implements
// transports.Sink (Write assigns "<source-id>/<seq>" ids) and offers
// Publish and PublishAsync to callers that set ids themselves (the
// node). A Publisher is safe for concurrent use.
//
// Publishing is asynchronous: at most MaxInFlight partitions await their
// JetStream ack at once, and every ack is checked. Transient failures
// (429 too many requests, 503, ack timeout, disconnect) are retried with
// exponential backoff under the same Nats-Msg-Id, so a retry that
// follows a lost ack is deduplicated by JetStream. Retries may store
// partitions out of publish order: consumers must not infer order from
// stream sequences. A partition that still fails is reported by Flush
// (Write, Publish) or by its Pending (PublishAsync).
//
// Arrow ownership: Publish, PublishAsync and Write encode the batches
// before they return and keep no reference; the caller releases them.
type Publisher struct {
	js      jetstream.JetStream
	subject string
	cfg     pubConfig
	slots   chan struct{}
	quit    chan struct{}

	mu       sync.Mutex
	seq      uint64
	inflight int
	idle     chan struct{} // closed when inflight drops to 0
	err      error         // first failure of Write / Publish
	closed   bool
	obs      jetstream.ObjectStore

	partitions, duplicates, rows, bytes, claims, retries, failures atomic.Int64

	fenceBody []byte // WithFence: an IPC stream of the empty schema
}

var _ transports.Sink = (*Publisher)(nil)

// NewPublisher returns a Publisher of partitions to subject, which must
// be bound to a stream. WithSourceID is required (ErrNoSourceID).
func NewPublisher(js jetstream.JetStream, subject string, opts ...Option) (*Publisher, error) {
	if js == nil || subject == "" {
		return nil, errors.New("natsjs: NewPublisher needs a JetStream context and a subject")
	}
	cfg := pubConfig{
		startSeq:    1,
		inlineLimit: 0, // the server's max_payload
		bucket:      DefaultObjectBucket,
		maxInFlight: DefaultMaxInFlight,
		maxRetries:  DefaultMaxRetries,
		ackTimeout:  DefaultAckTimeout,
		retryWait:   100 * time.Millisecond,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.sourceID == "" {
		return nil, ErrNoSourceID
	}
	pub := &Publisher{
		js:      js,
		subject: subject,
		cfg:     cfg,
		slots:   make(chan struct{}, cfg.maxInFlight),
		quit:    make(chan struct{}),
		seq:     cfg.startSeq,
	}
	if cfg.fence != "" {
		empty := array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 0)
		defer empty.Release()
		body, err := Encode([]arrow.RecordBatch{empty}, EncodeOptions{})
		if err != nil {
			return nil, fmt.Errorf("natsjs: fence body: %w", err)
		}
		pub.fenceBody = body
	}
	return pub, nil
}

// Subject returns the subject partitions are published to.
func (p *Publisher) Subject() string { return p.subject }

// NextSeq returns the sequence number the next Write will use.
func (p *Publisher) NextSeq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// Stats returns the counters so far.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{
		Partitions:  p.partitions.Load(),
		Duplicates:  p.duplicates.Load(),
		Rows:        p.rows.Load(),
		Bytes:       p.bytes.Load(),
		ClaimChecks: p.claims.Load(),
		Retries:     p.retries.Load(),
		Failures:    p.failures.Load(),
	}
}

// Write publishes rec as one partition with id "<source-id>/<seq>" and
// the next sequence number (a failed Write consumes its number). It
// returns once the message is sent, before its ack; Flush waits for the
// acks and reports the first failure, which later Writes also return.
func (p *Publisher) Write(ctx context.Context, rec arrow.RecordBatch) error {
	p.mu.Lock()
	id := PartitionID(p.cfg.sourceID, p.seq)
	p.seq++
	p.mu.Unlock()
	_, err := p.publish(ctx, []arrow.RecordBatch{rec}, Meta{ID: id}, true)
	return err
}

// Publish publishes recs as one partition with the caller's id
// (meta.ID, required) and the caller's Watermark, Lineage (default: the
// WithLineage ids) and event-time bounds (default: computed from the
// WithEventTime column). Rows and Schema are computed from recs and
// Object is set by the Publisher when the body goes to the object store.
//
// Publish returns once the message is sent (after the object store put,
// for a claim check), not when it is acknowledged: Flush waits for the
// acks and reports the first failure, which later calls also return.
func (p *Publisher) Publish(ctx context.Context, recs []arrow.RecordBatch, meta Meta) error {
	_, err := p.publish(ctx, recs, meta, true)
	return err
}

// PublishAsync is Publish for callers that wait for this partition's ack
// themselves (the node acks its input only after the acks of its
// outputs): the failure of the returned Pending is reported only there,
// not by Flush, which still waits for it.
func (p *Publisher) PublishAsync(ctx context.Context, recs []arrow.RecordBatch, meta Meta) (*Pending, error) {
	return p.publish(ctx, recs, meta, false)
}

// Pending is the outcome of one PublishAsync.
type Pending struct {
	id   string
	done chan struct{}
	ack  *jetstream.PubAck
	err  error
}

// ID returns the partition id.
func (pd *Pending) ID() string { return pd.id }

// Done is closed when the partition is acknowledged or failed for good.
func (pd *Pending) Done() <-chan struct{} { return pd.done }

// Wait waits for the outcome and returns the ack (PubAck.Duplicate is
// set when JetStream had the id already) or the publish error. A ctx
// error means only that this wait ended.
func (pd *Pending) Wait(ctx context.Context) (*jetstream.PubAck, error) {
	select {
	case <-pd.done:
		return pd.ack, pd.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Publisher) publish(ctx context.Context, recs []arrow.RecordBatch, meta Meta, sticky bool) (*Pending, error) {
	if err := p.check(ctx, sticky, meta); err != nil {
		return nil, err
	}
	msg, meta, size, err := p.encode(recs, meta)
	if err != nil {
		return nil, err
	}
	if msg, meta, err = p.fit(ctx, msg, meta); err != nil {
		return nil, err
	}
	return p.send(ctx, msg, meta, size, sticky)
}

// PublishParts publishes recs as one output that stock Arrow readers can
// decode without a claim check: when the message (headers plus body)
// would exceed the inline limit (the server's max_payload), recs are cut
// by rows into n parts, each a complete Arrow IPC stream of the same
// schema, published in order as messages with id partID(j) (j from 0),
// Pcs-Part "<j+1>/<n>" and Pcs-Part-Of partID(0). A whole output that
// fits is one message with id partID(0) and no part headers. A part of
// a single row that still does not fit goes through the claim check.
//
// The cut depends only on the batches, the encoding options and the
// limit, so a replay of the same output publishes the same ids, which
// JetStream deduplicates. meta is as for Publish (its ID is ignored;
// event-time bounds are computed per part unless meta sets them). The
// returned Pendings, one per part in order, are waited for by the
// caller as with PublishAsync. On an error, parts already sent stay
// sent (a replay publishes them again under the same ids).
func (p *Publisher) PublishParts(ctx context.Context, recs []arrow.RecordBatch, meta Meta, partID func(j int) string) ([]*Pending, error) {
	meta.ID = partID(0)
	if err := p.check(ctx, false, meta); err != nil {
		return nil, err
	}
	// Encoded whole only when it may fit: an output whose buffers alone
	// exceed the limit is cut by rows at once, not encoded twice.
	limit := p.limit()
	var (
		msg    *nats.Msg
		whole  Meta
		perRow float64 // body bytes per row
		err    error
	)
	if est := bufferBytes(recs); est > int64(limit) {
		if whole, err = p.describe(recs, meta); err != nil {
			return nil, err
		}
		perRow = float64(est) / float64(max(whole.Rows, 1))
	} else {
		var size int64
		if msg, whole, size, err = p.encode(recs, meta); err != nil {
			return nil, err
		}
		perRow = float64(len(msg.Data)) / float64(max(whole.Rows, 1))
		if payloadSize(msg) <= limit {
			return p.publishWhole(ctx, msg, whole, size, partID)
		}
	}
	if whole.Rows <= 1 { // one row too large: a claim check
		msg, whole, size, err := p.encode(recs, meta)
		if err != nil {
			return nil, err
		}
		return p.publishWhole(ctx, msg, whole, size, partID)
	}
	// Headroom for the part headers and longer ids of later parts.
	probe := whole
	probe.ID = partID(0) + ".999999"
	probe.Part, probe.Parts, probe.PartOf = 999999, 999999, partID(0)
	room := limit - payloadSize(&nats.Msg{Header: probe.Header()}) - 64
	type part struct {
		msg  *nats.Msg
		meta Meta
		size int64
	}
	var parts []part
	// cut encodes rows [a, b) as one part, halving ranges that do not fit.
	var cut func(a, b int64) error
	cut = func(a, b int64) error {
		slices := sliceRows(recs, a, b)
		defer releaseAll(slices)
		msg, m, size, err := p.encode(slices, meta)
		if err != nil {
			return err
		}
		if len(msg.Data) > room && b-a > 1 {
			mid := a + (b-a)/2
			if err := cut(a, mid); err != nil {
				return err
			}
			return cut(mid, b)
		}
		parts = append(parts, part{msg, m, size})
		return nil
	}
	// First guess: rows per part from the whole's bytes per row.
	per := max(1, int64(float64(room)*0.9/perRow))
	for a := int64(0); a < whole.Rows; a += per {
		if err := cut(a, min(a+per, whole.Rows)); err != nil {
			return nil, err
		}
	}
	pds := make([]*Pending, 0, len(parts))
	var fenced []*nats.Msg
	var size int64
	for j, pt := range parts {
		size += pt.size
		pt.meta.ID, pt.meta.Part, pt.meta.Parts, pt.meta.PartOf = partID(j), j+1, len(parts), partID(0)
		if err := ValidateID(pt.meta.ID); err != nil {
			return pds, fmt.Errorf("natsjs: publish: %w", err)
		}
		pt.msg.Header = pt.meta.Header()
		msg, m, err := p.fit(ctx, pt.msg, pt.meta)
		if err != nil {
			return pds, err
		}
		if p.cfg.fence != "" {
			fenced = append(fenced, msg)
			continue
		}
		pd, err := p.send(ctx, msg, m, pt.size, false)
		if err != nil {
			return pds, err
		}
		pds = append(pds, pd)
	}
	if p.cfg.fence != "" {
		return p.publishFenced(ctx, partID(0), fenced, whole.Rows, size)
	}
	return pds, nil
}

// sliceRows returns the batches holding rows [a, b) of recs counted
// across batches; the caller releases them.
func sliceRows(recs []arrow.RecordBatch, a, b int64) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	off := int64(0)
	for _, r := range recs {
		n := r.NumRows()
		lo, hi := max(a-off, 0), min(b-off, n)
		if lo < hi {
			out = append(out, r.NewSlice(lo, hi))
		}
		off += n
	}
	if len(out) == 0 {
		out = append(out, recs[0].NewSlice(0, 0))
	}
	return out
}

// check refuses a publish on a closed or (sticky) failed Publisher, a
// cancelled ctx and invalid ids.
func (p *Publisher) check(ctx context.Context, sticky bool, meta Meta) error {
	p.mu.Lock()
	closed, stickyErr := p.closed, p.err
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if sticky && stickyErr != nil {
		return stickyErr
	}
	if err := ctx.Err(); err != nil {
		return err // a cancelled call publishes nothing
	}
	if err := ValidateID(meta.ID); err != nil {
		return fmt.Errorf("natsjs: publish: %w", err)
	}
	lineage := meta.Lineage
	if len(lineage) == 0 {
		lineage = p.cfg.lineage
	}
	for _, id := range lineage {
		if err := ValidateID(id); err != nil {
			return fmt.Errorf("natsjs: publish %s: lineage: %w", meta.ID, err)
		}
	}
	return nil
}

// encode describes and encodes recs into an inline message with meta's
// headers and returns it, the completed meta and the body size.
func (p *Publisher) encode(recs []arrow.RecordBatch, meta Meta) (*nats.Msg, Meta, int64, error) {
	meta, err := p.describe(recs, meta)
	if err != nil {
		return nil, meta, 0, err
	}
	body, err := Encode(recs, p.cfg.enc)
	if err != nil {
		return nil, meta, 0, fmt.Errorf("natsjs: publish %s: %w", meta.ID, err)
	}
	return &nats.Msg{Subject: p.subject, Header: meta.Header(), Data: body}, meta, int64(len(body)), nil
}

// describe fills meta's rows, schema, event times and lineage from recs.
func (p *Publisher) describe(recs []arrow.RecordBatch, meta Meta) (Meta, error) {
	d, err := Describe(recs, p.cfg.eventTime)
	if err != nil {
		return meta, fmt.Errorf("natsjs: publish %s: %w", meta.ID, err)
	}
	meta.Rows, meta.Schema, meta.Object = d.Rows, d.Schema, nil
	if meta.EventMin.IsZero() && meta.EventMax.IsZero() {
		meta.EventMin, meta.EventMax = d.EventMin, d.EventMax
	}
	if len(meta.Lineage) == 0 {
		meta.Lineage = p.cfg.lineage
	}
	return meta, nil
}

// publishWhole publishes msg, the whole output, as one message (or a
// claim check, when it is larger than the limit), fenced when the
// publisher fences.
func (p *Publisher) publishWhole(ctx context.Context, msg *nats.Msg, whole Meta, size int64, partID func(j int) string) ([]*Pending, error) {
	msg, whole, err := p.fit(ctx, msg, whole)
	if err != nil {
		return nil, err
	}
	if p.cfg.fence != "" {
		return p.publishFenced(ctx, partID(0), []*nats.Msg{msg}, whole.Rows, size)
	}
	pd, err := p.send(ctx, msg, whole, size, false)
	if err != nil {
		return nil, err
	}
	return []*Pending{pd}, nil
}

// bufferBytes is the bytes recs' buffers take in an IPC body (see
// encodedSize): at most the body's size.
func bufferBytes(recs []arrow.RecordBatch) int64 {
	var n int64
	for _, r := range recs {
		n += encodedSize(r)
	}
	return n
}

// limit is the largest inline message: the configured inline limit
// capped by the server's max_payload.
func (p *Publisher) limit() int {
	limit := p.cfg.inlineLimit
	if mp := p.js.Conn().MaxPayload(); mp > 0 && (limit == 0 || int64(limit) > mp) {
		limit = int(mp)
	}
	if limit == 0 {
		limit = DefaultInlineLimit
	}
	return limit
}

// fit moves msg's body to the object store (claim check) when msg is
// larger than the limit.
func (p *Publisher) fit(ctx context.Context, msg *nats.Msg, meta Meta) (*nats.Msg, Meta, error) {
	limit := p.limit()
	if payloadSize(msg) <= limit {
		return msg, meta, nil
	}
	ref, err := p.putObject(ctx, meta.ID, msg.Data)
	if err != nil {
		return nil, meta, fmt.Errorf("natsjs: publish %s: claim check: %w", meta.ID, err)
	}
	meta.Object = &ref
	msg.Header, msg.Data = meta.Header(), nil
	if n := payloadSize(msg); n > limit {
		return nil, meta, fmt.Errorf("natsjs: publish %s: headers alone are %d bytes, above the %d-byte limit", meta.ID, n, limit)
	}
	return msg, meta, nil
}

// send publishes msg once a slot is free and watches its ack.
func (p *Publisher) send(ctx context.Context, msg *nats.Msg, meta Meta, size int64, sticky bool) (*Pending, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.quit:
		return nil, ErrClosed
	}
	pd := &Pending{id: meta.ID, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, ErrClosed
	}
	if p.inflight == 0 {
		p.idle = make(chan struct{})
	}
	p.inflight++
	p.mu.Unlock()

	paf, err := p.js.PublishMsgAsync(msg)
	if err != nil && !retryable(err) {
		p.finish(pd, nil, fmt.Errorf("natsjs: publish %s to %s: %w", meta.ID, p.subject, err), false)
		return nil, pd.err
	}
	go p.watch(pd, msg, paf, err, sticky, meta.Rows, size, meta.Object != nil)
	return pd, nil
}

// payloadSize is what counts against max_payload: headers plus data.
func payloadSize(m *nats.Msg) int {
	return m.Size() - len(m.Subject) - len(m.Reply)
}

// watch waits for the ack of one partition, retrying transient failures.
func (p *Publisher) watch(pd *Pending, msg *nats.Msg, paf jetstream.PubAckFuture, err error, sticky bool, rows, size int64, claim bool) {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = p.cfg.retryWait
	bo.Multiplier = 2
	bo.MaxInterval = 5 * time.Second
	bo.RandomizationFactor = 0.3
	for attempt := 0; ; attempt++ {
		var ack *jetstream.PubAck
		if err == nil {
			ack, err = p.await(paf)
		}
		if err == nil {
			p.partitions.Add(1)
			p.rows.Add(rows)
			p.bytes.Add(size)
			if claim {
				p.claims.Add(1)
			}
			if ack.Duplicate {
				p.duplicates.Add(1)
			}
			p.finish(pd, ack, nil, sticky)
			return
		}
		if !p.retryable(err) || attempt >= p.cfg.maxRetries {
			p.finish(pd, nil, fmt.Errorf("natsjs: publish %s to %s (%d attempts): %w", pd.id, p.subject, attempt+1, err), sticky)
			return
		}
		p.retries.Add(1)
		t := time.NewTimer(bo.NextBackOff())
		select {
		case <-t.C:
		case <-p.quit:
			t.Stop()
			p.finish(pd, nil, fmt.Errorf("natsjs: publish %s to %s: %w while retrying: %w", pd.id, p.subject, ErrClosed, err), sticky)
			return
		}
		paf, err = p.js.PublishMsgAsync(msg)
	}
}

func (p *Publisher) await(paf jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	t := time.NewTimer(p.cfg.ackTimeout)
	defer t.Stop()
	select {
	case ack := <-paf.Ok():
		return ack, nil
	case err := <-paf.Err():
		return nil, err
	case <-t.C:
		return nil, ErrAckTimeout
	case <-p.quit:
		return nil, ErrClosed
	}
}

func (p *Publisher) finish(pd *Pending, ack *jetstream.PubAck, err error, sticky bool) {
	pd.ack, pd.err = ack, err
	close(pd.done)
	p.mu.Lock()
	if err != nil {
		p.failures.Add(1)
		if sticky && p.err == nil {
			p.err = err
		}
	}
	p.inflight--
	if p.inflight == 0 {
		close(p.idle)
	}
	p.mu.Unlock()
	<-p.slots
}

// retryable reports whether a publish error is transient: JetStream 429
// (ingest queue full) or 503, an ack timeout, a disconnect (the client
// reconnecting with its reconnect buffer full or disabled, a broken
// pipe, a reset connection), or the client's async window stalled. A
// subject without a stream (no responders, which nats.go itself retries
// twice) and a closed connection are not.
// retryable is the package's retryable, plus a publish no stream
// answered (no responders) while a stream does capture the subject: a
// clustered stream electing a leader after its server died answers no
// one for a few seconds, and publishing again then succeeds. With no
// stream for the subject it fails at once.
func (p *Publisher) retryable(err error) bool {
	if retryable(err) {
		return true
	}
	if !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ackTimeout)
	defer cancel()
	_, lerr := p.js.StreamNameBySubject(ctx, p.subject)
	return !errors.Is(lerr, jetstream.ErrStreamNotFound)
}

func retryable(err error) bool {
	switch {
	case errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, ErrAckTimeout),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout),
		errors.Is(err, jetstream.ErrTooManyStalledMsgs),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionReconnecting):
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.Code == 429 || apiErr.Code == 503) {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "too many requests")
}

// Flush waits until every partition published so far is acknowledged or
// failed for good, and returns the first failure of Write and Publish
// (sticky: the Publisher stays failed). ctx bounds the wait only.
func (p *Publisher) Flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.inflight == 0 {
			err := p.err
			p.mu.Unlock()
			return err
		}
		idle := p.idle
		p.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("natsjs: flush: %w", ctx.Err())
		}
	}
}

// Close flushes, then stops the Publisher: publishes still waiting for
// an ack or a retry when ctx ends fail with ErrClosed. It does not close
// the NATS connection. Calling Close again returns nil.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	err := p.Flush(ctx)
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	close(p.quit)
	// The watchers return promptly now that quit is closed.
	_ = p.Flush(context.Background())
	return err
}

// putObject stores body in the object store under "<id>@<hex>" (the
// first 8 bytes of its XXH3-128 hash), so that a replay producing
// different bytes for the same id never overwrites the object an earlier,
// already stored message points to, and a replay producing the same bytes
// reuses the object without writing it again. The digest in the returned
// ref is the SHA-256 the object store computed while storing (the body is
// hashed with SHA-256 once, by nats.go).
func (p *Publisher) putObject(ctx context.Context, id string, body []byte) (ObjectRef, error) {
	sum := xxh3.Hash128(body).Bytes()
	ref := ObjectRef{
		Bucket: p.cfg.bucket,
		Name:   id + "@" + hex.EncodeToString(sum[:8]),
		Size:   int64(len(body)),
	}
	obs, err := p.objectStore(ctx)
	if err != nil {
		return ObjectRef{}, err
	}
	if info, err := obs.GetInfo(ctx, ref.Name); err == nil && !info.Deleted && int64(info.Size) == ref.Size && info.Digest != "" {
		ref.Digest = info.Digest
		return ref, nil
	}
	chunk := objectChunkSize
	if mp := p.js.Conn().MaxPayload(); mp > 0 && int64(chunk) > mp {
		chunk = int(mp)
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = p.cfg.retryWait
	bo.MaxInterval = 5 * time.Second
	info, err := backoff.Retry(ctx, func() (*jetstream.ObjectInfo, error) {
		info, err := obs.Put(ctx, jetstream.ObjectMeta{
			Name: ref.Name,
			Opts: &jetstream.ObjectMetaOptions{ChunkSize: uint32(chunk)},
		}, bytes.NewReader(body))
		if err != nil {
			if retryable(err) && ctx.Err() == nil {
				p.retries.Add(1)
				return nil, err
			}
			return nil, backoff.Permanent(err)
		}
		return info, nil
	}, backoff.WithBackOff(bo), backoff.WithMaxTries(uint(p.cfg.maxRetries+1)))
	if err != nil {
		return ObjectRef{}, err
	}
	if int64(info.Size) != ref.Size || info.Digest == "" {
		return ObjectRef{}, fmt.Errorf("natsjs: object store reports %d bytes and digest %q for %s, want %d bytes", info.Size, info.Digest, ref.Name, ref.Size)
	}
	ref.Digest = info.Digest
	return ref, nil
}

func (p *Publisher) objectStore(ctx context.Context) (jetstream.ObjectStore, error) {
	p.mu.Lock()
	obs := p.obs
	p.mu.Unlock()
	if obs != nil {
		return obs, nil
	}
	obs, err := p.js.ObjectStore(ctx, p.cfg.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = p.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      p.cfg.bucket,
			Description: "PCS claim-check partition bodies",
			TTL:         p.cfg.objectTTL,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = p.js.ObjectStore(ctx, p.cfg.bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natsjs: object bucket %s: %w", p.cfg.bucket, err)
	}
	p.mu.Lock()
	p.obs = obs
	p.mu.Unlock()
	return obs, nil
}
