package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Broker is a running embedded nats-server with JetStream enabled. Create it
// with Start and stop it with Shutdown. Its methods are safe for concurrent
// use.
type Broker struct {
	cfg    Config
	srv    *server.Server
	log    *slogLogger
	unlock func() error

	closed       atomic.Bool
	shutdownOnce sync.Once
	done         chan struct{} // closed when Shutdown has completed
	shutdownErr  error         // written before done is closed
}

// Start validates cfg, locks cfg.StoreDir, starts an embedded nats-server with
// JetStream in this process and waits until it is ready for connections with
// JetStream enabled. The wait is bounded by cfg.ReadyTimeout and by ctx; ctx
// is used only for start-up, not stored.
//
// The server never installs signal handlers (SIGINT/SIGTERM stay with the
// program) and never exits the process. Errors wrap ErrInvalidConfig,
// ErrStoreLocked or ErrStartFailed (or ctx's error); on error nothing is left
// running and the store is unlocked.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("%w: create store dir: %v", ErrStartFailed, err)
	}
	unlock, err := lockStoreDir(cfg.StoreDir)
	if err != nil {
		return nil, err
	}

	opts := &server.Options{
		ServerName:         cfg.ServerName,
		Host:               cfg.Host,
		Port:               cfg.Port,
		DontListen:         !cfg.Listen,
		MaxPayload:         int32(cfg.MaxPayload),
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		SyncAlways:         cfg.SyncAlways,
		SyncInterval:       cfg.SyncInterval,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		// An embedded server must not take over the program's signals: by
		// default nats-server handles SIGINT/SIGTERM and exits the process.
		NoSigs: true,
		NoLog:  true,
	}
	if !cfg.Listen {
		// No listener; keep the unused port from suggesting one.
		opts.Port = RandomPort
	}
	if err := applySecurity(opts, cfg); err != nil {
		unlock()
		return nil, err
	}
	if cfg.ServerOptions != nil {
		cfg.ServerOptions(opts)
	}

	srv, err := server.NewServer(opts)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("%w: %v", ErrStartFailed, err)
	}
	logger := newSlogLogger(cfg.Logger, cfg.LogLevel)
	srv.SetLoggerV2(logger, cfg.LogLevel <= slog.LevelDebug, cfg.LogLevel <= LevelTrace, false)

	b := &Broker{cfg: cfg, srv: srv, log: logger, unlock: unlock, done: make(chan struct{})}

	fail := func(err error) (*Broker, error) {
		// Bound the clean-up; a server that failed to start has little to stop.
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ReadyTimeout)
		defer cancel()
		if serr := b.Shutdown(sctx); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, err
	}

	// Server.Start runs JetStream recovery synchronously; run it aside so ctx
	// and ReadyTimeout bound it.
	deadline := time.Now().Add(cfg.ReadyTimeout)
	timer := time.NewTimer(cfg.ReadyTimeout)
	defer timer.Stop()
	started := make(chan struct{})
	go func() {
		defer close(started)
		srv.Start()
	}()
	select {
	case <-started:
	case <-ctx.Done():
		return fail(fmt.Errorf("%w: %w", ErrStartFailed, ctx.Err()))
	case <-timer.C:
		return fail(fmt.Errorf("%w: server did not start within ready_timeout %s (JetStream recovery of %s may need longer)",
			ErrStartFailed, cfg.ReadyTimeout, cfg.StoreDir))
	}
	if ferr := logger.firstFatal(); ferr != nil {
		return fail(fmt.Errorf("%w: %v", ErrStartFailed, ferr))
	}

	ready := make(chan bool, 1)
	go func() { ready <- srv.ReadyForConnections(max(time.Until(deadline), time.Millisecond)) }()
	select {
	case ok := <-ready:
		if !ok {
			if ferr := logger.firstFatal(); ferr != nil {
				return fail(fmt.Errorf("%w: %v", ErrStartFailed, ferr))
			}
			return fail(fmt.Errorf("%w: server not ready for connections within ready_timeout %s", ErrStartFailed, cfg.ReadyTimeout))
		}
	case <-ctx.Done():
		return fail(fmt.Errorf("%w: %w", ErrStartFailed, ctx.Err()))
	}
	if !srv.JetStreamEnabled() {
		return fail(fmt.Errorf("%w: JetStream is not enabled on the server", ErrStartFailed))
	}
	return b, nil
}

// Connect opens a client connection to the broker over an in-process pipe
// (nats.InProcessServer): no TCP, and it works whether or not Config.Listen is
// set. opts are applied after the broker's own (a client name), so callers can
// override them. The caller owns the connection and must Close it; after
// Shutdown, open connections are disconnected and keep trying to reconnect
// until closed or out of reconnect attempts. Returns ErrClosed after Shutdown
// has begun.
func (b *Broker) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	all := append([]nats.Option{nats.Name("pcs-inprocess"), nats.InProcessServer(b.srv)}, opts...)
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect in-process: %w", err)
	}
	return nc, nil
}

// JetStream returns a JetStream management and publishing handle on nc (a
// convenience for jetstream.New). nc may come from Connect or from any
// connection to this broker.
func (b *Broker) JetStream(nc *nats.Conn, opts ...jetstream.JetStreamOpt) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: jetstream: %w", err)
	}
	return js, nil
}

// ClientURL returns the URL of the TCP listener, such as
// "nats://127.0.0.1:40123" (with the real port when Config.Port was
// RandomPort), for nats.Connect from this or another process. It returns ""
// when Config.Listen is false.
func (b *Broker) ClientURL() string {
	if !b.cfg.Listen {
		return ""
	}
	return b.srv.ClientURL()
}

// Config returns the Config the broker was started with.
func (b *Broker) Config() Config { return b.cfg }

// Server returns the underlying nats-server, for what this package does not
// wrap (monitoring, JetStream account info, ...). Do not call its Shutdown or
// Start: use Broker.Shutdown.
func (b *Broker) Server() *server.Server { return b.srv }

// Shutdown stops the server, closes client connections, flushes JetStream and
// waits for the server's goroutines to end, then releases the StoreDir lock.
// The wait is bounded by ctx: if ctx ends first, Shutdown returns ctx's error
// (wrapped) while the shutdown continues in the background; call it again to
// wait for the rest. It is safe to call Shutdown more than once and from
// several goroutines; every call waits for the same shutdown and returns its
// result (nil, or an error from releasing the lock).
func (b *Broker) Shutdown(ctx context.Context) error {
	b.shutdownOnce.Do(func() {
		b.closed.Store(true)
		go func() {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
			b.shutdownErr = b.unlock()
			close(b.done)
		}()
	})
	select {
	case <-b.done:
		if b.shutdownErr != nil {
			return fmt.Errorf("broker: shutdown: release store lock: %w", b.shutdownErr)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broker: shutdown: %w", ctx.Err())
	}
}

// applySecurity sets the server's authorization and TLS from cfg.
func applySecurity(opts *server.Options, cfg Config) error {
	a := cfg.Auth
	opts.Authorization = a.Token
	perms := func(p Permissions) *server.Permissions {
		if len(p.Publish) == 0 && len(p.Subscribe) == 0 {
			return nil
		}
		sp := &server.Permissions{}
		if len(p.Publish) > 0 {
			sp.Publish = &server.SubjectPermission{Allow: p.Publish}
		}
		if len(p.Subscribe) > 0 {
			sp.Subscribe = &server.SubjectPermission{Allow: p.Subscribe}
		}
		return sp
	}
	for _, u := range a.Users {
		opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: perms(u.Permissions)})
	}
	for _, u := range a.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.PublicKey, Permissions: perms(u.Permissions)})
	}
	if cfg.TLS.Enabled() {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key, CaFile: cfg.TLS.CA, Verify: cfg.TLS.VerifyClients})
		if err != nil {
			return fmt.Errorf("%w: tls: %v", ErrStartFailed, err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify = tc, true, cfg.TLS.VerifyClients
		opts.TLSTimeout = 2
	}
	return nil
}
