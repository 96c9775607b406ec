package catalog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TLSConfig turns on mutual TLS for the Raft TCP transport: every node
// presents CertFile/KeyFile and accepts only peers (dialing or dialed)
// whose certificate is signed by a CA in CAFile. A peer without such a
// certificate cannot exchange a single Raft message, so it cannot vote,
// replicate or join.
type TLSConfig struct {
	// CAFile is a PEM bundle of the CAs that sign the nodes' certificates.
	CAFile string `toml:"ca_file"`
	// CertFile and KeyFile are this node's certificate and key (PEM). The
	// certificate serves both ends (server and client auth) and must name
	// the advertised Raft address (an IP SAN, or a DNS SAN with
	// ServerName).
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// ServerName is the name checked in the dialed peer's certificate;
	// default the host of the peer's Raft address.
	ServerName string `toml:"server_name"`
}

// Enabled reports whether any TLS file is set.
func (t TLSConfig) Enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

func (t TLSConfig) validate() error {
	if t.Enabled() && (t.CAFile == "" || t.CertFile == "" || t.KeyFile == "") {
		return configErr("tls", "ca_file, cert_file and key_file: set all three (mutual TLS) or none")
	}
	return nil
}

// configs loads the files into the listener's and the dialer's tls.Config.
func (t TLSConfig) configs() (server, client *tls.Config, err error) {
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("catalog: tls ca %s: no PEM certificate found", t.CAFile)
	}
	kp, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: tls certificate %s / key %s: %w", t.CertFile, t.KeyFile, err)
	}
	server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	client = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}, RootCAs: pool, ServerName: t.ServerName}
	return server, client, nil
}

// tlsStreamLayer is a raft.StreamLayer over mutual TLS.
type tlsStreamLayer struct {
	net.Listener
	adv    net.Addr
	client *tls.Config
}

// Addr is the advertised address.
func (l *tlsStreamLayer) Addr() net.Addr {
	if l.adv != nil {
		return l.adv
	}
	return l.Listener.Addr()
}

// Accept returns a connection whose handshake (and client certificate
// check) succeeded; peers that fail it are closed and skipped, so they
// never reach Raft.
func (l *tlsStreamLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := c.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			tc.Close()
			continue
		}
		_ = tc.SetDeadline(time.Time{})
		return tc, nil
	}
}

// Dial connects to a peer and completes the handshake.
func (l *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	cfg := l.client.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(string(address))
		if err != nil {
			return nil, err
		}
		cfg.ServerName = host
	}
	d := &net.Dialer{Timeout: timeout}
	return tls.DialWithDialer(d, "tcp", string(address), cfg)
}

// newTLSTransport is raft.NewTCPTransport over mutual TLS.
func newTLSTransport(t TLSConfig, bind string, adv net.Addr, logger hclog.Logger) (*raft.NetworkTransport, error) {
	server, client, err := t.configs()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if adv == nil {
		a, ok := ln.Addr().(*net.TCPAddr)
		if !ok || a.IP.IsUnspecified() {
			ln.Close()
			return nil, errors.New("catalog: the Raft listener has no advertisable address")
		}
		adv = a
	}
	sl := &tlsStreamLayer{Listener: tls.NewListener(ln, server), adv: adv, client: client}
	return raft.NewNetworkTransportWithLogger(sl, 3, 10*time.Second, logger), nil
}
