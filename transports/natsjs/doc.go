// Package natsjs carries record batches over NATS JetStream subjects. It
// holds PCS's wire contract in one place (the partition format, header
// names, ids, stream and subject names, dead-letter messages, the
// end-of-input watermark), publishes partitions (Publisher, a
// transports.Sink), and is the one JetStream consumer of PCS (Consumer,
// Ordered, and Source, a transports.Source and transports.Acker), used by
// the node's delivery loop, fleet-window shard owners and pcs consume.
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
// "<P>/<X>/<k>" (OutputID). A fleet window's shard s publishes what the
// partials at stream sequence q fired as "<P>/w<s>/<q>/<k>"
// (WindowOutputID), and a dead letter is "<P>/<X>/dlq". Ids may not
// contain commas, whitespace or control characters (ValidateID).
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
// # Streams and subjects
//
// A pipeline P reads its input stream (InputStream(P) = "PCS_<NAME>_IN"
// unless configured, NAME being P upper-cased with '-' and '.' as '_')
// and publishes to its output stream (OutputStream(P) =
// "PCS_<NAME>_OUT"). Next to its input stream IN a node provisions:
//
//	| subject          | built by              | its stream    | built by           | carries                      |
//	|------------------|-----------------------|---------------|--------------------|------------------------------|
//	| <P>.dlq          | DLQSubject(P)         | <IN>_DLQ      | DLQStream(IN)      | dead letters                 |
//	| <P>.late         | LateSubject(P)        | <IN>_LATE     | LateStream(IN)     | rows later than their window |
//	| <P>.partials.<s> | PartialsSubject(P, s) | <IN>_PARTIALS | PartialsStream(IN) | fleet-window shard s         |
//
// (PartialsSubjects(P) is the wildcard "<P>.partials.>" of every shard
// s of a fleet window.)
//
// # Dead letters
//
// A partition that can never be processed (ReasonCorrupt, ReasonSchema,
// ReasonPermanent) or failed its last allowed delivery
// (ReasonMaxDeliver) is published to DLQSubject(P) with its original
// body and headers plus Pcs-Error (the error text, at most 1 KiB),
// Pcs-Error-Reason, Pcs-Deliveries, Pcs-Node, Pcs-Source-Stream and
// Pcs-Source-Seq, under the id "<P>/<key>/dlq" (see Partition.Key), and
// then terminated. DeadLetter builds that message.
//
// # End of input
//
// A producer whose input has ended publishes a last, empty partition
// whose Pcs-Watermark is EndOfInput (9999-01-01T00:00:00Z): every window
// of a window pipeline then fires. Readers treat any watermark at or
// after EndOfInput as the end (IsEndOfInput, Meta.IsEndOfInput), so
// 9999-12-31, which earlier producers wrote, means the same.
//
// # Consuming
//
// Consumer wraps a jetstream.Consumer created by the caller and the
// JetStream context that resolves claim checks. Consumer.Fetch pulls
// with a byte bound (default 16 MiB): pulling large messages without
// one makes the server disconnect the client as a slow consumer. It
// waits for the first partition with a one-message pull and then takes
// what else is pending with a second, short pull, so it never waits a
// whole max-wait for a short last batch the way a plain jetstream
// Fetch(n) does. A Partition decodes itself (following the claim
// check), and acks (double ack), naks with a delay, terms with a reason
// or extends the ack wait of its message; KeepAlive sends InProgress
// from a goroutine while the partition is worked on.
//
// A reader that holds partitions until their outcome is durable (pcs
// consume until its output file is complete, a node until a checkpoint
// covers them) keeps their AckHandles (Partition.Handle) in an AckSet,
// not the partitions: a handle does not keep the message body. AckSet
// acks, naks and keeps alive (one goroutine) everything it holds.
//
// Ordered reads one subject of a stream in stream order from a start
// sequence, without acks (a fleet-window shard owner replaying its
// partials from its checkpoint); Next takes a ctx whose deadline lets the
// caller checkpoint between messages.
//
// Source reads a consumer as record batches (Read) or partition by
// partition (Next) until nothing is pending, or follows it; it holds
// what was read and acks it on Ack (transports.Acker).
//
// Fetch (the function) and NewPartition predate Consumer and stay until
// their callers have moved; new code uses Consumer, Ordered or Source.
//
// # Arrow ownership
//
// Encode, Publish, PublishAsync and Write only read the batches they are
// given; the caller keeps them and releases them. Decode, Partition.Decode,
// Source.Read and Source.Next return batches owned by the caller, who
// releases them; they do not reference the message body.
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
