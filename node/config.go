package node

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pcs-dev/pcs/pcs"
)

// Config is a pcs-node config file (TOML, strict: unknown keys and wrong
// types are errors with the line; durations like "10s"; sizes like
// "64MiB"; ${VAR} and ${VAR:-default} are replaced from the environment).
//
//	[node]
//	id = "node-1"
//	http = "127.0.0.1:9464"
//
//	[broker]
//	store_dir = "${PCS_DATA:-./data}/broker"
//	listen = "127.0.0.1:4222"
//
//	[[pipeline]]
//	name = "flights"
//	components = ["flight", "route"]
//	input = { subjects = ["flights.raw"], component = "flight" }
//	output = { subject = "flights.enriched" }
//	system = [{ use = "flights.keep" }, { use = "flights.derive" }]
type Config struct {
	Node      NodeConfig       `toml:"node"`
	Broker    BrokerConfig     `toml:"broker"`
	Catalog   CatalogConfig    `toml:"catalog"`
	Pipelines []PipelineConfig `toml:"pipeline"`
}

// CatalogConfig is the [catalog] section: the fleet's Raft-replicated
// partition catalog (package node/catalog). Without it (no dir) a node
// works alone: delivery is at least once and a redelivered partition is
// processed again (its outputs carry the same ids, so JetStream's duplicate
// window hides the copies). With it every node of the fleet records each
// partition's outcome before acking it and skips partitions the catalog
// has as done: results become effectively once.
//
//	[catalog]
//	dir = "./pcs-data/catalog"
//	bind = "127.0.0.1:7401"
//	bootstrap = true            # on the first node of a new fleet only
type CatalogConfig struct {
	// Dir holds the Raft log and snapshots; empty: no catalog.
	Dir string `toml:"dir"`
	// Bind is the Raft TCP listener; default "127.0.0.1:7400".
	Bind string `toml:"bind"`
	// Advertise is the address other nodes dial; default Bind (which must
	// then be a real address, not 0.0.0.0).
	Advertise string `toml:"advertise"`
	// Bootstrap forms a new cluster with this node as its only voter if it
	// has no Raft state yet; set it on one node. The others join through
	// any member over NATS (request/reply on pcs.catalog.<cluster>.*).
	Bootstrap bool `toml:"bootstrap"`
	// Cluster names the fleet in forwarding subjects; default "pcs".
	Cluster string `toml:"cluster"`
	// MaxVoters caps the voters (3 or 5, default 3); later nodes join as
	// non-voters.
	MaxVoters int `toml:"max_voters"`
	// HeartbeatInterval between this node's heartbeats (default 1s);
	// DeadNodeTimeout after which the leader removes a silent node
	// (default 30s).
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
	DeadNodeTimeout   Duration `toml:"dead_node_timeout"`
	// ElectionTimeout of Raft (default 1s; heartbeat timeout the same).
	ElectionTimeout Duration `toml:"election_timeout"`
	// ForwardTimeout bounds one command forwarded to the leader (default
	// 1s): after the leader dies, a forward in flight waits this long
	// before it is retried with the new leader, holding its partition.
	ForwardTimeout Duration `toml:"forward_timeout"`
}

// NodeConfig is the [node] section.
type NodeConfig struct {
	// ID names this node in logs, metrics and DLQ headers; default the
	// host name.
	ID string `toml:"id"`
	// HTTP is the listen address of /healthz, /readyz and /metrics;
	// default "127.0.0.1:9464"; "off" disables the server.
	HTTP string `toml:"http"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `toml:"log_level"`
	// LogFormat is text (tint, colored on terminals; default) or json.
	LogFormat string `toml:"log_format"`
	// DrainTimeout bounds the graceful drain on SIGTERM: in-flight
	// partitions get this long to finish, the rest are nak'ed; default 30s.
	DrainTimeout Duration `toml:"drain_timeout"`
}

// BrokerConfig is the [broker] section: an external NATS server (URL) or
// the embedded one (the default).
type BrokerConfig struct {
	// URL of an external NATS server with JetStream; empty: embedded.
	URL string `toml:"url"`
	// StoreDir is the embedded JetStream store; default "./pcs-data/broker".
	StoreDir string `toml:"store_dir"`
	// Listen is "host:port" for the embedded server's client listener, so
	// other processes (pcs publish/consume) can connect; empty: in-process
	// only.
	Listen string `toml:"listen"`
	// SyncAlways makes the embedded server fsync every write. The default
	// (false) is nats-server's: fsync every 2 minutes, so a power loss can
	// lose acknowledged messages (Jepsen, NATS 2.12.1); a process crash
	// cannot.
	SyncAlways bool `toml:"sync_always"`
	// MaxPayload is the embedded server's max message size; default 1MiB.
	// Larger partitions go through the object store (claim check).
	MaxPayload Size `toml:"max_payload"`
	// ObjectBucket is the JetStream object store bucket for claim checks;
	// default "pcs-objects".
	ObjectBucket string `toml:"object_bucket"`
}

// PipelineConfig is one [[pipeline]]: where partitions come from, the
// systems that run on them, and where results go.
type PipelineConfig struct {
	// Name identifies the pipeline: its durable consumer, its output ids
	// (<name>/<input id>/<k>) and its dead-letter subject <name>.dlq.
	Name string `toml:"name"`
	// Components are the registered components of each partition's
	// dataset; the input component must be among them.
	// Default: the declared components and those built-in systems
	// define (project, rename, cast), in that order.
	Components []string `toml:"components"`
	// Declared are components defined in the config rather than in Go
	// ([[pipeline.component]] tables); every one is part of the
	// pipeline, whether Components names it or not.
	Declared []ComponentConfig `toml:"component"`
	Input    InputConfig       `toml:"input"`
	Output   OutputConfig      `toml:"output"`
	// Resources are loaded once at start and inserted in every dataset.
	Resources []UseConfig `toml:"resource"`
	// Systems run on each partition, in this registration order.
	Systems []UseConfig `toml:"system"`
	// MaxInFlight bounds the partitions this node works on at once for
	// this pipeline; default 2.
	MaxInFlight int            `toml:"max_in_flight"`
	Delivery    DeliveryConfig `toml:"delivery"`
	Retry       RetryConfig    `toml:"retry"`
	// CheckpointInterval is how often the state of the pipeline's
	// stateful systems is checkpointed (with [catalog]). Their partitions
	// are acked only once a checkpoint covers them (InProgress heartbeats
	// keep them from redelivery meanwhile), so it bounds both the work
	// redone after a crash and how long acks wait. Default 2s.
	CheckpointInterval Duration `toml:"checkpoint_interval"`
	// Backpressure pauses fetching while the output stream is nearly full.
	Backpressure BackpressureConfig `toml:"backpressure"`
}

// InputConfig is where a pipeline's partitions come from.
type InputConfig struct {
	// Subjects are the subjects producers publish partitions to
	// (pcs-node).
	Subjects []string `toml:"subjects"`
	// Files are paths or globs of input files (`pcs run`): Parquet,
	// Arrow, CSV or JSONL by extension, read in sorted order.
	Files []string `toml:"files"`
	// Stream holds them; created (work-queue retention, discard new) if
	// missing. Default "PCS_<NAME>_IN".
	Stream string `toml:"stream"`
	// Consumer is the durable pull consumer shared by the fleet; default
	// the pipeline name.
	Consumer string `toml:"consumer"`
	// Component is the registered component partitions decode into. Input
	// columns are matched by name; extra columns are ignored; a missing
	// column, an uncastable type or a null in a non-nullable field sends
	// the partition to the dead-letter subject.
	Component string `toml:"component"`
	// MaxBytes caps the input stream (publishers get errors when full);
	// default unlimited.
	MaxBytes Size `toml:"max_bytes"`
}

// OutputConfig is where a pipeline's results go.
type OutputConfig struct {
	// Subject of the sink; consumers read it with any NATS + Arrow client
	// (pcs-node).
	Subject string `toml:"subject"`
	// File is the output file of `pcs run`: Parquet, Arrow (.arrow file
	// format, .arrows stream), CSV or JSONL by extension.
	File string `toml:"file"`
	// Stream holds it; created (limits retention, discard new) if missing.
	// Default "PCS_<NAME>_OUT".
	Stream string `toml:"stream"`
	// PartitionBy (Parquet output.file of `pcs run`) splits the output
	// into Hive-style directories key=value/ under output.file's
	// directory, one level per column, the file name numbered in each; the
	// partition columns are not stored in the files (Hive, Spark).
	PartitionBy []string `toml:"partition_by"`
	// RollRows and RollBytes (Parquet output.file) start a new numbered
	// file after that many rows or about that many bytes; default: one
	// file (per partition directory).
	RollRows  int64 `toml:"roll_rows"`
	RollBytes Size  `toml:"roll_bytes"`
	// LateFile (`pcs run`, pipelines ending with a window) receives the
	// rows later than their windows' allowed lateness; default the output
	// file's name with ".late" before its extension. Created only when
	// there is a late row. pcs-node publishes them to <pipeline>.late.
	LateFile string `toml:"late_file"`
	// Components whose columns make the output batch, in order; default
	// all. Field names must be unique across them.
	Components []string `toml:"components"`
	// Compression of output partitions: none (default), lz4 or zstd.
	Compression string `toml:"compression"`
	// MaxBytes caps the output stream; backpressure measures against it.
	// Default 1GiB.
	MaxBytes Size `toml:"max_bytes"`
	// Retention of the output stream: limits (default: any number of
	// consumers, replayable; full means paused), workqueue (one consuming
	// service; acked results free space) or interest (space freed when
	// every consumer acked; results published while no consumer exists are
	// dropped by the server).
	Retention string `toml:"retention"`
}

// DeliveryConfig tunes the durable consumer (DESIGN section 5).
type DeliveryConfig struct {
	// AckWait before the server redelivers an unacked partition; default
	// 30s. The node sends InProgress every AckWait/3 while working.
	AckWait Duration `toml:"ack_wait"`
	// MaxDeliver attempts before the partition is dead-lettered; default 5.
	MaxDeliver int `toml:"max_deliver"`
	// NakDelay is the redelivery delay after the first retryable failure,
	// doubling per delivery up to 30s; default 1s.
	NakDelay Duration `toml:"nak_delay"`
	// FetchMaxBytes bounds one pull; default 16MiB.
	FetchMaxBytes Size `toml:"fetch_max_bytes"`
}

// RetryConfig is the in-process retry of each system (pcs.RetryPolicy).
type RetryConfig struct {
	MaxRetries int      `toml:"max_retries"` // default 3
	Base       Duration `toml:"base"`        // default 100ms
	Multiplier float64  `toml:"multiplier"`  // default 2
	Cap        Duration `toml:"cap"`         // default 5s
	Jitter     float64  `toml:"jitter"`      // default 0.2
}

// BackpressureConfig are the output stream's water marks, as fractions
// of its max_bytes: fetching pauses at or above HighWater and resumes at
// or below LowWater.
type BackpressureConfig struct {
	HighWater float64  `toml:"high_water"` // default 0.8
	LowWater  float64  `toml:"low_water"`  // default 0.5
	Poll      Duration `toml:"poll"`       // stream info poll interval; default 250ms
}

// ComponentConfig declares a component: its name and its fields, each
// "name: type" with a type of ParseType, nullable unless followed by
// "not null":
//
//	[[pipeline.component]]
//	name = "route"
//	fields = ["origin_city: string", "delayed: bool", "route: string not null"]
type ComponentConfig struct {
	Name   string   `toml:"name"`
	Fields []string `toml:"fields"`
}

// UseConfig selects a registered system or resource and its options.
type UseConfig struct {
	Use     string         `toml:"use"`
	Options map[string]any `toml:"options"`
}

// LoadConfig reads and decodes a config file (see Config), applies
// defaults and validates it.
func LoadConfig(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("node: config: %w", err)
	}
	return ParseConfig(path, src)
}

// ParseConfig is LoadConfig on src; name labels it in errors.
func ParseConfig(name string, src []byte) (Config, error) {
	var c Config
	if err := DecodeStrict(name, src, &c); err != nil {
		return Config{}, err
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// SetDefaults fills every unset field with its documented default.
func (c *Config) SetDefaults() {
	if c.Node.ID == "" {
		c.Node.ID, _ = os.Hostname()
	}
	def(&c.Node.HTTP, "127.0.0.1:9464")
	def(&c.Node.LogLevel, "info")
	def(&c.Node.LogFormat, "text")
	def(&c.Node.DrainTimeout, Duration(30*time.Second))
	def(&c.Broker.StoreDir, "./pcs-data/broker")
	def(&c.Broker.MaxPayload, 1<<20)
	def(&c.Broker.ObjectBucket, "pcs-objects")
	def(&c.Catalog.Bind, "127.0.0.1:7400")
	def(&c.Catalog.Cluster, "pcs")
	def(&c.Catalog.MaxVoters, 3)
	def(&c.Catalog.HeartbeatInterval, Duration(time.Second))
	def(&c.Catalog.DeadNodeTimeout, Duration(30*time.Second))
	def(&c.Catalog.ElectionTimeout, Duration(time.Second))
	def(&c.Catalog.ForwardTimeout, Duration(time.Second))
	for i := range c.Pipelines {
		p := &c.Pipelines[i]
		up := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(p.Name))
		def(&p.Input.Stream, "PCS_"+up+"_IN")
		def(&p.Input.Consumer, p.Name)
		def(&p.Output.Stream, "PCS_"+up+"_OUT")
		def(&p.Output.Compression, "none")
		def(&p.Output.MaxBytes, 1<<30)
		def(&p.Output.Retention, "limits")
		def(&p.MaxInFlight, 2)
		def(&p.CheckpointInterval, Duration(2*time.Second))
		def(&p.Delivery.AckWait, Duration(30*time.Second))
		def(&p.Delivery.MaxDeliver, 5)
		def(&p.Delivery.NakDelay, Duration(time.Second))
		def(&p.Delivery.FetchMaxBytes, 16<<20)
		r := pcs.DefaultRetryPolicy()
		def(&p.Retry.MaxRetries, r.MaxRetries)
		def(&p.Retry.Base, Duration(r.Base))
		def(&p.Retry.Multiplier, r.Multiplier)
		def(&p.Retry.Cap, Duration(r.Cap))
		def(&p.Retry.Jitter, r.Jitter)
		def(&p.Backpressure.HighWater, 0.8)
		def(&p.Backpressure.LowWater, 0.5)
		def(&p.Backpressure.Poll, Duration(250*time.Millisecond))
	}
}

func def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports every invalid or missing value, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...)))
	}
	switch c.Node.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("node.log_level %q: want debug, info, warn or error", c.Node.LogLevel)
	}
	switch c.Node.LogFormat {
	case "text", "json":
	default:
		bad("node.log_format %q: want text or json", c.Node.LogFormat)
	}
	if len(c.Pipelines) == 0 {
		bad("no [[pipeline]]")
	}
	names := map[string]bool{}
	for i, p := range c.Pipelines {
		at := fmt.Sprintf("pipeline %d (%q)", i+1, p.Name)
		if p.Name == "" || strings.ContainsAny(p.Name, " ./*>") {
			bad("%s: name must be non-empty without spaces, '.', '/', '*' or '>'", at)
		}
		if names[p.Name] {
			bad("%s: duplicate name", at)
		}
		names[p.Name] = true
		if len(p.Input.Subjects) == 0 && len(p.Input.Files) == 0 {
			bad("%s: input.subjects (pcs-node) and input.files (pcs run) are both empty", at)
		}
		if p.Input.Component == "" {
			bad("%s: input.component is empty", at)
		}
		if p.Output.Subject == "" && p.Output.File == "" {
			bad("%s: output.subject (pcs-node) and output.file (pcs run) are both empty", at)
		}
		switch p.Output.Retention {
		case "limits", "workqueue", "interest":
		default:
			bad("%s: output.retention %q: want limits, workqueue or interest", at, p.Output.Retention)
		}
		if len(p.Systems) == 0 {
			bad("%s: no systems", at)
		}
		if p.MaxInFlight < 1 {
			bad("%s: max_in_flight %d < 1", at, p.MaxInFlight)
		}
		if p.Delivery.MaxDeliver < 1 {
			bad("%s: delivery.max_deliver %d < 1", at, p.Delivery.MaxDeliver)
		}
		if bp := p.Backpressure; bp.LowWater <= 0 || bp.HighWater > 1 || bp.LowWater >= bp.HighWater {
			bad("%s: backpressure: want 0 < low_water (%v) < high_water (%v) <= 1", at, bp.LowWater, bp.HighWater)
		}
		if err := p.retryPolicy().Validate(); err != nil {
			bad("%s: retry: %v", at, err)
		}
	}
	return errors.Join(errs...)
}

func (p PipelineConfig) retryPolicy() pcs.RetryPolicy {
	r := p.Retry
	return pcs.RetryPolicy{MaxRetries: r.MaxRetries, Base: time.Duration(r.Base), Multiplier: r.Multiplier, Cap: time.Duration(r.Cap), Jitter: r.Jitter}
}
