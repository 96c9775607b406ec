// Package natsjs carries record batches over NATS JetStream subjects: it
// defines PCS's partition wire format, publishes partitions (Publisher,
// a transports.Sink), and fetches and decodes them (Fetch, Partition,
// and Source, a transports.Source and transports.Acker).
//
// # Partitions
//
// A partition is one message on a subject. Its body is an Arrow IPC
// stream (schema, one or more record batches, end-of-stream marker),
// optionally with the IPC format's own buffer compression (LZ4 frame or
// zstd), so any Arrow reader decodes it: pyarrow.ipc.open_stream,
// apache-arrow's tableFromIPC, DuckDB, arrow-go's ipc.NewReader. The
// columns are plain user columns: there is no PCS framing inside.
// Encode and Decode convert between batches and bodies. Small
// partitions are never compressed (EncodeOptions.CompressMinBytes):
// setting up a zstd encoder costs about 0.6 ms.
//
// # Headers
//
// Header names are part of PCS's public contract; NATS headers are
// case-sensitive. Meta holds them; Meta.Header and ParseMeta convert.
//
//	| header          | constant         | value                                                        |
//	|-----------------|------------------|--------------------------------------------------------------|
//	| Nats-Msg-Id     | HeaderMsgID      | partition id; JetStream deduplicates on it                   |
//	| Pcs-Rows        | HeaderRows       | row count, decimal                                           |
//	| Pcs-Schema      | HeaderSchema     | schema fingerprint: 32 hex digits, see Fingerprint           |
//	| Pcs-Event-Min   | HeaderEventMin   | smallest event time, RFC 3339 with nanoseconds, UTC          |
//	| Pcs-Event-Max   | HeaderEventMax   | largest event time, same format                              |
//	| Pcs-Watermark   | HeaderWatermark  | producer's watermark after this partition, same format       |
//	| Pcs-Object      | HeaderObject     | claim check: "<bucket>/<name> SHA-256=<base64url> <size>"   |
//	| Pcs-Lineage     | HeaderLineage    | comma-separated ids of the input partitions                  |
//
// Times are written as RFC 3339 strings (time.RFC3339Nano, UTC, e.g.
// "2026-11-03T08:00:00.5Z") rather than integers, so that they are
// unambiguous to read in nats CLI output and in any language.
//
// The schema fingerprint is the hex of the first 16 bytes of the SHA-256
// of CanonicalSchema: field names, types with their parameters, and
// nullability, recursively; metadata is not part of it.
//
// # Ids
//
// Ids are deterministic so that a replay republishes the same ids and
// JetStream's duplicate window (plus PCS's catalog beyond it) hides the
// duplicates: a producer's partition is "<source-id>/<seq>"
// (PartitionID; Publisher.Write numbers from WithStartSeq, default 1),
// and output k of pipeline P computed from input partition X is
// "<P>/<X>/<k>" (OutputID). Ids may not contain commas, whitespace or
// control characters (ValidateID).
//
// # Claim check
//
// A message may not exceed the server's max_payload (1 MiB by default),
// headers included, and JetStream is not meant for messages above a few
// MiB. When headers plus body exceed the inline limit (WithInlineLimit,
// default 1 MiB, capped by the connection's max payload), the Publisher
// stores the body in a JetStream object store bucket (WithObjectBucket,
// default "pcs-objects", created if missing) under the name
// "<id>@<16 hex digits of its SHA-256>" in 1 MiB chunks, and publishes
// the message with Pcs-Object and an empty body. The digest is in the
// object store's own format, "SHA-256=" plus padded base64url. Partition.Decode
// and FetchObject fetch the object, check its size and digest, and report
// a mismatch or a missing object as ErrCorrupt. Because the name includes
// the digest, a replay that encodes different bytes under the same id
// never overwrites the object an already stored message points to, and a
// replay of the same bytes reuses the object. Objects are not deleted
// when partitions are acked: give the bucket a TTL longer than the
// longest time a partition may wait.
//
// # Publishing
//
// Publisher publishes asynchronously with at most WithMaxInFlight
// (default 32) unacknowledged partitions, and checks every ack: more than
// about 64 async 1 MiB publishes in flight overflow a stream's ingest
// queue, which then answers 429 "too many requests", visible only in the
// acks. Transient failures (429, 503, ack timeout, disconnect) are retried
// with exponential backoff under the same Nats-Msg-Id; PubAck.Duplicate
// on a retry or replay is expected. Flush waits for every ack and returns
// the first failure.
//
// # Consuming
//
// Fetch pulls with a byte bound (default 16 MiB): pulling large messages
// without one makes the server disconnect the client as a slow consumer.
// It waits for the first partition with a one-message pull and then takes
// what else is pending with a second, short pull, so it never waits a
// whole max-wait for a short last batch the way Fetch(n) does. Partition
// decodes (following the claim check) and acks (double ack), naks, terms
// or extends the ack wait of one message.
//
// # Arrow ownership
//
// Encode, Publish, PublishAsync and Write only read the batches they are
// given; the caller keeps them and releases them. Decode, Partition.Decode
// and Source.Read return batches owned by the caller, who releases them;
// they do not reference the message body.
//
// # Errors
//
// ErrCorrupt marks what redelivery cannot fix (undecodable body, headers
// that contradict the body, missing or tampered claim-check object); the
// node dead-letters and terminates such partitions. Decode recovers
// panics raised by arrow-go on malformed input into ErrCorrupt, and
// verifies the IPC metadata itself where arrow-go v18.8.0 would allocate
// unbounded memory or recurse without end (FuzzDecode exercises this).
package natsjs
