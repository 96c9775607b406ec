package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// AnyMember as the target of Forwarder.Request reaches some member of the
// cluster (whichever answers first). A node that is not a member yet uses it
// to Join.
const AnyMember = ""

// Handler answers one forwarded request. It is called by a Forwarder on a
// goroutine of its own per request (handlers block for a Raft commit), with a
// ctx that ends when the request's deadline passes or the listener stops.
// The returned bytes are the reply.
type Handler func(ctx context.Context, req []byte) []byte

// Forwarder carries requests between catalog nodes: followers forward
// commands to the leader, joining nodes reach any member. Catalog calls
// Listen once at Open (and the stop function at Close) and Request from any
// goroutine. Implementations must be safe for concurrent use.
type Forwarder interface {
	// Listen makes h answer requests addressed to nodeID and to AnyMember
	// until stop is called. stop waits for nothing but the unsubscription.
	Listen(nodeID string, h Handler) (stop func() error, err error)
	// Request sends req to node `to` (or to AnyMember) and returns its reply.
	// ctx bounds the wait. An error means no reply arrived: the request may
	// or may not have been handled (for Apply, the outcome is unknown),
	// unless it wraps ErrNotDelivered (certainly not handled).
	Request(ctx context.Context, to string, req []byte) ([]byte, error)
}

// NATSForwarder is a Forwarder over NATS request/reply. Node nodeID listens
// on "pcs.catalog.<cluster>.<nodeID>" and, in queue group "members", on
// "pcs.catalog.<cluster>._any". Node ids and the cluster name must be valid
// subject tokens (Config.Validate checks node ids).
type NATSForwarder struct {
	nc     *nats.Conn
	prefix string
	// MaxConcurrent bounds the handlers running at once (default 256);
	// further requests wait in the subscription's pending buffer. Set it
	// before Listen.
	MaxConcurrent int
}

// NewNATSForwarder returns a Forwarder on nc for the named cluster (a subject
// token, e.g. "pcs"). The name must be unique per Raft group among everything
// sharing the NATS account: a joining node reaches "any member" of the named
// cluster. The caller owns nc and closes it after the Catalog.
func NewNATSForwarder(nc *nats.Conn, cluster string) *NATSForwarder {
	return &NATSForwarder{nc: nc, prefix: "pcs.catalog." + cluster + ".", MaxConcurrent: 256}
}

// Subject returns the subject node `to` listens on (AnyMember: the shared
// one).
func (f *NATSForwarder) Subject(to string) string {
	if to == AnyMember {
		return f.prefix + "_any"
	}
	return f.prefix + to
}

// Listen subscribes nodeID's subject and the AnyMember queue subject; each
// request is handled on its own goroutine (at most MaxConcurrent at once).
func (f *NATSForwarder) Listen(nodeID string, h Handler) (func() error, error) {
	ctx, cancel := context.WithCancel(context.Background())
	limit := f.MaxConcurrent
	if limit <= 0 {
		limit = 256
	}
	sem := make(chan struct{}, limit)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		stopped bool
	)
	handle := func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		wg.Add(1)
		mu.Unlock()
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Done()
			return
		}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = m.Respond(h(ctx, m.Data))
		}()
	}
	own, err := f.nc.Subscribe(f.Subject(nodeID), handle)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("catalog: subscribe %s: %w", f.Subject(nodeID), err)
	}
	anySub, err := f.nc.QueueSubscribe(f.Subject(AnyMember), "members", handle)
	if err != nil {
		_ = own.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("catalog: subscribe %s: %w", f.Subject(AnyMember), err)
	}
	if err := f.nc.Flush(); err != nil {
		_ = own.Unsubscribe()
		_ = anySub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("catalog: subscribe: %w", err)
	}
	return func() error {
		err := errors.Join(own.Unsubscribe(), anySub.Unsubscribe())
		mu.Lock()
		stopped = true
		mu.Unlock()
		cancel()
		wg.Wait()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil
		}
		return err
	}, nil
}

// Request sends req with nc.RequestWithContext. With nobody listening on the
// subject it returns an error wrapping ErrNotDelivered.
func (f *NATSForwarder) Request(ctx context.Context, to string, req []byte) ([]byte, error) {
	m, err := f.nc.RequestWithContext(ctx, f.Subject(to), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotDelivered, f.Subject(to), err)
	}
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// validToken reports whether s can be one token of a NATS subject.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ". \t\r\n*>")
}

// The forwarding protocol: a JSON request and reply.

const (
	opApply = "apply"
	opJoin  = "join"
	opLeave = "leave"
)

type fwdRequest struct {
	Op       string    `json:"op"`
	Commands []Command `json:"commands,omitempty"`
	Node     *NodeInfo `json:"node,omitempty"`
	// Hops counts forwards between members (a join or leave received by a
	// follower goes one hop to the leader, never more).
	Hops int `json:"hops,omitempty"`
	// Rejoin marks a join from a node that finds itself outside the
	// cluster (healLoop): the leader adds it as a non-voter, promoted once
	// it heartbeats (reconcile).
	Rejoin bool `json:"rejoin,omitempty"`
}

// Reply codes.
const (
	codeOK        = ""
	codeRetry     = "retry"   // not the leader, no leader, leadership lost: retry
	codeInvalid   = "invalid" // permanent: the request is wrong
	codeUnknown   = "unknown" // the outcome is unknown (leadership lost mid-commit): retry
	codeMemberErr = "membership"
)

type fwdReply struct {
	Results []Result `json:"results,omitempty"`
	Code    string   `json:"code,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func encodeReply(r fwdReply) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(fwdReply{Code: codeInvalid, Error: err.Error()})
	}
	return b
}

// replyErr turns a reply's code back into an error of this package.
func replyErr(r fwdReply) error {
	switch r.Code {
	case codeOK:
		return nil
	case codeRetry:
		return fmt.Errorf("%w: %s", ErrNotLeader, r.Error)
	case codeUnknown:
		return fmt.Errorf("%w: %s", ErrUnknownOutcome, r.Error)
	case codeInvalid:
		return fmt.Errorf("%w: %s", ErrInvalidCommand, r.Error)
	case codeMemberErr:
		return fmt.Errorf("%w: %s", ErrMembership, r.Error)
	default:
		return fmt.Errorf("%w: reply code %q: %s", ErrCorrupt, r.Code, r.Error)
	}
}
