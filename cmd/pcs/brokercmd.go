package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/broker"
)

// Broker defaults.
const (
	defaultStoreDir = "./pcs-data/broker" // as pcs-node's embedded broker
	defaultListen   = "127.0.0.1:4222"
	// shutdownTimeout bounds the broker's clean shutdown.
	shutdownTimeout = 30 * time.Second
)

type brokerOptions struct {
	store       string
	listen      string
	syncAlways  bool
	maxPayload  sizeValue
	name        string
	tokenFile   string
	tlsCert     string
	tlsKey      string
	tlsCA       string
	allowNoAuth bool
}

// envBrokerToken holds the token `pcs broker` requires of clients, when
// --token-file is not given.
const envBrokerToken = "PCS_BROKER_TOKEN"

func (e *env) brokerCommand() *cobra.Command {
	o := brokerOptions{maxPayload: broker.DefaultMaxPayload}
	cmd := &cobra.Command{
		Use:   "broker [flags]",
		Short: "Run an embedded NATS JetStream broker until SIGINT/SIGTERM",
		Long: `Broker runs a NATS server with JetStream in this process, storing its data in
--store, and serves clients on --listen until SIGINT or SIGTERM, then shuts
down cleanly. It logs its client URL (log/slog on stderr: text on a
terminal, JSON otherwise). Only one broker may use a store directory at a
time. It creates no streams: pcs-node provisions its own, or use the nats CLI.

Security: --token-file (or $PCS_BROKER_TOKEN) makes every client present
that token (pcs publish/consume: $PCS_NATS_TOKEN; pcs-node: [broker] token);
--tls-cert and --tls-key serve TLS, and --tls-ca also requires client
certificates signed by it. A listener on a non-loopback address without a
token is refused unless --allow-no-auth is given.

Durability: by default JetStream acknowledges writes once they are in the
OS page cache and fsyncs every 2 minutes, so a power loss can lose
acknowledged messages; --sync-always fsyncs every write before the
acknowledgement, at a cost in publish throughput.`,
		Example: `  pcs broker
  pcs broker --store /var/lib/pcs/broker --listen 0.0.0.0:4222 --sync-always --token-file /etc/pcs/nats-token --tls-cert server.pem --tls-key server-key.pem`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("broker takes no arguments, got %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.broker(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.store, "store", defaultStoreDir, "JetStream store directory (created if missing)")
	f.StringVar(&o.listen, "listen", defaultListen, "client listener HOST:PORT (port 0: a free port; host 0.0.0.0: all interfaces)")
	f.BoolVar(&o.syncAlways, "sync-always", false, "fsync every write before acknowledging it (survives power loss; slower)")
	f.Var(&o.maxPayload, "max-payload", "largest message the server accepts, headers included (at most 64MiB)")
	f.StringVar(&o.name, "name", broker.DefaultServerName, "server name (keep it stable across restarts of one store)")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the token clients must present (default: $"+envBrokerToken+"; none: no authorization)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "server certificate (PEM): serve TLS")
	f.StringVar(&o.tlsKey, "tls-key", "", "server key (PEM)")
	f.StringVar(&o.tlsCA, "tls-ca", "", "CA bundle (PEM): require client certificates signed by it")
	f.BoolVar(&o.allowNoAuth, "allow-no-auth", false, "allow a non-loopback listener without a token (anyone reaching it can read and write every stream)")
	return cmd
}

func (e *env) broker(ctx context.Context, o brokerOptions) error {
	host, portStr, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usagef("broker: --listen %q: want HOST:PORT, e.g. 127.0.0.1:4222", o.listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return usagef("broker: --listen %q: bad port", o.listen)
	}
	if port == 0 {
		port = broker.RandomPort
	}
	if host == "" {
		host = "0.0.0.0"
	}

	log := e.logger()
	cfg := broker.DefaultConfig()
	cfg.StoreDir = o.store
	cfg.ServerName = o.name
	cfg.Listen = true
	cfg.Host = host
	cfg.Port = port
	cfg.SyncAlways = o.syncAlways
	cfg.MaxPayload = int64(o.maxPayload)
	cfg.Logger = log
	cfg.AllowNoAuth = o.allowNoAuth
	cfg.Auth.Token = strings.TrimSpace(e.getenv(envBrokerToken))
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return usagef("broker: --token-file: %v", err)
		}
		if cfg.Auth.Token = strings.TrimSpace(string(b)); cfg.Auth.Token == "" {
			return usagef("broker: --token-file %s is empty", o.tokenFile)
		}
	}
	cfg.TLS = broker.ServerTLS{Cert: o.tlsCert, Key: o.tlsKey, CA: o.tlsCA, VerifyClients: o.tlsCA != ""}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}

	b, err := broker.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("broker: interrupted while starting")
		}
		return err
	}
	log.Info("broker ready",
		"url", b.ClientURL(),
		"store", cfg.StoreDir,
		"sync_always", cfg.SyncAlways,
		"max_payload", cfg.MaxPayload,
		"auth", cfg.Auth.Set(),
		"tls", cfg.TLS.Enabled())

	<-ctx.Done()
	log.Info("broker shutting down")
	sctx, cancel := withoutCancel(ctx, shutdownTimeout)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		return fmt.Errorf("broker: shutdown: %w", err)
	}
	log.Info("broker stopped")
	return nil
}

// logger returns the slog logger of long-running commands: tint on a
// terminal, JSON otherwise (DESIGN section 8).
func (e *env) logger() *slog.Logger {
	if e.tty {
		return slog.New(tint.NewTextHandler(e.stderr, &tint.Options{TimeFormat: time.TimeOnly}))
	}
	return slog.New(slog.NewJSONHandler(e.stderr, nil))
}
