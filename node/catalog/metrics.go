package catalog

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a catalog node's own measurements (apply latency, leader
// changes, snapshot durations); Collector adds Raft's state read at
// each scrape.
type metrics struct {
	apply         prometheus.Histogram
	snapshot      prometheus.Histogram
	leaderChanges atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pcs_catalog_apply_duration_seconds",
			Help:    "Wall time of Catalog.Apply: from the call to the commands applied by the FSM (forwarding and retries included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}),
		snapshot: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pcs_catalog_snapshot_duration_seconds",
			Help:    "Wall time of one FSM snapshot: encoding the state and persisting it to the snapshot store.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
	}
}

// observeLeaders counts leader changes seen by this node until the
// catalog shuts down.
func (c *Catalog) observeLeaders() {
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	c.raft.RegisterObserver(obs)
	c.wg.Go(func() {
		defer c.raft.DeregisterObserver(obs)
		for {
			select {
			case <-ch:
				c.met.leaderChanges.Add(1)
			case <-c.ctx.Done():
				return
			}
		}
	})
}

// meteredFSM is the FSM as Raft sees it: snapshots are timed.
type meteredFSM struct {
	*FSM
	met *metrics
}

// Snapshot times the snapshot from its encoding to its Persist.
func (f meteredFSM) Snapshot() (raft.FSMSnapshot, error) {
	t0 := time.Now()
	s, err := f.FSM.Snapshot()
	if err != nil {
		return nil, err
	}
	return meteredSnapshot{FSMSnapshot: s, t0: t0, met: f.met}, nil
}

type meteredSnapshot struct {
	raft.FSMSnapshot
	t0  time.Time
	met *metrics
}

func (s meteredSnapshot) Persist(sink raft.SnapshotSink) error {
	err := s.FSMSnapshot.Persist(sink)
	if err == nil {
		s.met.snapshot.Observe(time.Since(s.t0).Seconds())
	}
	return err
}

// Collector returns the catalog's Prometheus metrics (prefix
// pcs_catalog_): this node's Raft state, term, last, commit and applied
// index, the members by suffrage, leader changes, Apply latency and
// snapshot durations. Register it in the node's registry; it reads Raft
// at each scrape.
func (c *Catalog) Collector() prometheus.Collector { return collector{c} }

type collector struct{ c *Catalog }

var (
	descState = prometheus.NewDesc("pcs_catalog_raft_state",
		"1 for this node's current Raft state (follower, candidate, leader, shutdown), 0 for the others.", []string{"state"}, nil)
	descTerm       = prometheus.NewDesc("pcs_catalog_term", "This node's current Raft term.", nil, nil)
	descLastIndex  = prometheus.NewDesc("pcs_catalog_last_index", "Index of the last entry in this node's Raft log.", nil, nil)
	descCommit     = prometheus.NewDesc("pcs_catalog_commit_index", "Highest Raft log index this node knows to be committed.", nil, nil)
	descApplied    = prometheus.NewDesc("pcs_catalog_applied_index", "Highest Raft log index applied to this node's FSM.", nil, nil)
	descMembers    = prometheus.NewDesc("pcs_catalog_members", "Servers in the Raft configuration, by suffrage (voter, nonvoter, staging).", []string{"suffrage"}, nil)
	descLeader     = prometheus.NewDesc("pcs_catalog_has_leader", "1 when this node knows a leader, 0 during an election or without a quorum.", nil, nil)
	descLeaderChgs = prometheus.NewDesc("pcs_catalog_leader_changes_total", "Leader changes this node observed (a new leader, or none).", nil, nil)
)

func (col collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descTerm, descLastIndex, descCommit, descApplied, descMembers, descLeader, descLeaderChgs} {
		ch <- d
	}
	col.c.met.apply.Describe(ch)
	col.c.met.snapshot.Describe(ch)
}

func (col collector) Collect(ch chan<- prometheus.Metric) {
	r := col.c.raft
	state := r.State()
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
		v := 0.0
		if s == state {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, strings.ToLower(s.String()))
	}
	gauge := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	gauge(descTerm, r.CurrentTerm())
	gauge(descLastIndex, r.LastIndex())
	commit, _ := strconv.ParseUint(r.Stats()["commit_index"], 10, 64)
	gauge(descCommit, commit)
	gauge(descApplied, r.AppliedIndex())
	members := map[string]uint64{"voter": 0, "nonvoter": 0, "staging": 0}
	if cf := r.GetConfiguration(); cf.Error() == nil {
		for _, s := range cf.Configuration().Servers {
			members[strings.ToLower(s.Suffrage.String())]++
		}
	}
	for _, s := range []string{"voter", "nonvoter", "staging"} {
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(members[s]), s)
	}
	has := uint64(0)
	if _, id := r.LeaderWithID(); id != "" {
		has = 1
	}
	gauge(descLeader, has)
	ch <- prometheus.MustNewConstMetric(descLeaderChgs, prometheus.CounterValue, float64(col.c.met.leaderChanges.Load()))
	col.c.met.apply.Collect(ch)
	col.c.met.snapshot.Collect(ch)
}

// observeApply records an Apply that started at t0.
func (m *metrics) observeApply(t0 time.Time) { m.apply.Observe(time.Since(t0).Seconds()) }
