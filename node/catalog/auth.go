package catalog

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MinKeyBytes is the shortest fleet key Authenticated accepts (32 bytes,
// the HMAC-SHA256 block of security).
const MinKeyBytes = 32

// MaxClockSkew bounds how old (or how far in the future) an authenticated
// request or reply may be; older ones are rejected as replays.
const MaxClockSkew = 2 * time.Minute

// authMagic starts every authenticated message: then an 8-byte Unix time
// in nanoseconds (big endian), a 32-byte HMAC-SHA256 of the time and the
// body under the fleet key, and the body.
const authMagic = "PCSA1"

const authHeader = len(authMagic) + 8 + sha256.Size

// ErrUnauthenticated: a catalog request or reply without a valid MAC under
// the fleet key (forged, tampered, replayed, or from a node with another
// key).
var ErrUnauthenticated = errors.New("catalog: unauthenticated")

// Authenticated wraps f so that only holders of the fleet key (the
// members: [catalog] key_file) can change the catalog: every request and
// reply carries an HMAC-SHA256 of its body and send time under key;
// requests that fail the check (no MAC, a wrong one, older than
// MaxClockSkew, or a MAC seen before: a replay) never reach the catalog's
// handler, and rejected is called with the reason (the node logs and
// counts it). The requester gets a reply it cannot authenticate, so a
// member with a wrong key fails with ErrUnauthenticated rather than hangs.
// This complements NATS subject permissions (only members may publish on
// the catalog's subjects), which a broker without authorization lacks.
// key must have at least MinKeyBytes bytes.
func Authenticated(f Forwarder, key []byte, rejected func(reason string)) (Forwarder, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("%w: fleet key of %d bytes, want at least %d", ErrInvalidConfig, len(key), MinKeyBytes)
	}
	if rejected == nil {
		rejected = func(string) {}
	}
	return &authForwarder{f: f, key: bytes.Clone(key), rejected: rejected, seen: map[[sha256.Size]byte]time.Time{}}, nil
}

type authForwarder struct {
	f        Forwarder
	key      []byte
	rejected func(reason string)

	mu     sync.Mutex
	seen   map[[sha256.Size]byte]time.Time // MACs of requests accepted within 2*MaxClockSkew
	pruned time.Time
}

func (a *authForwarder) Listen(nodeID string, h Handler) (func() error, error) {
	return a.f.Listen(nodeID, func(ctx context.Context, req []byte) []byte {
		body, err := a.open(req, nil)
		if err != nil {
			a.rejected(err.Error())
			return []byte(err.Error()) // not sealed: the sender cannot take it for an answer
		}
		return a.seal(h(ctx, body), macOf(req)) // bound to the request: no replayed reply answers another
	})
}

func (a *authForwarder) Request(ctx context.Context, to string, req []byte) ([]byte, error) {
	sealed := a.seal(req, nil)
	reply, err := a.f.Request(ctx, to, sealed)
	if err != nil {
		return nil, err
	}
	body, err := a.open(reply, macOf(sealed))
	if err != nil {
		return nil, fmt.Errorf("reply from %q: %w (%q)", to, err, cut(reply, 200))
	}
	return body, nil
}

// seal prefixes body with the magic, the time and the MAC of the time,
// bind (a reply's request MAC; nil for a request) and the body.
func (a *authForwarder) seal(body, bind []byte) []byte {
	out := make([]byte, authHeader, authHeader+len(body))
	copy(out, authMagic)
	binary.BigEndian.PutUint64(out[len(authMagic):], uint64(time.Now().UnixNano()))
	copy(out[len(authMagic)+8:], a.mac(out[len(authMagic):len(authMagic)+8], bind, body))
	return append(out, body...)
}

func (a *authForwarder) mac(ts, bind, body []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(ts)
	m.Write(bind)
	m.Write(body)
	return m.Sum(nil)
}

// macOf returns the MAC of a sealed message (nil if it is too short).
func macOf(msg []byte) []byte {
	if len(msg) < authHeader {
		return nil
	}
	return msg[len(authMagic)+8 : authHeader]
}

// open checks msg's MAC (over bind: a reply's request MAC, nil for a
// request) and age, and for a request that its MAC was not seen before,
// and returns its body.
func (a *authForwarder) open(msg, bind []byte) ([]byte, error) {
	if len(msg) < authHeader || string(msg[:len(authMagic)]) != authMagic {
		return nil, fmt.Errorf("%w: no signature", ErrUnauthenticated)
	}
	ts := msg[len(authMagic) : len(authMagic)+8]
	sum := msg[len(authMagic)+8 : authHeader]
	body := msg[authHeader:]
	if !hmac.Equal(sum, a.mac(ts, bind, body)) {
		return nil, fmt.Errorf("%w: bad signature (not signed with the fleet key)", ErrUnauthenticated)
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(ts)))
	if age := time.Since(at); age > MaxClockSkew || age < -MaxClockSkew {
		return nil, fmt.Errorf("%w: sent at %s, more than %v from this node's clock", ErrUnauthenticated, at.UTC().Format(time.RFC3339), MaxClockSkew)
	}
	if bind == nil { // a request: each is accepted once
		var key [sha256.Size]byte
		copy(key[:], sum)
		a.mu.Lock()
		defer a.mu.Unlock()
		now := time.Now()
		if now.Sub(a.pruned) > time.Second { // forget what is too old to replay
			for k, t := range a.seen {
				if now.Sub(t) > 2*MaxClockSkew {
					delete(a.seen, k)
				}
			}
			a.pruned = now
		}
		if _, dup := a.seen[key]; dup {
			return nil, fmt.Errorf("%w: replayed request", ErrUnauthenticated)
		}
		a.seen[key] = now
	}
	return body, nil
}

func cut(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
