// Package broker runs an embedded NATS server with JetStream inside a PCS
// process and provisions the streams, consumers and object-store buckets a
// deployment needs.
//
// # Running a broker
//
// Start launches nats-server in-process on a store directory and returns once
// it accepts connections with JetStream enabled; Shutdown stops it:
//
//	cfg := broker.DefaultConfig()
//	cfg.StoreDir = "/var/lib/pcs/broker"
//	b, err := broker.Start(ctx, cfg)
//	if err != nil { ... }
//	defer b.Shutdown(context.Background())
//
//	nc, err := b.Connect()          // in-process pipe, no TCP
//	js, err := b.JetStream(nc)
//
// By default no port is opened and only in-process clients (Connect) reach
// the server. Set Config.Listen to serve TCP clients too (other processes,
// the nats CLI); Config.Port = RandomPort picks a free port, which
// Broker.ClientURL reports. The embedded server never installs signal
// handlers and never exits the process; its log lines go to log/slog,
// warnings and errors only by default. Only one broker may use a store
// directory at a time (ErrStoreLocked); nats-server itself does not check.
//
// Tests start a broker with brokertest.Start (a temporary store, shut down
// with the test).
//
// Nothing in PCS assumes the broker is in-process (DESIGN section 9): larger
// deployments point nodes at an external NATS cluster and use only
// Provision from this package.
//
// # Durability
//
// JetStream acknowledges a publish once the message is in the OS page cache
// and fsyncs every two minutes by default. A process crash loses nothing,
// but a power loss can lose acknowledged messages (Jepsen found this in NATS
// 2.12.1). Config.SyncAlways fsyncs every write before the acknowledgement,
// trading publish throughput for durability; see its documentation.
//
// # Provisioning
//
// A Spec declares streams, durable pull consumers and object-store buckets
// with plain Go types (time.Duration, byte counts as int64) and snake_case
// TOML tags, so a configuration layer can decode straight into it. Provision
// is idempotent: it creates what is missing, leaves what matches alone, and
// reports each item as created or unchanged. It never updates or deletes; an
// existing item that differs from the spec in a field the spec sets is an
// error wrapping ErrConflict (a *ConflictError listing the fields), while
// fields the spec leaves at zero and defaults the server filled in are not
// compared. Every node of a fleet can therefore run Provision with the same
// spec at start-up.
//
// Validation (ErrInvalidSpec) enforces PCS's rule that pipeline streams never
// drop data silently (DESIGN section 5): a stream whose discard policy is
// "old" (the NATS default) and that has a max_bytes or max_msgs limit is
// refused unless StreamSpec.AllowDiscardOld is set. The rule covers every
// retention policy, because a work-queue or interest stream with discard old
// also deletes its oldest, not yet consumed messages when full. Use
// discard = "new", so that a full stream refuses publishes (backpressure)
// instead.
//
// Two more ways JetStream drops data by design, which Provision does not
// prevent: an interest-retention stream deletes a message at once when it has
// no consumer at publish time (the publish is still acknowledged), so create
// its consumers before publishing; and max_age expires messages whatever the
// retention and discard policies.
//
// # Limits worth knowing
//
// Config.MaxPayload (1 MiB by default) bounds a whole message, headers
// included. A single server refuses replicas > 1; Provision reports that as
// ErrInvalidSpec before creating anything.
package broker
