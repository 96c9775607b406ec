package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the node's Prometheus metrics, prefix pcs_, labelled by
// pipeline. Every delivery path has a counter: processed, failed (nak for
// redelivery), dead-lettered (with the reason), and skipped (acked
// because already done).
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
}

// NewMetrics registers the node's metrics, plus Go runtime and process
// collectors, in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pl := []string{"pipeline"}
	m := &Metrics{
		reg: reg,
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_partitions_processed_total",
			Help: "Partitions processed, published and acked."}, pl),
		skippedDone: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_partitions_skipped_done_total",
			Help: "Redelivered partitions the catalog had as done: acked without reprocessing."}, pl),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_checkpoints_total",
			Help: "Checkpoints of stateful systems committed in the catalog."}, pl),
		lateRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_late_rows_total",
			Help: "Rows later than their windows' allowed lateness, published to <pipeline>.late."}, pl),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_partitions_failed_total",
			Help: "Partition attempts that failed with a retryable error and were nak'ed for redelivery."}, pl),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_partitions_dead_lettered_total",
			Help: "Partitions sent to the dead-letter subject, by reason (corrupt, schema, permanent, max_deliver)."}, []string{"pipeline", "reason"}),
		rowsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_rows_in_total",
			Help: "Rows decoded from input partitions."}, pl),
		rowsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_rows_out_total",
			Help: "Rows published to the sink subject."}, pl),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_bytes_in_total",
			Help: "Bytes of input partition bodies (claim-checked objects included)."}, pl),
		systemSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pcs_system_duration_seconds",
			Help: "Wall time of one system on one partition, retries included.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)},
			[]string{"pipeline", "system"}),
		pipelineSecond: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pcs_partition_duration_seconds",
			Help: "Wall time from fetch to ack of one partition.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, pl),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pcs_in_flight",
			Help: "Partitions fetched and not yet acked, nak'ed or terminated on this node."}, pl),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pcs_paused",
			Help: "1 while fetching is paused because the sink stream is above its high-water mark."}, pl),
	}
	reg.MustRegister(m.processed, m.skippedDone, m.checkpoints, m.lateRows, m.failed, m.deadLettered, m.rowsIn, m.rowsOut, m.bytesIn, m.systemSeconds, m.pipelineSecond, m.inFlight, m.paused)
	return m
}

// Registry returns the Prometheus registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
