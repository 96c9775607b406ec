package broker

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of them (test with
// errors.Is) and carry the details (which item, which field) in the message.
var (
	// ErrInvalidConfig reports a Config that fails Validate. Start returns it
	// before touching the disk or the network.
	ErrInvalidConfig = errors.New("broker: invalid config")

	// ErrStartFailed reports that the embedded server did not come up: it
	// could not be created, its listener or JetStream failed to start, or it
	// was not ready within Config.ReadyTimeout. The wrapped message carries the
	// server's own reason.
	ErrStartFailed = errors.New("broker: start failed")

	// ErrStoreLocked reports that another Broker (in this process or another
	// one) already runs on the same Config.StoreDir. nats-server itself does not
	// guard against this, and two servers writing one store corrupt it.
	ErrStoreLocked = errors.New("broker: store dir is in use by another broker")

	// ErrClosed is returned by Connect after Shutdown has begun.
	ErrClosed = errors.New("broker: broker is shut down")

	// ErrInvalidSpec reports a Spec that fails validation (Spec.Validate or
	// Provision), or one the server refuses for a reason that lies in the spec
	// (for example replicas > 1 on a single server). The message names the item
	// and the field, using the TOML field names (max_bytes, ack_wait, ...).
	ErrInvalidSpec = errors.New("broker: invalid spec")

	// ErrConflict reports that a stream, consumer or object store already
	// exists with a configuration that differs from the spec in a field the
	// spec sets. Provision never changes or deletes an existing item. The
	// error is a *ConflictError, which names the item and the fields.
	ErrConflict = errors.New("broker: existing item conflicts with spec")
)

// FieldDiff is one field of an existing item that differs from the spec.
type FieldDiff struct {
	// Field is the spec field's TOML name, e.g. "retention" or "ack_wait".
	Field string
	// Spec is the value the spec asks for, formatted for people.
	Spec string
	// Existing is the value the server has, formatted for people.
	Existing string
}

// ConflictError is the error Provision returns when an existing item differs
// from the spec. It unwraps to ErrConflict.
type ConflictError struct {
	// Kind is the kind of the conflicting item.
	Kind Kind
	// Stream is the stream concerned: the stream itself, the stream a consumer
	// belongs to, or the backing stream of an object store ("OBJ_<bucket>").
	Stream string
	// Name is the item's name: the stream name, the consumer's durable name,
	// or the bucket name.
	Name string
	// Diffs lists the differing fields, in spec field order; never empty.
	Diffs []FieldDiff
}

// Error names the item and every differing field with both values.
func (e *ConflictError) Error() string {
	var b strings.Builder
	switch e.Kind {
	case KindConsumer:
		fmt.Fprintf(&b, "broker: consumer %q on stream %q conflicts with the spec: ", e.Name, e.Stream)
	case KindObjectStore:
		fmt.Fprintf(&b, "broker: object store %q (stream %q) conflicts with the spec: ", e.Name, e.Stream)
	default:
		fmt.Fprintf(&b, "broker: stream %q conflicts with the spec: ", e.Name)
	}
	for i, d := range e.Diffs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: spec %s, existing %s", d.Field, d.Spec, d.Existing)
	}
	b.WriteString(" (provisioning never changes existing items; migrate deliberately)")
	return b.String()
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// specErr builds an ErrInvalidSpec error naming the item and the field.
func specErr(item, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field == "" {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, item, msg)
	}
	return fmt.Errorf("%w: %s: %s: %s", ErrInvalidSpec, item, field, msg)
}

// configErr builds an ErrInvalidConfig error naming the field.
func configErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}
