package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults used by DefaultConfig.
const (
	// DefaultServerName is the server name DefaultConfig sets. A fixed name
	// keeps the JetStream node identity stable across restarts.
	DefaultServerName = "pcs-broker"
	// DefaultHost is the listener address DefaultConfig sets: loopback only.
	// (nats-server's own default is 0.0.0.0.)
	DefaultHost = "127.0.0.1"
	// DefaultPort is the NATS client port, 4222.
	DefaultPort = 4222
	// RandomPort as Config.Port makes the server pick a free port; read it
	// back with Broker.ClientURL.
	RandomPort = -1
	// DefaultMaxPayload is the NATS default maximum message size, 1 MiB
	// (headers included).
	DefaultMaxPayload = 1 << 20
	// DefaultReadyTimeout is how long Start waits for the server by default.
	DefaultReadyTimeout = 10 * time.Second
	// DefaultLogLevel forwards only warnings and errors of the server.
	DefaultLogLevel = slog.LevelWarn
	// LevelTrace is the slog level that nats-server trace lines (every
	// protocol message) are logged at. Setting Config.LogLevel to it or below
	// turns server tracing on; it is very verbose.
	LevelTrace = slog.LevelDebug - 4

	// maxPayloadLimit is the largest max_payload nats-server accepts (64 MiB).
	maxPayloadLimit = 64 << 20
)

// Config configures an embedded broker. Start it with Start. Build one with
// DefaultConfig and change the fields you need; the zero value is not valid
// (StoreDir is required and MaxPayload/ReadyTimeout must be set).
type Config struct {
	// StoreDir is the directory JetStream keeps its data in (a "jetstream"
	// subdirectory is created inside). Required. It is created if missing
	// (mode 0750). Only one Broker may use a StoreDir at a time: Start takes
	// an exclusive lock on it (see ErrStoreLocked).
	StoreDir string `toml:"store_dir"`

	// ServerName names the server in logs, monitoring and JetStream. Default
	// DefaultServerName ("pcs-broker"). Must not contain spaces. Keep it
	// stable across restarts of the same StoreDir.
	ServerName string `toml:"server_name"`

	// Listen opens a TCP client listener on Host:Port. Default false: only
	// in-process connections (Broker.Connect) work and no port is opened.
	Listen bool `toml:"listen"`

	// Host is the listener's address when Listen is set. Default DefaultHost
	// ("127.0.0.1", loopback only); use "0.0.0.0" to accept remote clients.
	Host string `toml:"host"`

	// Port is the listener's TCP port when Listen is set. Default 4222.
	// RandomPort (-1) picks a free port (useful in tests); read it back with
	// Broker.ClientURL. 0 means the NATS default, 4222.
	Port int `toml:"port"`

	// MaxPayload is the largest message, in bytes, the server accepts from a
	// client, headers included (a 1 MiB body plus Nats-Msg-Id and Pcs-*
	// headers does not fit the 1 MiB default). Default DefaultMaxPayload
	// (1 MiB, the NATS default). At most 64 MiB; the server warns above 8 MiB
	// and JetStream is not meant for messages that large: use the object
	// store (claim check) instead.
	MaxPayload int64 `toml:"max_payload"`

	// SyncAlways makes the file store fsync every write before JetStream
	// acknowledges it. Default false, the NATS default: writes go to the OS
	// page cache and are fsynced every SyncInterval (2 minutes by default).
	//
	// What each risks: with false, a process crash loses nothing (the OS has
	// the data), but a power loss or kernel crash can lose writes that were
	// already acknowledged to publishers, up to SyncInterval of them (Jepsen
	// found NATS 2.12.1 losing acknowledged writes this way). With true,
	// acknowledged writes survive power loss, at the price of one fsync per
	// write: publish throughput drops, sharply on slow disks.
	SyncAlways bool `toml:"sync_always"`

	// SyncInterval is how often the file store fsyncs when SyncAlways is
	// false. Default 0 = the server default, 2 minutes. Ignored when
	// SyncAlways is true.
	SyncInterval time.Duration `toml:"sync_interval"`

	// MaxMemory limits, in bytes, the memory all memory-storage streams of
	// the server may use. Default 0 = server default (75% of system memory or
	// GOMEMLIMIT).
	MaxMemory int64 `toml:"max_memory"`

	// MaxStore limits, in bytes, the disk all file-storage streams may use.
	// Default 0 = server default (75% of the free space on StoreDir's disk at
	// start).
	MaxStore int64 `toml:"max_store"`

	// ReadyTimeout bounds how long Start waits for the server to be ready for
	// connections with JetStream enabled. It includes JetStream's recovery of
	// existing streams from StoreDir, which grows with the data: raise it for
	// large stores. Default DefaultReadyTimeout (10s).
	ReadyTimeout time.Duration `toml:"ready_timeout"`

	// Logger receives the server's log lines, with attribute
	// component=nats-server. Default nil = slog.Default().
	Logger *slog.Logger `toml:"-"`

	// LogLevel is the lowest level forwarded to Logger. Server notices map to
	// Info, warnings to Warn, errors and fatal errors to Error, debug lines to
	// Debug and trace lines to LevelTrace. Default DefaultLogLevel (Warn):
	// quiet except warnings and errors. Debug or lower turns on the server's
	// debug output, LevelTrace or lower its protocol tracing.
	LogLevel slog.Level `toml:"log_level"`

	// ServerOptions, if set, is called by Start with the nats-server options
	// it derived from this Config, just before the server is created: a hook
	// for server settings this Config does not wrap (tests shrink
	// StreamMaxBufferedMsgs with it to provoke 429s). Default nil. Changing
	// what Start itself relies on (JetStream, StoreDir, NoSigs, DontListen)
	// is unsupported.
	ServerOptions func(*server.Options) `toml:"-" json:"-"`

	// Auth makes clients authenticate (TCP and in-process alike). Default:
	// none, which Validate allows only on a loopback listener (or without
	// one) unless AllowNoAuth is set.
	Auth Auth `toml:"auth"`

	// TLS serves the client listener over TLS. Default off. In-process
	// connections (Broker.Connect) never need TLS.
	TLS ServerTLS `toml:"tls"`

	// AllowNoAuth lets a listener on a non-loopback address start without
	// Auth: anyone who reaches the port can then read and write every
	// stream. Default false: Validate refuses that combination.
	AllowNoAuth bool `toml:"allow_no_auth"`
}

// Auth is the embedded server's authorization: a token, or users with
// passwords, or nkey users. Set at most one of Token and Users/NKeys.
type Auth struct {
	// Token every client must present. Never logged.
	Token string `toml:"token" json:"-"`
	// Users with passwords, each optionally limited to subjects.
	Users []User `toml:"users"`
	// NKeys are users that sign a server nonce with their nkey seed.
	NKeys []NKeyUser `toml:"nkeys"`
}

// User is one user of Auth.Users.
type User struct {
	// Name and Password the client presents. Password is never logged.
	Name     string `toml:"name"`
	Password string `toml:"password" json:"-"`
	// Permissions limits the subjects the user may use; zero: all.
	Permissions Permissions `toml:"permissions"`
}

// NKeyUser is one user of Auth.NKeys, known by its public nkey ("U...").
type NKeyUser struct {
	// PublicKey is the user's public nkey ("U..."); the client signs with
	// the matching seed (ClientConfig.NKey).
	PublicKey string `toml:"public_key"`
	// Permissions limits the subjects the user may use; zero: all.
	Permissions Permissions `toml:"permissions"`
}

// Permissions are allow lists of subjects (wildcards allowed); an empty
// list allows everything. Note that JetStream API calls ($JS.API.>) and
// replies (_INBOX.>) are subjects too.
type Permissions struct {
	// Publish lists the subjects the user may publish to.
	Publish []string `toml:"publish"`
	// Subscribe lists the subjects the user may subscribe to.
	Subscribe []string `toml:"subscribe"`
}

// Set reports whether any authorization is configured.
func (a Auth) Set() bool { return a.Token != "" || len(a.Users) > 0 || len(a.NKeys) > 0 }

// ServerTLS is the client listener's TLS: Cert and Key (PEM files) are the
// server's; CA (PEM) verifies client certificates when VerifyClients is set.
type ServerTLS struct {
	// Cert and Key are the server's certificate and key (PEM files).
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	// CA is a PEM bundle of the CAs that sign client certificates.
	CA string `toml:"ca"`
	// VerifyClients requires a client certificate signed by CA.
	VerifyClients bool `toml:"verify_clients"`
}

// Enabled reports whether TLS is configured.
func (t ServerTLS) Enabled() bool { return t.Cert != "" || t.Key != "" }

// loopback reports whether host names only the loopback interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DefaultConfig returns a Config with every default set. StoreDir is empty
// and must be set before Start.
func DefaultConfig() Config {
	return Config{
		ServerName:   DefaultServerName,
		Host:         DefaultHost,
		Port:         DefaultPort,
		MaxPayload:   DefaultMaxPayload,
		ReadyTimeout: DefaultReadyTimeout,
		LogLevel:     DefaultLogLevel,
	}
}

// Validate checks the Config and returns an error wrapping ErrInvalidConfig
// that names every offending field (errors joined), or nil.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.StoreDir) == "" {
		errs = append(errs, configErr("store_dir", "required"))
	}
	if strings.ContainsAny(c.ServerName, " \t\r\n") {
		errs = append(errs, configErr("server_name", "%q must not contain spaces", c.ServerName))
	}
	if c.Listen {
		if c.Port < RandomPort || c.Port > math.MaxUint16 {
			errs = append(errs, configErr("port", "%d out of range (-1 for a random port, or 0..65535)", c.Port))
		}
	}
	switch {
	case c.MaxPayload <= 0:
		errs = append(errs, configErr("max_payload", "%d must be > 0 (default %d)", c.MaxPayload, DefaultMaxPayload))
	case c.MaxPayload > maxPayloadLimit:
		errs = append(errs, configErr("max_payload", "%d exceeds the server limit of 64 MiB; use the object store for large bodies", c.MaxPayload))
	}
	if c.SyncInterval < 0 {
		errs = append(errs, configErr("sync_interval", "%s must not be negative", c.SyncInterval))
	}
	if c.MaxMemory < 0 {
		errs = append(errs, configErr("max_memory", "%d must not be negative (0 = server default)", c.MaxMemory))
	}
	if c.MaxStore < 0 {
		errs = append(errs, configErr("max_store", "%d must not be negative (0 = server default)", c.MaxStore))
	}
	if c.ReadyTimeout <= 0 {
		errs = append(errs, configErr("ready_timeout", "%s must be > 0 (default %s)", c.ReadyTimeout, DefaultReadyTimeout))
	}
	if c.Auth.Token != "" && (len(c.Auth.Users) > 0 || len(c.Auth.NKeys) > 0) {
		errs = append(errs, configErr("auth", "set a token or users/nkeys, not both"))
	}
	for i, u := range c.Auth.Users {
		if u.Name == "" || u.Password == "" {
			errs = append(errs, configErr(fmt.Sprintf("auth.users[%d]", i), "needs a name and a password"))
		}
	}
	for i, u := range c.Auth.NKeys {
		if !strings.HasPrefix(u.PublicKey, "U") {
			errs = append(errs, configErr(fmt.Sprintf("auth.nkeys[%d]", i), "public_key must be a user nkey (U...)"))
		}
	}
	if c.TLS.Enabled() && (c.TLS.Cert == "" || c.TLS.Key == "") {
		errs = append(errs, configErr("tls", "needs both cert and key"))
	}
	if c.TLS.VerifyClients && c.TLS.CA == "" {
		errs = append(errs, configErr("tls.verify_clients", "needs tls.ca"))
	}
	if c.Listen && !loopback(c.Host) && !c.Auth.Set() && !c.AllowNoAuth {
		errs = append(errs, fmt.Errorf("%w: listener %s is not loopback and no authorization is configured: set auth (a token, users or nkeys), or allow_no_auth to accept anyone", ErrInvalidConfig, net.JoinHostPort(c.Host, strconv.Itoa(c.Port))))
	}
	return errors.Join(errs...)
}
