// Package local is `pcs run`: the pipelines of a config file run
// file-in/file-out on one machine with no broker. Every batch of
// input.files (Parquet, Arrow, CSV, JSONL: package transports/files)
// becomes one partition of the same plan.Plan a pcs-node builds from the
// same section, and its output rows go to output.file (late rows of a
// window to output.late_file), renamed into place only when complete.
package local
