package node_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/plan"
)

// readyz returns /readyz's status code and body.
func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// seriesValue returns the value of one series in a /metrics text (-1 if
// absent).
func seriesValue(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestReadyzFollowsTheBroker: /readyz answers 503 while the broker is
// down and 200 again once the node has reconnected; the disconnect and
// the reconnect are counted (pcs_broker_connection_events_total) and
// pcs_broker_connected follows. The fault campaign saw 200 throughout.
func TestReadyzFollowsTheBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	bcfg := broker.DefaultConfig()
	bcfg.StoreDir, bcfg.Listen, bcfg.Port = t.TempDir(), true, port
	ctx := context.Background()
	b, err := broker.Start(ctx, bcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(ctx) })
	cfg := fleetConfig(t, b.ClientURL(), 0)
	cfg.Node.DrainTimeout = plan.Duration(time.Second)
	n := startNode(t, cfg, registry(nil))
	waitFor(t, func() bool { code, _ := readyz(t, n.HTTPAddr()); return code == http.StatusOK })
	m := scrape(t, n.HTTPAddr())
	if seriesValue(m, "pcs_broker_connected") != 1 || seriesValue(m, `pcs_broker_connection_events_total{event="disconnected"}`) != 0 {
		t.Fatalf("connected node's metrics:\n%s", m)
	}

	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { code, _ := readyz(t, n.HTTPAddr()); return code == http.StatusServiceUnavailable })
	if _, body := readyz(t, n.HTTPAddr()); !strings.Contains(body, "broker") {
		t.Errorf("/readyz body %q does not name the broker", body)
	}
	m = scrape(t, n.HTTPAddr())
	if seriesValue(m, "pcs_broker_connected") != 0 || seriesValue(m, `pcs_broker_connection_events_total{event="disconnected"}`) != 1 {
		t.Errorf("after the broker stopped: connected %v, disconnected %v", seriesValue(m, "pcs_broker_connected"),
			seriesValue(m, `pcs_broker_connection_events_total{event="disconnected"}`))
	}

	b2, err := broker.Start(ctx, bcfg) // same port, same store
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b2.Shutdown(ctx) })
	waitFor(t, func() bool { code, _ := readyz(t, n.HTTPAddr()); return code == http.StatusOK })
	m = scrape(t, n.HTTPAddr())
	if seriesValue(m, "pcs_broker_connected") != 1 || seriesValue(m, `pcs_broker_connection_events_total{event="reconnected"}`) != 1 {
		t.Errorf("after the broker came back: connected %v, reconnected %v", seriesValue(m, "pcs_broker_connected"),
			seriesValue(m, `pcs_broker_connection_events_total{event="reconnected"}`))
	}
}

// TestReadyzWithoutCatalogLeader: a node whose catalog has lost its
// quorum (two of three catalogs stopped) answers 503 naming the catalog;
// the fault campaign saw 200 through a quorum loss.
func TestReadyzWithoutCatalogLeader(t *testing.T) {
	b := standalone(t)
	nodes := startFleet(t, 3, func(i int) node.Config {
		cfg := fleetConfig(t, b.ClientURL(), i)
		cfg.Node.DrainTimeout = plan.Duration(time.Second)
		return cfg
	}, registry(nil))
	waitFor(t, func() bool { code, _ := readyz(t, nodes[0].HTTPAddr()); return code == http.StatusOK })
	for _, n := range nodes[1:] {
		if err := n.Catalog().Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { code, _ := readyz(t, nodes[0].HTTPAddr()); return code == http.StatusServiceUnavailable })
	if _, body := readyz(t, nodes[0].HTTPAddr()); !strings.Contains(body, "catalog has no leader") {
		t.Errorf("/readyz body %q", body)
	}
}

// TestNodeRemovedRejoinsOrExits: a follower removed from the catalog's
// Raft configuration while running (as the leader's dead-node loop does)
// comes back by itself, as a voter again, and is ready; a leader whose
// own removal shut its Raft down (nothing can bring that Raft back) stops
// by itself: Run returns an error wrapping catalog.ErrRemoved that says to
// restart it, which pcs-node prints before exiting 1 for its supervisor.
// Before, the follower stayed outside the configuration (no leader, no
// heartbeats recorded) and the leader ran on with a dead catalog.
func TestNodeRemovedRejoinsOrExits(t *testing.T) {
	b := standalone(t)
	nodes := startFleet(t, 3, func(i int) node.Config {
		cfg := fleetConfig(t, b.ClientURL(), i)
		cfg.Node.DrainTimeout = plan.Duration(time.Second)
		return cfg
	}, registry(nil))
	leaderOf := func() *running {
		var leader *running
		waitFor(t, func() bool {
			for _, n := range nodes {
				if n.Catalog().IsLeader() {
					leader = n
				}
			}
			return leader != nil
		})
		return leader
	}
	leader := leaderOf()
	var victim *running
	for _, n := range nodes {
		if n != leader {
			victim = n
		}
	}
	id := victim.Catalog().NodeID()
	if err := leader.Catalog().Raft().RemoveServer(raft.ServerID(id), 0, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, func() bool {
		for _, s := range leader.Catalog().Status().Servers {
			if s.ID == id && s.Suffrage == "Voter" {
				return true
			}
		}
		return false
	})
	waitFor(t, func() bool { code, _ := readyz(t, victim.HTTPAddr()); return code == http.StatusOK })
	t.Logf("removed follower %s back as a voter after %s", id, time.Since(start).Round(time.Millisecond))

	leader = leaderOf()
	if err := leader.Catalog().Raft().RemoveServer(raft.ServerID(leader.Catalog().NodeID()), 0, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-leader.done:
		leader.done <- nil // for the cleanup's stop
		if !errors.Is(err, catalog.ErrRemoved) || !strings.Contains(err.Error(), "restart") {
			t.Fatalf("Run returned %v, want catalog.ErrRemoved saying to restart", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the leader whose Raft shut down kept running")
	}
}
