// Package memory is an in-memory transport: a [Source] that yields
// record batches given to it, and a [Sink] that collects the batches
// written to it. Neither copies data: both retain the batches they keep.
// They are meant for tests and for wiring pipelines inside one process
// (a pipeline's output Sink read back as the next one's Source).
//
// # Ownership
//
// [NewSource] retains every batch it is given (the caller still releases
// its own references). [Source.Read] returns each batch retained once
// more for the caller, who releases it; the source's own references are
// dropped by [Source.Close].
//
// [Sink.Write] retains the batch it is given (the caller still releases
// its own). The sink keeps its references after Close, so that what was
// written can be inspected: [Sink.Batches] returns the batches retained
// for the caller, and [Sink.Release] drops the sink's references. With a
// memory.CheckedAllocator, call Release before AssertSize.
//
// Both types are used from one goroutine at a time, like every
// transports.Source and transports.Sink; Sink's inspection methods
// (Batches, Rows, Schema) may be called from any goroutine.
package memory
