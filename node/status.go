package node

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Status is the node's view of its pipelines and of the fleet's catalog:
// what GET /v1/status returns as JSON, `pcs status` prints and the
// console at / shows (one model for all three).
type Status struct {
	// Node is this node's id; Time when the status was taken.
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Broker is the embedded broker's client URL when it listens
	// (broker.listen; with port 0 the port it picked), else empty.
	Broker string `json:"broker,omitempty"`
	// Pipelines are this node's pipelines with their consumer's counts.
	Pipelines []PipelineStatus `json:"pipelines"`
	// Catalog is the catalog's state as this node knows it (leader,
	// voters, nodes with last heartbeat, per pipeline done / failed /
	// dead-lettered partitions, rows, checkpoints, watermarks); nil
	// without [catalog].
	Catalog *catalog.Status `json:"catalog,omitempty"`
}

// PipelineStatus is one pipeline's delivery state: its consumer's counts
// (the consumer is shared by the fleet, so they are fleet-wide), this
// node's own counters, its plan and what the console charts.
type PipelineStatus struct {
	Name string `json:"name"`
	// InputSubjects are the subjects the pipeline reads (its input
	// stream InputStream); OutputSubject the one it publishes to.
	InputSubjects []string `json:"input_subjects"`
	InputStream   string   `json:"input_stream"`
	OutputSubject string   `json:"output_subject"`
	// Plan is the pipeline's plan: its stages in run order.
	Plan []Stage `json:"plan"`
	// InFlight counts partitions delivered to some node and not yet acked
	// (the consumer's ack-pending); Pending those not yet delivered.
	InFlight int    `json:"in_flight"`
	Pending  uint64 `json:"pending"`
	// Redelivered counts ack-pending partitions delivered more than once.
	Redelivered int `json:"redelivered"`
	// Paused is true while this node holds off fetching (backpressure);
	// PausedReason says why.
	Paused       bool   `json:"paused"`
	PausedReason string `json:"paused_reason,omitempty"`
	// Counters are this node's counters (its /metrics), with or without
	// a catalog.
	Counters Counters `json:"counters"`
	// DeadLetters is the pipeline's dead-letter stream: its message count
	// (fleet-wide) and the latest messages with their reasons.
	DeadLetters DeadLetters `json:"dead_letters"`
	// Watermark is the pipeline's event-time watermark, nil before the
	// first (or without a window).
	Watermark *Watermark `json:"watermark,omitempty"`
	// Window is the state of this node's window operators, nil without
	// the window system.
	Window *WindowState `json:"window,omitempty"`
	// Checkpoint is this node's last committed checkpoint of the
	// pipeline, nil before the first.
	Checkpoint *CheckpointStatus `json:"checkpoint,omitempty"`
	// Rates are this node's rows/s and bytes/s, one sample per
	// RateInterval, oldest first, the last RateHistory samples at most.
	Rates []RateSample `json:"rates"`
	// Error says why the consumer's counts are missing, if they are.
	Error string `json:"error,omitempty"`
}

// Stage is one stage of a plan: systems that run concurrently.
type Stage struct {
	Systems []SystemInfo `json:"systems"`
}

// SystemInfo is one system of a plan with the fields it reads and writes
// ("component.field", a whole component, or a resource). Reads and
// Writes are nil when the plan does not expose its systems.
type SystemInfo struct {
	Name   string   `json:"name"`
	Reads  []string `json:"reads,omitempty"`
	Writes []string `json:"writes,omitempty"`
}

// DeadLetters describes a pipeline's dead-letter stream
// (natsjs.DLQStream of its input stream).
type DeadLetters struct {
	Stream   string `json:"stream"`
	Messages uint64 `json:"messages"`
	// Latest are the last few dead letters, newest first.
	Latest []DeadLetter `json:"latest"`
	// Error says why the counts are missing, if they are.
	Error string `json:"error,omitempty"`
}

// DeadLetter is one message of a dead-letter stream.
type DeadLetter struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Partition  string    `json:"partition"`
	Reason     string    `json:"reason"`
	Error      string    `json:"error"`
	Node       string    `json:"node"`
	Deliveries int       `json:"deliveries"`
	Bytes      int       `json:"bytes"`
}

// Watermark is an event-time watermark and how far it trails the clock.
type Watermark struct {
	Time       time.Time `json:"time"`
	LagSeconds float64   `json:"lag_seconds"`
}

// WindowState is the state of this node's window operators (fleet
// windows: the shards it owns).
type WindowState struct {
	Shards      int   `json:"shards"`
	OwnedShards []int `json:"owned_shards,omitempty"`
	OpenWindows int64 `json:"open_windows"`
	Keys        int64 `json:"keys"`
	LateRows    int64 `json:"late_rows"`
}

// CheckpointStatus is this node's last committed checkpoint.
type CheckpointStatus struct {
	Time            time.Time `json:"time"`
	AgeSeconds      float64   `json:"age_seconds"`
	Bytes           int64     `json:"bytes"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// RateSample is one sample of a pipeline's throughput on this node.
type RateSample struct {
	Time              time.Time `json:"time"`
	RowsInPerSecond   float64   `json:"rows_in_per_second"`
	RowsOutPerSecond  float64   `json:"rows_out_per_second"`
	BytesInPerSecond  float64   `json:"bytes_in_per_second"`
	PartitionsPerSec  float64   `json:"partitions_per_second"`
	InFlightPartition int64     `json:"in_flight"`
}

// RateInterval is the period of the throughput samples; RateHistory how
// many are kept (10 minutes).
const (
	RateInterval = time.Second
	RateHistory  = 600
)

// latestDeadLetters is how many dead letters a status carries.
const latestDeadLetters = 5

// Status returns the node's status; ctx bounds the broker queries.
func (n *Node) Status(ctx context.Context) Status {
	n.metrics.update()
	st := Status{Node: n.cfg.Node.ID, Time: time.Now().UTC(), Pipelines: []PipelineStatus{}}
	if n.broker != nil {
		st.Broker = n.broker.ClientURL()
	}
	for _, d := range n.pipelines {
		st.Pipelines = append(st.Pipelines, n.pipelineStatus(ctx, d))
	}
	if n.cat != nil {
		cs := n.cat.Status()
		st.Catalog = &cs
	}
	return st
}

func (n *Node) pipelineStatus(ctx context.Context, d *delivery) PipelineStatus {
	name := d.cfg.Name
	ps := PipelineStatus{Name: name, InputSubjects: d.cfg.Input.Subjects, InputStream: d.cfg.Input.Stream, OutputSubject: d.cfg.Output.Subject,
		Plan: planOf(d.plan), Paused: d.bp.paused.Load(), Counters: n.metrics.counters(name), Rates: n.rates.samples(name)}
	if ps.Paused {
		ps.PausedReason = "output stream " + d.cfg.Output.Stream + " is above its high-water mark (" +
			strconv.FormatFloat(d.cfg.Backpressure.HighWater*100, 'f', 0, 64) + "% of max_bytes); fetching resumes below " +
			strconv.FormatFloat(d.cfg.Backpressure.LowWater*100, 'f', 0, 64) + "%"
	}
	if info, err := d.cons.Info(ctx); err != nil {
		ps.Error = err.Error()
	} else {
		ps.InFlight, ps.Pending, ps.Redelivered = info.NumAckPending, info.NumPending, info.NumRedelivered
	}
	ps.DeadLetters = deadLetters(ctx, n.js, natsjs.DLQStream(d.cfg.Input.Stream), name)
	m := n.metrics
	if t := gaugeValue(m.watermark.WithLabelValues(name)); t > 0 {
		ps.Watermark = &Watermark{Time: time.Unix(0, int64(t*1e9)).UTC(), LagSeconds: gaugeValue(m.watermarkLag.WithLabelValues(name))}
	}
	if d.plan.LateSchema() != nil {
		ws := &WindowState{Shards: d.plan.Shards(), OpenWindows: value(m.windowOpen.WithLabelValues(name)),
			Keys: value(m.windowKeys.WithLabelValues(name)), LateRows: ps.Counters.LateRows}
		if d.owners != nil {
			ws.OwnedShards = d.owners.owned()
		}
		ps.Window = ws
	}
	if t := gaugeValue(m.checkpointTime.WithLabelValues(name)); t > 0 {
		ps.Checkpoint = &CheckpointStatus{Time: time.Unix(0, int64(t*1e9)).UTC(), AgeSeconds: gaugeValue(m.checkpointAge.WithLabelValues(name)),
			Bytes: value(m.checkpointBytes.WithLabelValues(name)), DurationSeconds: m.lastCheckpointSeconds(name)}
	}
	return ps
}

// planOf lists p's stages with each system's reads and writes (the
// window system has none declared).
func planOf(p *plan.Plan) []Stage {
	metas := map[string]pcs.SystemMeta{}
	for _, s := range p.Systems() {
		m := s.Meta()
		metas[m.Name] = m
	}
	stages := []Stage{}
	for _, names := range p.Stages() {
		var st Stage
		for _, name := range names {
			si := SystemInfo{Name: name}
			if m, ok := metas[name]; ok {
				si.Reads, si.Writes = refs(m.Reads), refs(m.Writes)
			}
			st.Systems = append(st.Systems, si)
		}
		stages = append(stages, st)
	}
	return stages
}

func refs(rs []pcs.Ref) []string {
	var out []string
	for _, r := range rs {
		if s, ok := r.(interface{ String() string }); ok {
			out = append(out, s.String())
		}
	}
	return out
}

// deadLetters reads a dead-letter stream's count and latest messages.
// Partition is the input partition's id (the dead letter's own id is
// <pipeline>/<partition>/dlq).
func deadLetters(ctx context.Context, js jetstream.JetStream, stream, pipeline string) DeadLetters {
	dl := DeadLetters{Stream: stream, Latest: []DeadLetter{}}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		dl.Error = err.Error()
		return dl
	}
	info := s.CachedInfo()
	if info == nil {
		dl.Error = "no stream info"
		return dl
	}
	dl.Messages = info.State.Msgs
	for seq := info.State.LastSeq; seq >= max(info.State.FirstSeq, 1) && len(dl.Latest) < latestDeadLetters; seq-- {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			dl.Error = err.Error()
			break
		}
		h := msg.Header
		deliveries, _ := strconv.Atoi(h.Get(natsjs.HeaderDeliveries))
		id := strings.TrimSuffix(strings.TrimPrefix(h.Get(nats.MsgIdHdr), pipeline+"/"), "/dlq")
		dl.Latest = append(dl.Latest, DeadLetter{Seq: msg.Sequence, Time: msg.Time.UTC(), Partition: id,
			Reason: h.Get(natsjs.HeaderErrorReason), Error: h.Get(natsjs.HeaderError), Node: h.Get(natsjs.HeaderNode),
			Deliveries: deliveries, Bytes: len(msg.Data)})
	}
	return dl
}

// rates keeps each pipeline's throughput samples (a ring of RateHistory).
type rates struct {
	m    *Metrics
	mu   sync.Mutex
	last map[string]rateTotals
	ring map[string][]RateSample
}

type rateTotals struct {
	t                        time.Time
	rowsIn, rowsOut, bytesIn int64
	parts                    int64
}

func newRates(m *Metrics) *rates {
	return &rates{m: m, last: map[string]rateTotals{}, ring: map[string][]RateSample{}}
}

// run samples the pipelines every RateInterval until ctx is done.
func (r *rates) run(ctx context.Context, names []string) {
	t := time.NewTicker(RateInterval)
	defer t.Stop()
	r.sample(names, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.sample(names, now)
		}
	}
}

func (r *rates) sample(names []string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range names {
		c := r.m.counters(name)
		cur := rateTotals{t: now, rowsIn: c.RowsIn, rowsOut: c.RowsOut, bytesIn: c.BytesIn, parts: c.Processed + c.Failed + c.DeadLettered + c.Skipped}
		prev, ok := r.last[name]
		r.last[name] = cur
		if !ok {
			continue
		}
		dt := cur.t.Sub(prev.t).Seconds()
		if dt <= 0 {
			continue
		}
		s := RateSample{Time: now.UTC(), RowsInPerSecond: float64(cur.rowsIn-prev.rowsIn) / dt, RowsOutPerSecond: float64(cur.rowsOut-prev.rowsOut) / dt,
			BytesInPerSecond: float64(cur.bytesIn-prev.bytesIn) / dt, PartitionsPerSec: float64(cur.parts-prev.parts) / dt, InFlightPartition: c.InFlight}
		ring := append(r.ring[name], s)
		if len(ring) > RateHistory {
			ring = slices.Delete(ring, 0, len(ring)-RateHistory)
		}
		r.ring[name] = ring
	}
}

// samples returns a copy of name's samples (nil-safe: none).
func (r *rates) samples(name string) []RateSample {
	if r == nil {
		return []RateSample{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RateSample{}, r.ring[name]...)
}
