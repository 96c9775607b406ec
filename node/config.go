package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/plan"
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
	Node      NodeConfig      `toml:"node"`
	Broker    BrokerConfig    `toml:"broker"`
	Catalog   CatalogConfig   `toml:"catalog"`
	Pipelines []plan.Pipeline `toml:"pipeline"`
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
	HeartbeatInterval plan.Duration `toml:"heartbeat_interval"`
	DeadNodeTimeout   plan.Duration `toml:"dead_node_timeout"`
	// ElectionTimeout of Raft (default 1s; heartbeat timeout the same).
	ElectionTimeout plan.Duration `toml:"election_timeout"`
	// ForwardTimeout bounds one command forwarded to the leader (default
	// 1s): after the leader dies, a forward in flight waits this long
	// before it is retried with the new leader, holding its partition.
	ForwardTimeout plan.Duration `toml:"forward_timeout"`
	// KeyFile holds the fleet key (at least 32 bytes, surrounding white
	// space ignored; e.g. `openssl rand -hex 32 > fleet.key`), shared by
	// every member:
	// catalog requests between nodes carry an HMAC under it, and the
	// catalog rejects (logs and counts) any request without a valid one,
	// so a client with broker access but no key cannot change the catalog
	// (mark partitions done, remove voters). $PCS_CATALOG_KEY_FILE sets it
	// too. Empty: requests are not authenticated (a warning at start);
	// then only NATS permissions on pcs.catalog.> protect the catalog.
	KeyFile string `toml:"key_file"`
	// TLSCA, TLSCert and TLSKey (PEM files) turn on mutual TLS for the
	// Raft transport: each node presents TLSCert and accepts only peers
	// whose certificate TLSCA signed (a peer without one cannot take part).
	// TLSServerName is the name checked in peers' certificates; default
	// the host of the dialed Raft address (which must then be in the
	// certificate's SANs).
	TLSCA         string `toml:"tls_ca"`
	TLSCert       string `toml:"tls_cert"`
	TLSKey        string `toml:"tls_key"`
	TLSServerName string `toml:"tls_server_name"`
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
	DrainTimeout plan.Duration `toml:"drain_timeout"`
	// HTTPTokenFile holds the bearer token (one line) that /v1/* (and,
	// with HTTPAuthMetrics, /metrics) require; the PCS_HTTP_TOKEN
	// environment variable sets the token itself instead. Default: none,
	// the control plane is open (it binds loopback by default).
	// /healthz and /readyz stay open for probes.
	HTTPTokenFile string `toml:"http_token_file"`
	// HTTPAuthMetrics makes /metrics require the token too (Prometheus
	// then needs authorization.credentials_file).
	HTTPAuthMetrics bool `toml:"http_auth_metrics"`
	// HTTPTLSCert and HTTPTLSKey serve the control plane over HTTPS.
	HTTPTLSCert string `toml:"http_tls_cert"`
	HTTPTLSKey  string `toml:"http_tls_key"`
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
	MaxPayload plan.Size `toml:"max_payload"`
	// ObjectBucket is the JetStream object store bucket for claim checks;
	// default "pcs-objects".
	ObjectBucket string `toml:"object_bucket"`

	// PublishAckTimeout is how long one publish of an output waits for
	// JetStream's acknowledgement before it is sent again (the same
	// message id: the stream drops the copy); default 10s. When a stream's
	// leader dies, a publish in flight is never acknowledged: the
	// partition waits this long, so a cluster wants it short.
	PublishAckTimeout plan.Duration `toml:"publish_ack_timeout"`

	// Replicas of every stream and object-store bucket the node
	// provisions (input, output, dlq, late, partials, claim check,
	// checkpoints): 1 (default), 3 or 5. More than 1 needs a NATS cluster
	// (broker.url); an existing stream with another count is an error
	// naming it (provisioning never changes existing streams).
	Replicas int `toml:"replicas"`
	// PlacementCluster and PlacementTags place those streams' replicas on
	// a cluster and on servers with all the tags; default: the server
	// chooses.
	PlacementCluster string   `toml:"placement_cluster"`
	PlacementTags    []string `toml:"placement_tags"`

	// Client is how the node authenticates to NATS (creds, nkey,
	// user/password or token) and checks its TLS (tls_ca, tls_cert,
	// tls_key, tls_server_name); the keys sit directly in [broker]. Empty
	// fields are read from PCS_NATS_* (broker.ClientConfig.FromEnv). With
	// the embedded broker, a user/password or token here is also what the
	// broker requires of every client.
	broker.ClientConfig

	// ListenTLSCert and ListenTLSKey serve the embedded broker's listener
	// over TLS (PEM files); with ListenTLSCA clients must present a
	// certificate signed by it.
	ListenTLSCert string `toml:"listen_tls_cert"`
	ListenTLSKey  string `toml:"listen_tls_key"`
	ListenTLSCA   string `toml:"listen_tls_ca"`
	// AllowNoAuth lets the embedded broker listen on a non-loopback
	// address without authorization (anyone reaching the port can read
	// and write every stream). Default false: the node refuses to start.
	AllowNoAuth bool `toml:"allow_no_auth"`
}

// LoadConfig reads and decodes a config file (see Config), applies
// defaults and validates it. Relative paths written in the file
// (broker.store_dir, catalog.dir and the pipelines' paths:
// plan.ResolvePaths) resolve against the file's directory; the defaults
// (./pcs-data/...) are relative to the working directory.
func LoadConfig(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("node: config: %w", err)
	}
	var written Config // the paths the file sets, before defaults
	if err := plan.DecodeStrict(path, src, &written); err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(path, src)
	if err != nil {
		return Config{}, err
	}
	dir := filepath.Dir(path)
	if written.Broker.StoreDir != "" {
		c.Broker.StoreDir = plan.Resolve(dir, c.Broker.StoreDir)
	}
	c.Catalog.Dir = plan.Resolve(dir, c.Catalog.Dir)
	for _, p := range []*string{&c.Broker.Creds, &c.Broker.NKey, &c.Broker.TLSCA, &c.Broker.TLSCert, &c.Broker.TLSKey,
		&c.Broker.ListenTLSCert, &c.Broker.ListenTLSKey, &c.Broker.ListenTLSCA,
		&c.Node.HTTPTokenFile, &c.Node.HTTPTLSCert, &c.Node.HTTPTLSKey,
		&c.Catalog.TLSCA, &c.Catalog.TLSCert, &c.Catalog.TLSKey} {
		if *p != "" {
			*p = plan.Resolve(dir, *p)
		}
	}
	plan.ResolvePaths(c.Pipelines, dir)
	return c, nil
}

// ParseConfig is LoadConfig on src; name labels it in errors.
func ParseConfig(name string, src []byte) (Config, error) {
	var c Config
	if err := plan.DecodeStrict(name, src, &c); err != nil {
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
	plan.Def(&c.Node.HTTP, "127.0.0.1:9464")
	plan.Def(&c.Node.LogLevel, "info")
	plan.Def(&c.Node.LogFormat, "text")
	plan.Def(&c.Node.DrainTimeout, plan.Duration(30*time.Second))
	plan.Def(&c.Broker.StoreDir, "./pcs-data/broker")
	plan.Def(&c.Broker.MaxPayload, 1<<20)
	plan.Def(&c.Broker.ObjectBucket, "pcs-objects")
	plan.Def(&c.Broker.Replicas, 1)
	plan.Def(&c.Broker.PublishAckTimeout, plan.Duration(10*time.Second))
	plan.Def(&c.Catalog.Bind, "127.0.0.1:7400")
	plan.Def(&c.Catalog.Cluster, "pcs")
	plan.Def(&c.Catalog.MaxVoters, 3)
	plan.Def(&c.Catalog.HeartbeatInterval, plan.Duration(time.Second))
	plan.Def(&c.Catalog.DeadNodeTimeout, plan.Duration(30*time.Second))
	plan.Def(&c.Catalog.ElectionTimeout, plan.Duration(time.Second))
	plan.Def(&c.Catalog.ForwardTimeout, plan.Duration(time.Second))
	for i := range c.Pipelines {
		c.Pipelines[i].SetDefaults()
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
	switch c.Broker.Replicas {
	case 1, 3, 5:
	default:
		bad("broker.replicas %d: want 1, 3 or 5", c.Broker.Replicas)
	}
	if c.Broker.URL == "" && c.Broker.Replicas > 1 {
		bad("broker.replicas %d needs a NATS cluster (broker.url): the embedded broker is a single server", c.Broker.Replicas)
	}
	if c.Broker.PublishAckTimeout < plan.Duration(100*time.Millisecond) {
		bad("broker.publish_ack_timeout %s: want at least 100ms", time.Duration(c.Broker.PublishAckTimeout))
	}
	if err := c.Broker.ClientConfig.Validate(); err != nil {
		bad("broker: %v", err)
	}
	if (c.Node.HTTPTLSCert == "") != (c.Node.HTTPTLSKey == "") {
		bad("node.http_tls_cert and node.http_tls_key: set both or neither")
	}
	if n := countSet(c.Catalog.TLSCA, c.Catalog.TLSCert, c.Catalog.TLSKey); n != 0 && n != 3 {
		bad("catalog.tls_ca, tls_cert and tls_key: set all three (mutual TLS) or none")
	}
	if err := plan.SetupPipelines(c.Pipelines); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}
