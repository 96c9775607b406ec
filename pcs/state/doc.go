// Package state holds the keyed-state backends of stateful systems
// (pcs.StateBackend): [Memory], the default, and the snapshot format
// every backend writes and reads ([SnapshotWriter], [ReadSnapshot]), so
// that a snapshot of one backend restores into another. The disk-backed
// backend on Pebble is in pcs/state/pebblestate; pcs/state/statetest is
// the behaviour suite every backend passes.
//
// # Snapshot format
//
// A snapshot is the magic "PCSSTAT1", then one entry per key in strictly
// ascending key order (a byte 1, uvarint key length, key, uvarint value
// length, value), then a byte 0, the uvarint number of entries, and the
// CRC-32C (Castagnoli) of every byte before it, 4 bytes big-endian.
package state
