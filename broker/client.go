package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// Environment variables ClientConfig.FromEnv reads. Each fills the field of
// the same meaning when the config leaves it empty, so secrets can stay out
// of config files.
const (
	EnvCreds         = "PCS_NATS_CREDS"           // Creds: a .creds file (JWT and nkey seed)
	EnvNKey          = "PCS_NATS_NKEY"            // NKey: a file holding an nkey seed
	EnvUser          = "PCS_NATS_USER"            // User
	EnvPassword      = "PCS_NATS_PASSWORD"        // Password
	EnvToken         = "PCS_NATS_TOKEN"           // Token
	EnvTLSCA         = "PCS_NATS_TLS_CA"          // TLSCA: CA bundle (PEM) to verify the server
	EnvTLSCert       = "PCS_NATS_TLS_CERT"        // TLSCert: client certificate (PEM)
	EnvTLSKey        = "PCS_NATS_TLS_KEY"         // TLSKey: client key (PEM)
	EnvTLSServerName = "PCS_NATS_TLS_SERVER_NAME" // TLSServerName
)

// ClientConfig holds how a NATS client (pcs-node, the pcs CLI) proves who it
// is and checks the server: one of Creds, NKey, User/Password or Token, and
// optionally TLS. The zero value connects without credentials and, unless
// the URL says tls://, without TLS.
//
// Secrets (Password, Token) never appear in String, in errors or in JSON;
// Creds, NKey and the TLS fields are file paths, not secrets.
type ClientConfig struct {
	// Creds is a NATS credentials file (user JWT and nkey seed), as made by
	// nsc. Exclusive with NKey, User and Token.
	Creds string `toml:"creds" json:"creds,omitempty"`
	// NKey is a file holding an nkey user seed ("SU..."). Exclusive with
	// Creds, User and Token.
	NKey string `toml:"nkey" json:"nkey,omitempty"`
	// User and Password authenticate with a user name and password.
	User     string `toml:"user" json:"user,omitempty"`
	Password string `toml:"password" json:"-"`
	// Token authenticates with a bearer token. Exclusive with the others.
	Token string `toml:"token" json:"-"`
	// TLSCA is a PEM bundle of the CAs that sign the servers' certificates.
	// Setting it (or TLSCert) turns TLS on.
	TLSCA string `toml:"tls_ca" json:"tls_ca,omitempty"`
	// TLSCert and TLSKey are the client's certificate and key (PEM), for
	// servers that verify clients (mutual TLS). Both or neither.
	TLSCert string `toml:"tls_cert" json:"tls_cert,omitempty"`
	TLSKey  string `toml:"tls_key" json:"tls_key,omitempty"`
	// TLSServerName is the name checked against the server's certificate;
	// default the URL's host.
	TLSServerName string `toml:"tls_server_name" json:"tls_server_name,omitempty"`
}

// FromEnv returns c with every empty field filled from its environment
// variable (EnvCreds, EnvToken, ...), read with getenv (os.Getenv when nil).
func (c ClientConfig) FromEnv(getenv func(string) string) ClientConfig {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, f := range []struct {
		v   *string
		env string
	}{
		{&c.Creds, EnvCreds}, {&c.NKey, EnvNKey}, {&c.User, EnvUser}, {&c.Password, EnvPassword}, {&c.Token, EnvToken},
		{&c.TLSCA, EnvTLSCA}, {&c.TLSCert, EnvTLSCert}, {&c.TLSKey, EnvTLSKey}, {&c.TLSServerName, EnvTLSServerName},
	} {
		if *f.v == "" {
			*f.v = strings.TrimSpace(getenv(f.env))
		}
	}
	return c
}

// Validate reports conflicting or incomplete settings, naming the fields
// (never their secret values); errors wrap ErrInvalidConfig.
func (c ClientConfig) Validate() error {
	var errs []error
	n := 0
	for _, set := range []bool{c.Creds != "", c.NKey != "", c.User != "" || c.Password != "", c.Token != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, configErr("creds/nkey/user/token", "set only one way to authenticate"))
	}
	if c.Password != "" && c.User == "" {
		errs = append(errs, configErr("password", "set without user"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, configErr("tls_cert/tls_key", "set both or neither"))
	}
	return errors.Join(errs...)
}

// TLS reports whether the config turns TLS on.
func (c ClientConfig) TLS() bool { return c.TLSCA != "" || c.TLSCert != "" }

// Auth names the authentication method: "creds", "nkey", "user", "token"
// or "none". Safe to log.
func (c ClientConfig) Auth() string {
	switch {
	case c.Creds != "":
		return "creds"
	case c.NKey != "":
		return "nkey"
	case c.User != "":
		return "user"
	case c.Token != "":
		return "token"
	}
	return "none"
}

// String describes the config without secrets, for logs.
func (c ClientConfig) String() string {
	s := "auth=" + c.Auth()
	if c.User != "" {
		s += " user=" + c.User
	}
	if c.TLS() {
		s += " tls=on"
	}
	return s
}

// Options returns the nats.Options that apply c. It reads the TLS files
// and the nkey seed now, so a missing or bad file is an error here, naming
// the file.
func (c ClientConfig) Options() ([]nats.Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case c.Creds != "":
		if _, err := os.Stat(c.Creds); err != nil {
			return nil, fmt.Errorf("broker: creds file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.NKey != "":
		o, err := nats.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, fmt.Errorf("broker: nkey seed file %s: %w", c.NKey, err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	if c.TLS() {
		tc, err := ClientTLS(c.TLSCA, c.TLSCert, c.TLSKey, c.TLSServerName)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// ClientTLS builds a client tls.Config: ca (PEM file) verifies the server
// (empty: the system roots), cert and key (PEM files, both or neither) are
// presented to servers that verify clients, serverName overrides the name
// checked (empty: the dialed host).
func ClientTLS(ca, cert, key, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if ca != "" {
		pool, err := LoadCertPool(ca)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if cert != "" || key != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("broker: tls certificate %s / key %s: %w", cert, key, err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	return tc, nil
}

// LoadCertPool reads a PEM bundle of CA certificates.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("broker: tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("broker: tls ca %s: no PEM certificate found", path)
	}
	return pool, nil
}
