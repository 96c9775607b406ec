// Package brokertest starts the embedded broker for tests: one call gives a
// real nats-server with JetStream, on a temporary store, shut down when the
// test ends.
//
//	b := brokertest.Start(t)         // in-process only, no port
//	js := brokertest.JetStream(t, b) // on a connection closed with t
//
//	b := brokertest.Start(t, brokertest.WithListener()) // TCP on a random loopback port too
//	url := b.ClientURL()                                // for child processes
//
// It is a real broker (broker.Start), not a double: tests that use it test
// against JetStream itself. Options cover what tests need (a TCP listener,
// a larger max payload, a logger, raw server options); an Option is a plain
// func(*broker.Config), so a test can also change any Config field
// directly. The server's warnings and errors go to the test's log (t.Log)
// unless WithLogger says otherwise.
//
// The package cannot be used by the broker package's own internal tests
// (it imports broker); they start brokers with broker.Start, which is what
// they test.
package brokertest
