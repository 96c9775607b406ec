package plan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// File is a pipeline file: its [[pipeline]] sections, as `pcs run` reads
// it. A pcs-node config file has the same [[pipeline]] sections next to
// its [node], [broker] and [catalog] sections, which are the node's
// (package node) and which File ignores.
type File struct {
	Pipelines []Pipeline `toml:"pipeline"`
	// Workflow tunes how `pcs run` runs the pipelines as a DAG
	// (Dependencies); SetupWorkflow fills its defaults.
	Workflow WorkflowConfig `toml:"workflow"`
	// The node's sections, decoded by package node; kept here only so
	// that a node config file is also a valid pipeline file.
	Node    map[string]any `toml:"node"`
	Broker  map[string]any `toml:"broker"`
	Catalog map[string]any `toml:"catalog"`
}

// LoadFile reads a pipeline file (TOML, strict, environment references
// expanded: DecodeStrict), applies defaults and validates every pipeline.
// Relative paths in it (input.files, output.file, output.late_file and
// the paths systems and resources read through Options.Path) resolve
// against the file's directory, not the working directory. Errors wrap
// ErrConfig and give the file and line.
func LoadFile(path string) (File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("plan: %w", err)
	}
	f, err := ParseFile(path, src)
	if err != nil {
		return File{}, err
	}
	ResolvePaths(f.Pipelines, filepath.Dir(path))
	return f, nil
}

// ResolvePaths makes the pipelines' relative paths relative to dir (a
// config file's directory): input.files, output.file and
// output.late_file now, and Pipeline.Dir for Options.Path.
func ResolvePaths(ps []Pipeline, dir string) {
	for i := range ps {
		p := &ps[i]
		p.Dir = dir
		for j, f := range p.Input.Files {
			p.Input.Files[j] = Resolve(dir, f)
		}
		p.Output.File = Resolve(dir, p.Output.File)
		p.Output.LateFile = Resolve(dir, p.Output.LateFile)
	}
}

// Resolve returns path joined to dir when it is relative and not empty,
// else path.
func Resolve(dir, path string) string {
	if path == "" || dir == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// ParseFile is LoadFile on src; name labels it in errors.
func ParseFile(name string, src []byte) (File, error) {
	var f File
	if err := DecodeStrict(name, src, &f); err != nil {
		return File{}, err
	}
	if err := SetupPipelines(f.Pipelines); err != nil {
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := f.SetupWorkflow(); err != nil {
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// SetupPipelines fills the defaults of every pipeline and validates them
// (names unique among them); it reports every problem at once.
func SetupPipelines(ps []Pipeline) error {
	var errs []error
	if len(ps) == 0 {
		errs = append(errs, fmt.Errorf("%w: no [[pipeline]]", ErrConfig))
	}
	names := map[string]bool{}
	for i := range ps {
		ps[i].SetDefaults()
		if err := ps[i].validate(fmt.Sprintf("pipeline %d (%q)", i+1, ps[i].Name)); err != nil {
			errs = append(errs, err)
		}
		if names[ps[i].Name] {
			errs = append(errs, fmt.Errorf("%w: pipeline %d (%q): duplicate name", ErrConfig, i+1, ps[i].Name))
		}
		names[ps[i].Name] = true
	}
	return errors.Join(errs...)
}

// Pipeline is one [[pipeline]]: where partitions come from, the
// systems that run on them, and where results go.
type Pipeline struct {
	// Dir is the directory the pipeline's relative paths resolve against
	// (the config file's: LoadFile, ResolvePaths); empty: the working
	// directory. Not a TOML key.
	Dir string `toml:"-"`
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
	// this pipeline; default 2. The node fetches up to as many more
	// ahead, so that a pull's round trip overlaps the work.
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
	// DependsOn names the pipelines of the same file that must finish
	// before this one starts (`pcs run`). A pipeline whose input.files
	// match another's output.file depends on it without saying so.
	DependsOn []string `toml:"depends_on"`
	// Pool is the [workflow] pool the pipeline runs in (`pcs run`): "cpu"
	// (default) or "io"; each pool bounds how many of its pipelines run at
	// once.
	Pool string `toml:"pool"`
	// Retries is how many times `pcs run` runs the pipeline again after it
	// failed (its partial output removed each time), waiting with
	// exponential backoff ([workflow] backoff, max_backoff); default
	// [workflow] retries.
	Retries *int `toml:"retries"`
	// State is where the keyed state of the pipeline's stateful systems
	// (the built-in totals) and of its window system lives: state = {
	// backend = "pebble", dir = "...", cache = "256MiB" }. Default: in
	// memory.
	State StateConfig `toml:"state"`
}

// StateConfig selects a pipeline's state backend (pcs.StateBackend).
type StateConfig struct {
	// Backend is "memory" (default) or "pebble" (on disk, for state
	// larger than memory; package pcs/state/pebblestate).
	Backend string `toml:"backend"`
	// Dir is the pebble backend's directory (required with it; relative
	// to the config file's): each stateful system opens a store in
	// <dir>/<pipeline>/<system name>, the window system in
	// <dir>/<pipeline>/window (window.1, window.2, ... for further
	// operators: fleet shard owners), emptied when it opens (the state
	// comes back from the checkpoints, not from these files).
	Dir string `toml:"dir"`
	// Cache is the pebble block cache of each store, like "256MiB";
	// default 64MiB.
	Cache Size `toml:"cache"`
	// Resident is how many keyed window entries (a session's key, or a
	// pane's key) the window system keeps in memory with the pebble
	// backend before it writes them all to the store; default
	// window.DefaultMaxResident (262144).
	Resident int `toml:"resident"`
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

// DefaultOutputMaxBytes is output.max_bytes when the config leaves it
// out (1GiB).
const DefaultOutputMaxBytes Size = 1 << 30

// MaxBytesIsDefault reports whether MaxBytes is the default that
// SetDefaults filled in (the config left max_bytes out), which a node may
// lower to fit its store, rather than a value the config chose.
func (o OutputConfig) MaxBytesIsDefault() bool { return o.maxBytesDefault }

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
	// Default DefaultOutputMaxBytes (1GiB), which pcs-node lowers to fit
	// a smaller JetStream store (MaxBytesIsDefault).
	MaxBytes Size `toml:"max_bytes"`
	// maxBytesDefault: SetDefaults set MaxBytes.
	maxBytesDefault bool
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
	// MaxAckPending bounds the partitions delivered to the fleet and not
	// yet acked (the consumer's MaxAckPending, shared by every node);
	// default 1000. It must be at least the sum of the nodes'
	// max_in_flight or nodes wait idle; with stateful systems it must
	// also cover the partitions held until a checkpoint. Lower bounds the
	// work redelivered when nodes die; higher lets more work queue on
	// slow nodes.
	MaxAckPending int `toml:"max_ack_pending"`
	// BackOff are the redelivery delays after ack timeouts (a node died or
	// stalled; naks use nak_delay): the n-th redelivery waits
	// backoff[min(n-1, len-1)]. Empty (default): ack_wait each time. The
	// server uses backoff[0] as the ack wait, so ack_wait must be unset
	// or equal to it, and there may be at most max_deliver entries.
	// Growing delays spare a fleet that keeps crashing on one partition
	// (a poison pill killing nodes) at the cost of a slower recovery.
	BackOff []Duration `toml:"backoff"`
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

// SetDefaults fills every unset field with its documented default.
func (p *Pipeline) SetDefaults() {
	Def(&p.Input.Stream, natsjs.InputStream(p.Name))
	Def(&p.Input.Consumer, p.Name)
	Def(&p.Output.Stream, natsjs.OutputStream(p.Name))
	Def(&p.Output.Compression, "none")
	if p.Output.MaxBytes == 0 {
		p.Output.maxBytesDefault = true
	}
	Def(&p.Output.MaxBytes, DefaultOutputMaxBytes)
	Def(&p.Output.Retention, "limits")
	Def(&p.MaxInFlight, 2)
	Def(&p.CheckpointInterval, Duration(2*time.Second))
	if len(p.Delivery.BackOff) > 0 {
		Def(&p.Delivery.AckWait, p.Delivery.BackOff[0])
	}
	Def(&p.Delivery.AckWait, Duration(30*time.Second))
	Def(&p.Delivery.MaxAckPending, 1000)
	Def(&p.Delivery.MaxDeliver, 5)
	Def(&p.Delivery.NakDelay, Duration(time.Second))
	Def(&p.Delivery.FetchMaxBytes, 16<<20)
	r := pcs.DefaultRetryPolicy()
	Def(&p.Retry.MaxRetries, r.MaxRetries)
	Def(&p.Retry.Base, Duration(r.Base))
	Def(&p.Retry.Multiplier, r.Multiplier)
	Def(&p.Retry.Cap, Duration(r.Cap))
	Def(&p.Retry.Jitter, r.Jitter)
	Def(&p.Backpressure.HighWater, 0.8)
	Def(&p.Backpressure.LowWater, 0.5)
	Def(&p.Backpressure.Poll, Duration(250*time.Millisecond))
	Def(&p.Pool, "cpu")
	Def(&p.State.Backend, "memory")
}

// Def sets *v to d when *v is the zero value (config defaults).
func Def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports every invalid or missing value of the pipeline, each
// naming its key; errors wrap ErrConfig.
func (p *Pipeline) Validate() error { return p.validate(fmt.Sprintf("pipeline %q", p.Name)) }

func (p *Pipeline) validate(at string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, at, fmt.Sprintf(format, args...)))
	}
	if p.Name == "" || strings.ContainsAny(p.Name, " ./*>") {
		bad("name must be non-empty without spaces, '.', '/', '*' or '>'")
	}
	if len(p.Input.Subjects) == 0 && len(p.Input.Files) == 0 {
		bad("input.subjects (pcs-node) and input.files (pcs run) are both empty")
	}
	if p.Input.Component == "" {
		bad("input.component is empty")
	}
	if p.Output.Subject == "" && p.Output.File == "" {
		bad("output.subject (pcs-node) and output.file (pcs run) are both empty")
	}
	switch p.Output.Retention {
	case "limits", "workqueue", "interest":
	default:
		bad("output.retention %q: want limits, workqueue or interest", p.Output.Retention)
	}
	if len(p.Systems) == 0 {
		bad("no systems")
	}
	if p.MaxInFlight < 1 {
		bad("max_in_flight %d < 1", p.MaxInFlight)
	}
	if d := p.Delivery; d.MaxDeliver < 1 {
		bad("delivery.max_deliver %d < 1", d.MaxDeliver)
	} else if len(d.BackOff) > d.MaxDeliver {
		bad("delivery.backoff has %d entries, more than max_deliver (%d)", len(d.BackOff), d.MaxDeliver)
	}
	if d := p.Delivery; d.AckWait <= 0 {
		bad("delivery.ack_wait %v must be > 0", time.Duration(d.AckWait))
	}
	for i, b := range p.Delivery.BackOff {
		if b <= 0 {
			bad("delivery.backoff[%d] = %v must be > 0", i, time.Duration(b))
		}
	}
	if d := p.Delivery; len(d.BackOff) > 0 && d.AckWait != d.BackOff[0] {
		bad("delivery.ack_wait %v differs from backoff[0] %v (the server uses backoff[0] as the ack wait: leave ack_wait unset)", time.Duration(d.AckWait), time.Duration(d.BackOff[0]))
	}
	if p.Delivery.MaxAckPending < p.MaxInFlight {
		bad("delivery.max_ack_pending %d < max_in_flight %d (the node could never fill its slots)", p.Delivery.MaxAckPending, p.MaxInFlight)
	}
	if bp := p.Backpressure; bp.LowWater <= 0 || bp.HighWater > 1 || bp.LowWater >= bp.HighWater {
		bad("backpressure: want 0 < low_water (%v) < high_water (%v) <= 1", bp.LowWater, bp.HighWater)
	}
	if err := p.RetryPolicy().Validate(); err != nil {
		bad("retry: %v", err)
	}
	if p.Pool != "cpu" && p.Pool != "io" {
		bad("pool %q: want cpu or io", p.Pool)
	}
	if p.Retries != nil && *p.Retries < 0 {
		bad("retries %d < 0", *p.Retries)
	}
	switch st := p.State; st.Backend {
	case "", "memory":
		if st.Dir != "" || st.Cache != 0 || st.Resident != 0 {
			bad("state: dir, cache and resident are options of the pebble backend, not of %q", st.Backend)
		}
	case "pebble":
		if st.Dir == "" {
			bad("state.dir is empty (the pebble backend's directory)")
		}
		if st.Cache < 0 {
			bad("state.cache %d < 0", st.Cache)
		}
		if st.Resident < 0 {
			bad("state.resident %d < 0", st.Resident)
		}
	default:
		bad("state.backend %q: want memory or pebble", st.Backend)
	}
	return errors.Join(errs...)
}

// RetryPolicy is the pipeline's [pipeline.retry] as a pcs.RetryPolicy.
func (p Pipeline) RetryPolicy() pcs.RetryPolicy {
	r := p.Retry
	return pcs.RetryPolicy{MaxRetries: r.MaxRetries, Base: time.Duration(r.Base), Multiplier: r.Multiplier, Cap: time.Duration(r.Cap), Jitter: r.Jitter}
}
