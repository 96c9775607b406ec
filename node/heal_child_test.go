package node

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// healTOML is one node of the heal tests: a catalog that removes a node
// silent for 2 s, a trivial pipeline.
const healTOML = `
[node]
id = "${PCS_TEST_ID}"
http = "${PCS_TEST_HTTP}"
drain_timeout = "${PCS_TEST_DRAIN:-2s}"
[broker]
url = "${PCS_TEST_URL}"
[catalog]
dir = "${PCS_TEST_DIR}"
bind = "127.0.0.1:0"
bootstrap = ${PCS_TEST_BOOTSTRAP}
election_timeout = "300ms"
heartbeat_interval = "200ms"
dead_node_timeout = "2s"
[[pipeline]]
name = "h"
input = { subjects = ["in.h"], component = "r" }
output = { subject = "out.h" }
[[pipeline.component]]
name = "r"
fields = ["v: int64"]
[[pipeline.system]]
use = "filter"
options = { component = "r", expression = "v >= 0" }
`

// TestHealChild is one node of the heal tests.
func TestHealChild(t *testing.T) { runChildNode(t, healTOML) }

// healNode is a node process of the heal tests.
type healNode struct {
	id, http string
	cmd      *exec.Cmd
	log      *syncBuffer
	done     chan struct{} // closed when the process has exited (at exitAt)
	exitAt   time.Time
}

// startHealFleet starts three node processes on a listening broker, n1
// bootstrapping the catalog, and waits until each knows a leader and the
// catalog has three voters.
func startHealFleet(t *testing.T, env ...string) []*healNode {
	t.Helper()
	b, _ := listeningBroker(t)
	var nodes []*healNode
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		h := &healNode{id: fmt.Sprintf("n%d", i+1), http: addr, done: make(chan struct{})}
		h.cmd, h.log = startChild(t, "TestHealChild", append([]string{"PCS_TEST_URL=" + b.ClientURL(), "PCS_TEST_ID=" + h.id,
			"PCS_TEST_HTTP=" + addr, "PCS_TEST_DIR=" + t.TempDir(), fmt.Sprintf("PCS_TEST_BOOTSTRAP=%v", i == 0)}, env...)...)
		go func() { _ = h.cmd.Wait(); h.exitAt = time.Now(); close(h.done) }()
		// Before startChild's cleanup (last in, first out): its Wait must
		// not race this one.
		t.Cleanup(func() { _ = h.cmd.Process.Kill(); <-h.done })
		nodes = append(nodes, h)
		waitChild(t, h.id+" up", 60*time.Second, func() bool { st, err := h.status(); return err == nil && st.Catalog != nil && st.Catalog.Leader != "" }, h)
	}
	waitChild(t, "three voters and a leader on every node", 30*time.Second, func() bool {
		for _, h := range nodes {
			st, err := h.status()
			if err != nil || st.Catalog == nil || st.Catalog.Leader == "" || len(st.Catalog.Voters()) != 3 {
				return false
			}
		}
		return true
	}, nodes...)
	return nodes
}

func (h *healNode) status() (Status, error) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + h.http + "/v1/status")
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	var st Status
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitChild polls cond every 50 ms for up to d, printing the nodes' logs
// when it fails t.
func waitChild(t *testing.T, what string, d time.Duration, cond func() bool, logs ...*healNode) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	for _, h := range logs {
		t.Logf("%s log:\n%s", h.id, h.log.String())
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// TestPausedNodeRejoins: a node process stopped with SIGSTOP for longer
// than dead_node_timeout is removed from the catalog by the leader; after
// SIGCONT it re-joins by itself (a non-voter, then promoted) and knows
// the leader again. Before, it stayed a Candidate outside the
// configuration until restarted.
func TestPausedNodeRejoins(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node processes")
	}
	nodes := startHealFleet(t)
	st, err := nodes[0].status()
	if err != nil {
		t.Fatal(err)
	}
	var victim, other *healNode
	for _, h := range nodes {
		switch {
		case h.id == st.Catalog.Leader:
		case victim == nil:
			victim = h
		default:
			other = h
		}
	}
	if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped, pausedAt := true, time.Now()
	defer func() {
		if stopped {
			_ = victim.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	waitChild(t, victim.id+" removed", 30*time.Second, func() bool {
		st, err := other.status()
		if err != nil || st.Catalog == nil || len(st.Catalog.Servers) != 2 {
			return false
		}
		for _, s := range st.Catalog.Servers {
			if s.ID == victim.id {
				return false
			}
		}
		return true
	}, other)
	t.Logf("%s removed %s after SIGSTOP", victim.id, time.Since(pausedAt).Round(time.Millisecond))
	time.Sleep(time.Second)
	if err := victim.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	resumed := time.Now()
	waitChild(t, victim.id+" back as a voter that knows the leader", 30*time.Second, func() bool {
		st, err := victim.status()
		if err != nil || st.Catalog == nil || st.Catalog.Leader == "" {
			return false
		}
		ost, err := other.status()
		if err != nil || ost.Catalog == nil {
			return false
		}
		for _, s := range ost.Catalog.Servers {
			if s.ID == victim.id && s.Suffrage == "Voter" {
				return true
			}
		}
		return false
	}, victim, other)
	t.Logf("%s back as a voter %s after SIGCONT", victim.id, time.Since(resumed).Round(time.Millisecond))
	if !strings.Contains(victim.log.String(), "asking the cluster to admit this node again") {
		t.Errorf("%s did not log its rejoin", victim.id)
	}
}

// TestSIGTERMAllAtOnce: SIGTERM to every node of the fleet at once: each
// exits cleanly within drain_timeout (2 s) plus a little. Before, the
// catalog leave retried without a leader for 30 s.
func TestSIGTERMAllAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node processes")
	}
	nodes := startHealFleet(t)
	start := time.Now()
	for _, h := range nodes {
		if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	const drain, slack = 2 * time.Second, 3 * time.Second
	for _, h := range nodes {
		select {
		case <-h.done:
			took := h.exitAt.Sub(start)
			t.Logf("%s exited after %s (code %d)", h.id, took.Round(time.Millisecond), h.cmd.ProcessState.ExitCode())
			if took > drain+slack {
				t.Errorf("%s took %s to exit, drain_timeout is %s", h.id, took.Round(time.Millisecond), drain)
			}
			if code := h.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("%s exited %d:\n%s", h.id, code, h.log.String())
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s still running 60 s after SIGTERM", h.id)
		}
	}
}
