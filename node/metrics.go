package node

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// DeadLetterReasons are the values of the reason label of
// pcs_partitions_dead_lettered_total (the Pcs-Error-Reason header).
var DeadLetterReasons = []string{natsjs.ReasonCorrupt, natsjs.ReasonSchema, natsjs.ReasonPermanent, natsjs.ReasonMaxDeliver}

// Metrics are the node's Prometheus metrics, prefix pcs_, labelled by
// pipeline. Every delivery path has a counter: processed, failed (nak for
// redelivery), dead-lettered (with the reason), and skipped (acked
// because already done). Every series of a pipeline exists, at 0, from
// the moment the pipeline is built (Metrics.pipeline), so an alert on
// one of them sees data before its first event. docs/metrics.md lists
// them all; a test checks that list against a live /metrics.
type Metrics struct {
	reg            *prometheus.Registry
	processed      *prometheus.CounterVec
	skippedDone    *prometheus.CounterVec
	checkpoints    *prometheus.CounterVec
	lateRows       *prometheus.CounterVec
	failed         *prometheus.CounterVec
	deadLettered   *prometheus.CounterVec
	rowsIn         *prometheus.CounterVec
	rowsOut        *prometheus.CounterVec
	bytesIn        *prometheus.CounterVec
	systemSeconds  *prometheus.HistogramVec
	pipelineSecond *prometheus.HistogramVec
	inFlight       *prometheus.GaugeVec
	paused         *prometheus.GaugeVec

	checkpointSeconds *prometheus.HistogramVec
	checkpointBytes   *prometheus.GaugeVec
	checkpointTime    *prometheus.GaugeVec
	checkpointAge     *prometheus.GaugeVec
	consumerPending   *prometheus.GaugeVec
	consumerAck       *prometheus.GaugeVec
	windowOpen        *prometheus.GaugeVec
	windowKeys        *prometheus.GaugeVec
	watermark         *prometheus.GaugeVec
	watermarkLag      *prometheus.GaugeVec

	mu       sync.Mutex
	refresh  []func()                 // set the scrape-time gauges (ages, lags, window state)
	ckptTook map[string]time.Duration // last checkpoint's duration by pipeline
}

// NewMetrics registers the node's metrics, plus Go runtime and process
// collectors, in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pl := []string{"pipeline"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append(pl, labels...))
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, pl)
	}
	m := &Metrics{
		reg:         reg,
		processed:   counter("pcs_partitions_processed_total", "Partitions processed, published and acked."),
		skippedDone: counter("pcs_partitions_skipped_done_total", "Redelivered partitions the catalog had as done: acked without reprocessing."),
		checkpoints: counter("pcs_checkpoints_total", "Checkpoints of stateful systems committed in the catalog."),
		lateRows:    counter("pcs_late_rows_total", "Rows later than their windows' allowed lateness, published to <pipeline>.late."),
		failed:      counter("pcs_partitions_failed_total", "Partition attempts that failed with a retryable error and were nak'ed for redelivery."),
		deadLettered: counter("pcs_partitions_dead_lettered_total",
			"Partitions sent to the dead-letter subject, by reason (corrupt, schema, permanent, max_deliver).", "reason"),
		rowsIn:  counter("pcs_rows_in_total", "Rows decoded from input partitions."),
		rowsOut: counter("pcs_rows_out_total", "Rows published to the sink subject."),
		bytesIn: counter("pcs_bytes_in_total", "Bytes of input partition bodies (claim-checked objects included)."),
		systemSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pcs_system_duration_seconds",
			Help: "Wall time of one system on one partition, retries included.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)},
			[]string{"pipeline", "system"}),
		pipelineSecond: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pcs_partition_duration_seconds",
			Help: "Wall time from fetch to ack of one partition.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, pl),
		inFlight: gauge("pcs_in_flight", "Partitions fetched and not yet acked, nak'ed or terminated on this node."),
		paused:   gauge("pcs_paused", "1 while fetching is paused because the sink stream is above its high-water mark."),
		checkpointSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pcs_checkpoint_duration_seconds",
			Help: "Wall time of one checkpoint: state copy, object store write and catalog commit.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, pl),
		checkpointBytes: gauge("pcs_checkpoint_size_bytes", "Size of the last checkpoint committed by this node (0 before the first)."),
		checkpointTime:  gauge("pcs_checkpoint_last_timestamp_seconds", "Unix time of the last checkpoint committed by this node (0 before the first)."),
		checkpointAge:   gauge("pcs_checkpoint_age_seconds", "Seconds since the last checkpoint committed by this node (0 before the first)."),
		consumerPending: gauge("pcs_consumer_pending_messages", "Input partitions not yet delivered to any node of the fleet (the durable consumer's pending count: the fleet's backlog)."),
		consumerAck:     gauge("pcs_consumer_ack_pending_messages", "Input partitions delivered to some node of the fleet and not yet acked (the durable consumer's ack-pending count)."),
		windowOpen:      gauge("pcs_window_open_windows", "Windows holding state (not yet fired and purged) in this node's window operators."),
		windowKeys:      gauge("pcs_window_keys", "Keyed entries of this node's window state (per pane, summed; sessions: keys with a session)."),
		watermark:       gauge("pcs_watermark_timestamp_seconds", "The pipeline's effective event-time watermark as Unix time (0 before the first)."),
		watermarkLag:    gauge("pcs_watermark_lag_seconds", "Wall-clock time minus the effective watermark (0 before the first watermark)."),
	}
	reg.MustRegister(m.processed, m.skippedDone, m.checkpoints, m.lateRows, m.failed, m.deadLettered, m.rowsIn, m.rowsOut, m.bytesIn,
		m.systemSeconds, m.pipelineSecond, m.inFlight, m.paused,
		m.checkpointSeconds, m.checkpointBytes, m.checkpointTime, m.checkpointAge, m.consumerPending, m.consumerAck, m.windowOpen, m.windowKeys, m.watermark, m.watermarkLag)
	return m
}

// Registry returns the Prometheus registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// pipeline creates every series of pipeline name at 0: one per vector,
// one per dead-letter reason and one per system of the plan.
func (m *Metrics) pipeline(name string, systems []string) {
	for _, v := range []*prometheus.CounterVec{m.processed, m.skippedDone, m.checkpoints, m.lateRows, m.failed, m.rowsIn, m.rowsOut, m.bytesIn} {
		v.WithLabelValues(name)
	}
	for _, r := range DeadLetterReasons {
		m.deadLettered.WithLabelValues(name, r)
	}
	for _, v := range []*prometheus.GaugeVec{m.inFlight, m.paused, m.checkpointBytes, m.checkpointTime, m.checkpointAge,
		m.consumerPending, m.consumerAck, m.windowOpen, m.windowKeys, m.watermark, m.watermarkLag} {
		v.WithLabelValues(name)
	}
	m.pipelineSecond.WithLabelValues(name)
	m.checkpointSeconds.WithLabelValues(name)
	for _, s := range systems {
		m.systemSeconds.WithLabelValues(name, s)
	}
}

// onScrape adds f to what runs before each /metrics scrape (and each
// status): it sets gauges that are a function of the time.
func (m *Metrics) onScrape(f func()) {
	m.mu.Lock()
	m.refresh = append(m.refresh, f)
	m.mu.Unlock()
}

// update runs the onScrape functions.
func (m *Metrics) update() {
	m.mu.Lock()
	fs := m.refresh
	m.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Counters are one pipeline's counters on this node, read from its
// metrics (the same numbers /metrics serves).
type Counters struct {
	// Processed, Failed, DeadLettered and Skipped count partitions
	// (pcs_partitions_*_total); DeadLetteredBy splits DeadLettered by
	// reason.
	Processed      int64            `json:"partitions_processed"`
	Failed         int64            `json:"partitions_failed"`
	DeadLettered   int64            `json:"partitions_dead_lettered"`
	DeadLetteredBy map[string]int64 `json:"partitions_dead_lettered_by_reason"`
	Skipped        int64            `json:"partitions_skipped_done"`
	// RowsIn, RowsOut, BytesIn and LateRows are pcs_rows_in_total,
	// pcs_rows_out_total, pcs_bytes_in_total and pcs_late_rows_total.
	RowsIn   int64 `json:"rows_in"`
	RowsOut  int64 `json:"rows_out"`
	BytesIn  int64 `json:"bytes_in"`
	LateRows int64 `json:"late_rows"`
	// Checkpoints is pcs_checkpoints_total; InFlight pcs_in_flight.
	Checkpoints int64 `json:"checkpoints"`
	InFlight    int64 `json:"in_flight"`
}

// counters reads pipeline name's counters.
func (m *Metrics) counters(name string) Counters {
	c := Counters{
		Processed:      value(m.processed.WithLabelValues(name)),
		Failed:         value(m.failed.WithLabelValues(name)),
		Skipped:        value(m.skippedDone.WithLabelValues(name)),
		RowsIn:         value(m.rowsIn.WithLabelValues(name)),
		RowsOut:        value(m.rowsOut.WithLabelValues(name)),
		BytesIn:        value(m.bytesIn.WithLabelValues(name)),
		LateRows:       value(m.lateRows.WithLabelValues(name)),
		Checkpoints:    value(m.checkpoints.WithLabelValues(name)),
		InFlight:       value(m.inFlight.WithLabelValues(name)),
		DeadLetteredBy: map[string]int64{},
	}
	for _, r := range DeadLetterReasons {
		v := value(m.deadLettered.WithLabelValues(name, r))
		c.DeadLetteredBy[r] = v
		c.DeadLettered += v
	}
	return c
}

// value reads a counter's or gauge's current value.
func value(c prometheus.Metric) int64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return 0
	}
	switch {
	case d.Counter != nil:
		return int64(d.Counter.GetValue())
	case d.Gauge != nil:
		return int64(d.Gauge.GetValue())
	}
	return 0
}

// gaugeValue reads a gauge's current value.
func gaugeValue(g prometheus.Metric) float64 {
	var d dto.Metric
	if err := g.Write(&d); err != nil || d.Gauge == nil {
		return 0
	}
	return d.Gauge.GetValue()
}
