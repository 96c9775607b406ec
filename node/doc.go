// Package node is pcs-node: the delivery loop that carries partitions
// from a pipeline's input subjects through its plan (package plan) to
// its sink subject, on an embedded or external NATS JetStream, with the
// fleet's Raft catalog (package node/catalog), checkpoints, fleet windows,
// metrics and the HTTP control plane.
//
// # Delivery protocol (DESIGN section 5)
//
// Per pipeline, one durable pull consumer on the input stream is shared
// by the fleet (each partition goes to one node; explicit ack, AckWait,
// MaxDeliver; MaxAckPending bounds the fleet's in-flight partitions).
// For each partition a node:
//
//  1. fetches it, only while fewer than 2 x max_in_flight partitions are
//     fetched and not done (max_in_flight workers take them in fetch
//     order; the rest wait, so the next pull overlaps the work) and the
//     sink stream is below its high-water mark (backpressure.go);
//  2. acks it without work if the catalog has it as done (a redelivery
//     after a node died between recording and acking);
//  3. decodes it (following a claim check into the object store) and
//     runs the plan's Step on it (plan.Plan: input conformance, the
//     systems with their retry, compaction, the window), sending
//     InProgress every AckWait/3 meanwhile (delivery.go);
//  4. emits the output with the emitter chosen when the pipeline was
//     built (emit.go): results to the sink subject and late rows to
//     <pipeline>.late under deterministic ids <pipeline>/<input id>/<k>,
//     or, for fleet windows, partial aggregates to the shard subjects;
//     it waits for every publish ack;
//  5. settles it (settle.go): records it done in the catalog and acks it
//     (double ack) at once, or, when the plan has state, holds the ack
//     until a checkpoint that covers the partition is committed
//     (checkpoint.go).
//
// Failures (failures.go): a retryable one naks the partition with a delay
// doubling per delivery (capped at 30 s); on its last allowed delivery
// (max_deliver), or when the failure is permanent (an undecodable
// partition: reason corrupt; columns that do not fit the input component:
// schema; a system's permanent error or a window error: permanent), the
// original message goes to <pipeline>.dlq with the Pcs-Error* headers and
// is terminated. If the dead-letter publish fails the partition is nak'ed
// instead: nothing is dropped. When a failure follows a change of the
// plan's state, the state is rolled back to the last checkpoint and the
// partitions held since are nak'ed, so each counts once.
//
// Shutdown: on SIGTERM a node stops fetching, gives in-flight partitions
// drain_timeout to finish, naks the rest, takes a last checkpoint and
// leaves the catalog.
//
// Fleet windows (shards.go): partial aggregates are routed by key hash to
// shard subjects; each shard has one owner, assigned by the catalog's
// leader, that merges them in stream order, fires windows, publishes the
// results and checkpoints its state with the sequence it covers.
package node
