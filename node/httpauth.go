package node

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

// Environment variables of the control plane's bearer token.
const (
	// EnvHTTPToken holds the token itself; it wins over [node]
	// http_token_file.
	EnvHTTPToken = "PCS_HTTP_TOKEN"
	// EnvHTTPTokenFile names a file holding the token, when
	// http_token_file is not set.
	EnvHTTPTokenFile = "PCS_HTTP_TOKEN_FILE"
)

// httpAuth is the control plane's bearer-token check. The zero value lets
// every request through.
type httpAuth struct {
	sum     [sha256.Size]byte // of the token; compared in constant time
	on      bool
	metrics bool // /metrics needs the token too
}

// loadHTTPAuth reads the token from $PCS_HTTP_TOKEN, else from
// http_token_file or $PCS_HTTP_TOKEN_FILE. An empty token file is an error
// (it would silently open the API); errors name the file, never the
// token.
func loadHTTPAuth(c NodeConfig, getenv func(string) string) (httpAuth, error) {
	token := strings.TrimSpace(getenv(EnvHTTPToken))
	file := c.HTTPTokenFile
	if file == "" {
		file = strings.TrimSpace(getenv(EnvHTTPTokenFile))
	}
	if token == "" && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return httpAuth{}, fmt.Errorf("%w: node.http_token_file: %v", ErrConfig, err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return httpAuth{}, fmt.Errorf("%w: node.http_token_file %s is empty", ErrConfig, file)
		}
	}
	if token == "" {
		return httpAuth{}, nil
	}
	return httpAuth{sum: sha256.Sum256([]byte(token)), on: true, metrics: c.HTTPAuthMetrics}, nil
}

// protects reports whether path needs the token: /v1/* always, /metrics
// when configured. /healthz, /readyz and the console's assets stay open
// (probes carry no token).
func (a httpAuth) protects(path string) bool {
	return strings.HasPrefix(path, "/v1/") || (a.metrics && path == "/metrics")
}

// wrap returns h behind the token check: a protected path without
// "Authorization: Bearer <token>" gets 401.
func (a httpAuth) wrap(h http.Handler) http.Handler {
	if !a.on {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.protects(r.URL.Path) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
			if !ok || subtle.ConstantTimeCompare(sum[:], a.sum[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="pcs-node"`)
				http.Error(w, "unauthorized: this endpoint needs Authorization: Bearer <token> ([node] http_token_file or $PCS_HTTP_TOKEN)", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// tlsListener serves ln over TLS when [node] http_tls_cert and
// http_tls_key are set.
func tlsListener(c NodeConfig, ln net.Listener) (net.Listener, error) {
	if c.HTTPTLSCert == "" {
		return ln, nil
	}
	kp, err := tls.LoadX509KeyPair(c.HTTPTLSCert, c.HTTPTLSKey)
	if err != nil {
		return nil, fmt.Errorf("%w: node.http_tls_cert/http_tls_key: %v", ErrConfig, err)
	}
	return tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}}), nil
}
