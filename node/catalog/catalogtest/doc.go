// Package catalogtest runs catalog clusters inside one test: n Catalogs on
// real Raft (raft-wal on disk in t.TempDir, raft.InmemTransport or loopback
// TCP) that forward to each other over a catalog.MemoryNetwork (or over
// Forwarders the test supplies, such as NATSForwarders on a brokertest
// broker), with partitions, restarts and convergence checks.
//
//	cl := catalogtest.Start(t, 3) // n1 bootstraps, n2 and n3 join; all shut down with t
//	leader := cl.Leader(t)
//	err := cl.Node(1).RecordPartitions(ctx, rec) // forwarded if n2 follows
//	cl.Isolate(t, 0)                             // cut n1 off: Raft and forwarding
//	cl.Heal(0)
//	catalogtest.Converged(t, cl.Nodes()...)
//	cl.Restart(t, 2) // shut n3 down and open it again on its state
//
// Config gives the fast test settings for a single catalog opened with
// Open. The package cannot serve the catalog package's internal tests (it
// imports catalog): tests of clusters live in package catalog_test.
package catalogtest
