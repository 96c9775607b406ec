package natsjs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Fences make an output's publish succeed once, ever, not only within
// JetStream's duplicate window (2 minutes by default): a node that lost
// its claim on a partition (paused past its ack wait, cut off) and
// publishes that partition's outputs after another node did is rejected
// by the server, whenever it wakes up.
//
// A fenced output is published as one JetStream atomic batch (ADR-50,
// nats-server 2.12+): first a fence message, empty, on
// FenceSubject(prefix, id) with Nats-Expected-Last-Subject-Sequence 0 (no
// message on that subject yet), then the output's parts. The server
// stores all of them or none; a second batch for the same id fails its
// fence check, so the output is stored once. The stream must capture
// FenceSubjects(prefix) and allow atomic publish; fence messages stay in
// it (about 150 bytes each) as the record of what was published, and
// consumers filtered on the output subject never see them. With interest
// retention the server drops fences at once (no consumer wants them):
// such streams are protected by the duplicate window only.

// HeaderFence marks a fence message: its value is the id of the output it
// fences. A fence carries no rows (Pcs-Rows 0; its body is an Arrow IPC
// stream of the empty schema, so a client that reads the whole stream
// rather than the output subject decodes it as an empty table).
const HeaderFence = "Pcs-Fence"

// ErrFenced: the output was published before (its fence exists, or its
// id is in the duplicate window): nothing was stored this time. For a
// deterministic output that is success: the rows are in the stream.
var ErrFenced = errors.New("natsjs: output already published (fenced)")

// Batch headers of JetStream atomic publish.
const (
	headerBatchID             = "Nats-Batch-Id"
	headerBatchSeq            = "Nats-Batch-Sequence"
	headerBatchCommit         = "Nats-Batch-Commit"
	headerExpectedLastSubjSeq = "Nats-Expected-Last-Subject-Sequence"
)

// maxFencedParts bounds the parts of one fenced output: the server's
// atomic batch limit (1000 messages) minus the fence.
const maxFencedParts = 999

// FencePrefix is the fence subject prefix of a pipeline's outputs of one
// kind ("out", "late", "partials", "window"): "pcs.fence.<pipeline>.<kind>".
func FencePrefix(pipeline, kind string) string { return "pcs.fence." + pipeline + "." + kind }

// FenceSubject is the fence subject of output id under prefix: the prefix
// and the first 32 hex digits of the id's SHA-256 (ids hold '/' and '.',
// which subject tokens cannot).
func FenceSubject(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + "." + hex.EncodeToString(sum[:16])
}

// FenceSubjects is the wildcard of every fence subject under prefix, for
// the stream's subjects.
func FenceSubjects(prefix string) string { return prefix + ".>" }

// WithFence makes PublishParts fence every output under prefix
// (FencePrefix): see ErrFenced and FenceSubject. The stream that captures
// the publisher's subject must also capture FenceSubjects(prefix) and
// allow atomic publish (broker.StreamSpec.AllowAtomicPublish).
func WithFence(prefix string) Option {
	return func(c *pubConfig) error {
		if prefix == "" {
			return errors.New("natsjs: WithFence needs a subject prefix")
		}
		c.fence = prefix
		return nil
	}
}

// pubAckResponse is the server's reply to a batch commit.
type pubAckResponse struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Error  *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// Server error codes a fenced publish reads.
const (
	errWrongLastSequence   = 10071 // the fence exists
	errBatchDuplicateMsgID = 10201 // a part's id is in the duplicate window
)

// publishFenced publishes msgs (the parts of output id, in order) as one
// atomic batch behind its fence, retrying transient failures with a new
// batch (up to the publisher's retries), and returns one settled Pending
// per part. An output published before gives ErrFenced.
func (p *Publisher) publishFenced(ctx context.Context, id string, msgs []*nats.Msg, rows, size int64) ([]*Pending, error) {
	if len(msgs) > maxFencedParts {
		return nil, fmt.Errorf("natsjs: publish %s: %d parts, more than an atomic batch holds (%d): raise the max payload or cut smaller outputs", id, len(msgs), maxFencedParts)
	}
	var ack *jetstream.PubAck
	var err error
	wait := p.cfg.retryWait
	for attempt := 0; ; attempt++ {
		if ack, err = p.sendBatch(ctx, id, msgs); err == nil || errors.Is(err, ErrFenced) || !p.retryable(err) || attempt >= p.cfg.maxRetries {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
		wait = min(2*wait, 5*time.Second)
	}
	pds := make([]*Pending, len(msgs))
	for j, m := range msgs {
		pds[j] = &Pending{id: m.Header.Get(HeaderMsgID), done: make(chan struct{}), ack: ack, err: err}
		close(pds[j].done)
	}
	switch {
	case err == nil:
		p.partitions.Add(int64(len(msgs)))
		p.rows.Add(rows)
		p.bytes.Add(size)
	case errors.Is(err, ErrFenced):
		p.duplicates.Add(int64(len(msgs)))
	default:
		p.failures.Add(1)
	}
	return pds, err
}

// sendBatch sends the fence and msgs as one atomic batch: every message
// but the last with a plain publish, the last (the commit) as a request
// whose reply is the batch's PubAck.
func (p *Publisher) sendBatch(ctx context.Context, id string, msgs []*nats.Msg) (*jetstream.PubAck, error) {
	nc := p.js.Conn()
	batch := nuid.Next()
	fence := nats.NewMsg(FenceSubject(p.cfg.fence, id))
	fence.Data = p.fenceBody
	fence.Header.Set(headerExpectedLastSubjSeq, "0")
	fence.Header.Set(HeaderMsgID, id+"/fence")
	fence.Header.Set(HeaderFence, id)
	fence.Header.Set(HeaderRows, "0")
	all := append([]*nats.Msg{fence}, msgs...)
	for i, m := range all {
		m.Header.Set(headerBatchID, batch)
		m.Header.Set(headerBatchSeq, strconv.Itoa(i+1))
		m.Header.Del(headerBatchCommit)
	}
	last := all[len(all)-1]
	last.Header.Set(headerBatchCommit, "1")
	for _, m := range all[:len(all)-1] {
		if err := nc.PublishMsg(m); err != nil {
			return nil, fmt.Errorf("natsjs: publish %s: %w", id, err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, p.cfg.ackTimeout)
	defer cancel()
	reply, err := nc.RequestMsgWithContext(rctx, last)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", jetstream.ErrAsyncPublishTimeout, err) // transient: retried
		}
		return nil, fmt.Errorf("natsjs: publish %s: %w", id, err)
	}
	var r pubAckResponse
	if err := json.Unmarshal(reply.Data, &r); err != nil {
		return nil, fmt.Errorf("natsjs: publish %s: bad reply %q: %w", id, reply.Data, err)
	}
	if r.Error != nil {
		switch r.Error.ErrCode {
		case errWrongLastSequence, errBatchDuplicateMsgID:
			return nil, fmt.Errorf("%w: %s: %s", ErrFenced, id, r.Error.Description)
		}
		apiErr := &jetstream.APIError{Code: r.Error.Code, ErrorCode: jetstream.ErrorCode(r.Error.ErrCode), Description: r.Error.Description}
		return nil, fmt.Errorf("natsjs: publish %s: %w", id, apiErr)
	}
	return &jetstream.PubAck{Stream: r.Stream, Sequence: r.Seq}, nil
}
