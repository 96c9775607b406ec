// Package transporttest is a conformance suite for transports.Source
// and transports.Sink implementations, in the manner of
// testing/fstest.TestFS and watermill's pubsub/tests: a transport's test
// describes how to write to and read from one place (a Harness) and what
// it supports (Capabilities), and Run checks the contract of package
// transports against it:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, transporttest.Harness{
//			Open: func(t *testing.T, mem memory.Allocator) transporttest.Endpoint {
//				path := filepath.Join(t.TempDir(), "data.arrow")
//				return transporttest.Endpoint{
//					NewSink: func(sc *arrow.Schema) (transports.Sink, error) {
//						return arrowfile.NewSink(path, sc, arrowfile.WithAllocator(mem))
//					},
//					NewSource: func(*arrow.Schema) (transports.Source, error) {
//						return arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
//					},
//				}
//			},
//			Caps: transporttest.Capabilities{Types: transporttest.AllTypes(), CloseIdempotent: true},
//		})
//	}
//
// Run documents the sub-tests. Round trips cover every type the
// transport declares (integers of every width, floats with infinities,
// strings with commas, quotes and newlines, binary, timestamps of every
// unit with and without zones, dates, times, decimals, lists, structs),
// with nulls in every column. The other sub-tests cover empty batches,
// schema mismatches, a batch above 64 MiB, cancellation, Flush, io.EOF
// after the end and Close.
//
// Sources with delivery semantics (transports.Acker, such as a JetStream
// consumer) also run the Acker sub-tests, modelled on watermill's
// TestResendOnError and TestNoAck: acked batches are not delivered
// again, batches given back with Nak (Nacker) are delivered again at
// once, and batches read and not acked are delivered again after the
// ack wait (Capabilities.AckWait). The harness gives them a Source over
// one shared delivery state (Endpoint.NewAckSource). Transports whose
// Sources are not Ackers (memory, files) skip them.
//
// Every sub-test uses a memory.CheckedAllocator, which also holds every
// batch the suite builds: a Sink that keeps a reference it should have
// released, or a Source that leaks a buffer of the allocator it was
// given, fails the sub-test.
//
// A transport with a known failure lists the sub-test in Harness.Skip
// with a reason naming the problem, so the rest of the suite still runs.
//
// The suite runs against every transport of PCS: memory, csv and jsonl
// in their own tests, parquet, arrowfile and natsjs (over an in-process
// JetStream server, Acker sub-tests included) in this package's tests.
package transporttest
