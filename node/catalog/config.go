package catalog

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Defaults used by DefaultConfig.
const (
	// DefaultBindAddr is the Raft listener address: loopback, port 7400.
	DefaultBindAddr = "127.0.0.1:7400"
	// DefaultMaxVoters caps the voters; further nodes join as non-voters.
	DefaultMaxVoters = 3
	// DefaultHeartbeatTimeout and DefaultElectionTimeout are Raft's
	// follower and candidate timeouts. Small values elect fast (~250 ms
	// re-election with 200 ms here); raise them on slow or loaded networks.
	DefaultHeartbeatTimeout = 500 * time.Millisecond
	DefaultElectionTimeout  = 500 * time.Millisecond
	// DefaultHeartbeatInterval is how often each node applies a Heartbeat.
	DefaultHeartbeatInterval = 2 * time.Second
	// DefaultDeadNodeTimeout is how long a node may miss heartbeats before
	// the leader removes it from the Raft configuration.
	DefaultDeadNodeTimeout = 30 * time.Second
	// DefaultApplyTimeout is the retry budget of Apply and Join when the
	// caller's ctx has no earlier deadline.
	DefaultApplyTimeout = 30 * time.Second
	// DefaultForwardTimeout bounds one forwarded request.
	DefaultForwardTimeout = 5 * time.Second
	// DefaultMaxBatch is the most commands the leader puts in one Raft entry.
	DefaultMaxBatch = 512
	// DefaultSnapshotThreshold, DefaultSnapshotInterval and
	// DefaultTrailingLogs are passed to Raft.
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 30 * time.Second
	DefaultTrailingLogs      = 4096
	// DefaultWALSegmentSize is raft-wal's segment file size (preallocated).
	DefaultWALSegmentSize = 64 << 20
	// DefaultRetention is how long done and dead-lettered partition records
	// keep their details before the leader compacts them.
	DefaultRetention = 24 * time.Hour
	// DefaultCompactInterval is how often the leader applies Compact.
	DefaultCompactInterval = 10 * time.Minute
	// DefaultSnapshotRetain is how many snapshots are kept on disk.
	DefaultSnapshotRetain = 2
)

// Config configures a catalog node. Build it with DefaultConfig, set NodeID
// and Dir (and BindAddr/AdvertiseAddr), then Open. The zero value is not
// valid.
type Config struct {
	// NodeID identifies the node in Raft and in forwarding subjects, forever:
	// keep it stable across restarts. Required; a NATS subject token (no
	// dots, spaces, '*' or '>') not starting with '_'.
	NodeID string `toml:"node_id"`

	// Dir holds the Raft log (Dir/wal, raft-wal) and snapshots
	// (Dir/snapshots). Required; created if missing (0750).
	Dir string `toml:"dir"`

	// BindAddr is the Raft TCP listener, host:port. Default DefaultBindAddr.
	// Port 0 picks a free port (tests). Ignored when Transport is set.
	BindAddr string `toml:"bind_addr"`

	// AdvertiseAddr is the address other nodes dial, host:port with a real
	// (specified) IP or a resolvable host name. Default: BindAddr, which then
	// must not be an unspecified address (0.0.0.0, ::): Validate refuses
	// that, since peers cannot dial it.
	AdvertiseAddr string `toml:"advertise_addr"`

	// HTTPAddr and Role are published in the node table (NodeInfo).
	HTTPAddr string `toml:"http_addr"`
	Role     string `toml:"role"`

	// Bootstrap makes this node form a new cluster with itself as the only
	// voter if it has no Raft state yet (raft.HasExistingState); with
	// existing state it is ignored, so leaving it set across restarts is
	// safe. Set it on exactly one node of a new cluster; the others Join.
	Bootstrap bool `toml:"bootstrap"`

	// MaxVoters caps the voters: 3 (tolerates one failure) or 5 (two).
	// Default DefaultMaxVoters.
	MaxVoters int `toml:"max_voters"`

	// HeartbeatTimeout, ElectionTimeout: Raft's timeouts (see
	// raft.Config). LeaderLeaseTimeout defaults to half of HeartbeatTimeout,
	// CommitTimeout to 10 ms.
	HeartbeatTimeout   time.Duration `toml:"heartbeat_timeout"`
	ElectionTimeout    time.Duration `toml:"election_timeout"`
	LeaderLeaseTimeout time.Duration `toml:"leader_lease_timeout"`
	CommitTimeout      time.Duration `toml:"commit_timeout"`

	// HeartbeatInterval is how often this node applies a Heartbeat command.
	// Default DefaultHeartbeatInterval. Must be well below DeadNodeTimeout.
	HeartbeatInterval time.Duration `toml:"heartbeat_interval"`

	// DeadNodeTimeout: the leader removes a server whose last heartbeat is
	// older than this from the Raft configuration (and the node table).
	// Default DefaultDeadNodeTimeout; negative disables removal.
	DeadNodeTimeout time.Duration `toml:"dead_node_timeout"`

	// Retention: the leader applies Compact(now - Retention) every
	// CompactInterval, folding older done and dead-lettered partition
	// records into the compacted id sets (IsDone keeps answering) and
	// forgetting command sessions idle that long. Defaults DefaultRetention
	// and DefaultCompactInterval; Retention <= 0 disables compaction.
	Retention       time.Duration `toml:"retention"`
	CompactInterval time.Duration `toml:"compact_interval"`

	// ApplyTimeout is the retry budget of Apply and Join (unless the ctx
	// ends first). Default DefaultApplyTimeout.
	ApplyTimeout time.Duration `toml:"apply_timeout"`

	// ForwardTimeout bounds one forwarded request. Default
	// DefaultForwardTimeout.
	ForwardTimeout time.Duration `toml:"forward_timeout"`

	// MaxBatch is the most commands the leader coalesces into one Raft entry.
	// Default DefaultMaxBatch.
	MaxBatch int `toml:"max_batch"`

	// SnapshotThreshold, SnapshotInterval, TrailingLogs: see raft.Config.
	SnapshotThreshold uint64        `toml:"snapshot_threshold"`
	SnapshotInterval  time.Duration `toml:"snapshot_interval"`
	TrailingLogs      uint64        `toml:"trailing_logs"`

	// SnapshotRetain is how many snapshots stay on disk. Default 2.
	SnapshotRetain int `toml:"snapshot_retain"`

	// WALSegmentSize is the raft-wal segment size in bytes (each segment
	// file is preallocated). Default DefaultWALSegmentSize (64 MiB).
	WALSegmentSize int `toml:"wal_segment_size"`

	// Transport, if set, replaces the TCP transport (for example a
	// raft.InmemTransport in tests). The caller owns it and closes it after
	// the Catalog; BindAddr and AdvertiseAddr are ignored and the transport's
	// LocalAddr is advertised.
	Transport raft.Transport `toml:"-"`

	// TLS turns on mutual TLS for the Raft TCP transport (ignored when
	// Transport is set). Default off: plain TCP.
	TLS TLSConfig `toml:"tls"`

	// Logger receives the catalog's and Raft's log lines. Default
	// slog.Default().
	Logger *slog.Logger `toml:"-"`

	// RaftLogLevel is the lowest level of Raft's own lines forwarded to
	// Logger. Default slog.LevelWarn.
	RaftLogLevel slog.Level `toml:"raft_log_level"`
}

// DefaultConfig returns a Config with every default set; NodeID and Dir are
// empty and must be set.
func DefaultConfig() Config {
	return Config{
		BindAddr:          DefaultBindAddr,
		MaxVoters:         DefaultMaxVoters,
		HeartbeatTimeout:  DefaultHeartbeatTimeout,
		ElectionTimeout:   DefaultElectionTimeout,
		HeartbeatInterval: DefaultHeartbeatInterval,
		DeadNodeTimeout:   DefaultDeadNodeTimeout,
		Retention:         DefaultRetention,
		CompactInterval:   DefaultCompactInterval,
		ApplyTimeout:      DefaultApplyTimeout,
		ForwardTimeout:    DefaultForwardTimeout,
		MaxBatch:          DefaultMaxBatch,
		SnapshotThreshold: DefaultSnapshotThreshold,
		SnapshotInterval:  DefaultSnapshotInterval,
		TrailingLogs:      DefaultTrailingLogs,
		SnapshotRetain:    DefaultSnapshotRetain,
		WALSegmentSize:    DefaultWALSegmentSize,
		RaftLogLevel:      slog.LevelWarn,
	}
}

// Validate checks the Config and returns an error wrapping ErrInvalidConfig
// naming every offending field (errors joined), or nil.
func (c Config) Validate() error {
	var errs []error
	if !validToken(c.NodeID) || strings.HasPrefix(c.NodeID, "_") {
		errs = append(errs, configErr("node_id", "%q must be a non-empty NATS subject token (no '.', spaces, '*', '>') not starting with '_'", c.NodeID))
	}
	if strings.TrimSpace(c.Dir) == "" {
		errs = append(errs, configErr("dir", "required"))
	}
	if c.Transport == nil {
		errs = append(errs, validateAddrs(c.BindAddr, c.AdvertiseAddr)...)
		if err := c.TLS.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxVoters != 3 && c.MaxVoters != 5 {
		errs = append(errs, configErr("max_voters", "%d must be 3 or 5", c.MaxVoters))
	}
	if c.HeartbeatTimeout < 5*time.Millisecond {
		errs = append(errs, configErr("heartbeat_timeout", "%s must be >= 5ms", c.HeartbeatTimeout))
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, configErr("election_timeout", "%s must be >= heartbeat_timeout %s", c.ElectionTimeout, c.HeartbeatTimeout))
	}
	if c.LeaderLeaseTimeout < 0 || c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		errs = append(errs, configErr("leader_lease_timeout", "%s must be between 0 (default) and heartbeat_timeout", c.LeaderLeaseTimeout))
	}
	if c.CommitTimeout < 0 {
		errs = append(errs, configErr("commit_timeout", "%s must not be negative", c.CommitTimeout))
	}
	if c.HeartbeatInterval <= 0 {
		errs = append(errs, configErr("heartbeat_interval", "%s must be > 0", c.HeartbeatInterval))
	}
	if c.DeadNodeTimeout > 0 && c.DeadNodeTimeout < 2*c.HeartbeatInterval {
		errs = append(errs, configErr("dead_node_timeout", "%s must be >= 2 x heartbeat_interval (%s), or negative to disable", c.DeadNodeTimeout, c.HeartbeatInterval))
	}
	if c.Retention > 0 && c.CompactInterval <= 0 {
		errs = append(errs, configErr("compact_interval", "%s must be > 0 when retention is set", c.CompactInterval))
	}
	if c.ApplyTimeout <= 0 {
		errs = append(errs, configErr("apply_timeout", "%s must be > 0", c.ApplyTimeout))
	}
	if c.ForwardTimeout <= 0 {
		errs = append(errs, configErr("forward_timeout", "%s must be > 0", c.ForwardTimeout))
	}
	if c.MaxBatch <= 0 {
		errs = append(errs, configErr("max_batch", "%d must be > 0", c.MaxBatch))
	}
	if c.SnapshotInterval < 5*time.Millisecond {
		errs = append(errs, configErr("snapshot_interval", "%s must be >= 5ms", c.SnapshotInterval))
	}
	if c.SnapshotRetain < 1 {
		errs = append(errs, configErr("snapshot_retain", "%d must be >= 1", c.SnapshotRetain))
	}
	if c.WALSegmentSize < 64<<10 {
		errs = append(errs, configErr("wal_segment_size", "%d must be >= 64 KiB", c.WALSegmentSize))
	}
	return errors.Join(errs...)
}

func validateAddrs(bind, adv string) []error {
	var errs []error
	bhost, bport, err := net.SplitHostPort(bind)
	if err != nil {
		return []error{configErr("bind_addr", "%q: %v", bind, err)}
	}
	if adv == "" {
		ip := net.ParseIP(bhost)
		if bhost == "" || (ip != nil && ip.IsUnspecified()) {
			errs = append(errs, configErr("advertise_addr", "required when bind_addr %q has an unspecified host: peers cannot dial it", bind))
		}
		return errs
	}
	ahost, aport, err := net.SplitHostPort(adv)
	if err != nil {
		return append(errs, configErr("advertise_addr", "%q: %v", adv, err))
	}
	if ip := net.ParseIP(ahost); ahost == "" || (ip != nil && ip.IsUnspecified()) {
		errs = append(errs, configErr("advertise_addr", "%q must name a real address, not an unspecified one", adv))
	}
	if aport == "0" || (aport == "" && bport == "0") {
		errs = append(errs, configErr("advertise_addr", "%q needs a real port", adv))
	}
	return errs
}
