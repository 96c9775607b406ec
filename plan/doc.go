// Package plan turns a [[pipeline]] section of a config file into a
// runnable step, the same for `pcs run` (package local) and pcs-node
// (package node):
//
//   - config types (Pipeline and its sections, Duration, Size, strict
//     TOML decoding with ${VAR:-default} expansion: DecodeStrict,
//     LoadFile);
//   - the Registry of names a config may use (components, systems,
//     resources), filled by Go programs next to the built-ins
//     (RegisterBuiltins, DefaultRegistry: filter, derive, lookup, dedupe,
//     project, rename, cast, totals, window and the table resource);
//   - Build, which resolves a Pipeline against a Registry into a Plan,
//     and Plan.Step, which runs one partition: its batches are conformed
//     to the input component (columns matched by name and cast), the
//     systems run in their stages (package pcs), the dataset is compacted,
//     the output columns are taken and, when the pipeline ends with the
//     window system, fed to the event-time window operator (package
//     pcs/window) or split into partial aggregates by shard (fleet
//     windows). Plan.States exposes the state to checkpoint.
//
// A plan knows nothing of NATS or of files other than table resources:
// where partitions come from and where outputs go is its caller's
// business.
package plan
