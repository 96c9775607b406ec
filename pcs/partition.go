package pcs

// PartitionID is a resource naming the input partition a dataset was
// built from: pcs-node inserts the partition's id (the Pcs-Partition-Id
// header, or stream/sequence), `pcs run` inserts "<file>#<batch>". It is
// the same on every redelivery of a partition, so a stateful system can
// tell a replay of work it already saw from new input (see ops.Dedupe
// across partitions). Read it with GetResource[PartitionID]; a dataset
// built by hand has none unless inserted.
type PartitionID string
