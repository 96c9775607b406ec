package node_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/pki"
	"github.com/pcs-dev/pcs/node"
)

func httpGet(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHTTPToken: with a token file, /v1/* (and /metrics when asked) answer
// 401 without the token or with a wrong one; probes stay open.
func TestHTTPToken(t *testing.T) {
	for _, metrics := range []bool{false, true} {
		t.Run(map[bool]string{false: "metrics open", true: "metrics protected"}[metrics], func(t *testing.T) {
			tokenFile := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tokenFile, []byte("http-s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t, "")
			cfg.Node.HTTPTokenFile, cfg.Node.HTTPAuthMetrics = tokenFile, metrics
			n := startNode(t, cfg, registry(nil))
			base := "http://" + n.HTTPAddr()
			waitFor(t, func() bool { return httpGet(t, base+"/readyz", "") == http.StatusOK })
			for _, c := range []struct {
				path, token string
				want        int
			}{
				{"/v1/status", "", http.StatusUnauthorized},
				{"/v1/status", "wrong", http.StatusUnauthorized},
				{"/v1/status", "http-s3cret", http.StatusOK},
				{"/healthz", "", http.StatusOK},
				{"/metrics", "", map[bool]int{false: http.StatusOK, true: http.StatusUnauthorized}[metrics]},
				{"/metrics", "http-s3cret", http.StatusOK},
			} {
				if got := httpGet(t, base+c.path, c.token); got != c.want {
					t.Errorf("GET %s with token %q: %d, want %d", c.path, c.token, got, c.want)
				}
			}
		})
	}
}

func TestHTTPTokenFromEnv(t *testing.T) {
	t.Setenv(node.EnvHTTPToken, "env-token")
	n := startNode(t, testConfig(t, ""), registry(nil))
	base := "http://" + n.HTTPAddr()
	if got := httpGet(t, base+"/v1/status", ""); got != http.StatusUnauthorized {
		t.Errorf("without the token: %d", got)
	}
	if got := httpGet(t, base+"/v1/status", "env-token"); got != http.StatusOK {
		t.Errorf("with the token: %d", got)
	}
}

// TestNodeNATSSecurity: a node whose embedded broker listens with a token
// and TLS; a client without credentials and a client trusting another CA
// are refused; an external node connecting with the token and the CA
// works; a non-loopback listener without auth is refused in one line; no
// secret reaches the logs or the status.
func TestNodeNATSSecurity(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("pcs test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Write(filepath.Join(dir, "srv"), "broker", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := pki.NewCA("other CA")
	otherCA, err := other.WriteCA(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "nats-s3cret-token"
	var logs lockedBuffer // written by nats.go's callback goroutine too
	cfg := testConfig(t, "")
	cfg.Broker.Listen = "127.0.0.1:0"
	cfg.Broker.Token = secret
	cfg.Broker.ListenTLSCert, cfg.Broker.ListenTLSKey = srv.Cert, srv.Key
	n, err := node.Start(context.Background(), cfg, registry(nil), slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	st := n.Status(context.Background())
	url := st.Broker

	dial := func(c broker.ClientConfig) error {
		opts, err := c.Options()
		if err != nil {
			return err
		}
		nc, err := nats.Connect(url, append(opts, nats.NoReconnect(), nats.Timeout(5*time.Second))...)
		if err == nil {
			nc.Close()
		}
		return err
	}
	if err := dial(broker.ClientConfig{TLSCA: srv.CA}); err == nil {
		t.Error("a client without credentials connected")
	}
	if err := dial(broker.ClientConfig{Token: secret, TLSCA: otherCA}); err == nil {
		t.Error("a client trusting another CA connected")
	}
	if err := dial(broker.ClientConfig{Token: secret, TLSCA: srv.CA}); err != nil {
		t.Errorf("with the token and the CA: %v", err)
	}

	// The embedded broker refuses a non-loopback listener without auth.
	cfg3 := testConfig(t, "")
	cfg3.Broker.Listen = "0.0.0.0:0"
	n3, err := node.Start(context.Background(), cfg3, registry(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, broker.ErrInvalidConfig) || !strings.Contains(err.Error(), "not loopback and no authorization") || strings.Contains(err.Error(), "\n") {
		t.Errorf("non-loopback listener without auth: %v", err)
	}
	if n3 != nil {
		n3.Close(context.Background())
	}

	// A second node on the first one's broker, with its credentials from
	// the environment.
	t.Setenv(broker.EnvToken, secret)
	t.Setenv(broker.EnvTLSCA, srv.CA)
	cfg2 := testConfig(t, url)
	cfg2.Node.ID = "second"
	n2, err := node.Start(context.Background(), cfg2, registry(nil), slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("external node with env credentials: %v", err)
	}
	n2.Close(context.Background())
	t.Setenv(broker.EnvToken, "wrong")
	if _, err := node.Start(context.Background(), cfg2, registry(nil), slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Error("a node with a wrong token connected")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the token: %v", err)
	}

	for _, what := range []string{logs.String(), statusJSON(t, n)} {
		if strings.Contains(what, secret) {
			t.Errorf("a secret leaked: %s", what)
		}
	}
}

func statusJSON(t *testing.T, n *node.Node) string {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestConfigSecurityKeys: the [broker] client keys decode into the
// embedded ClientConfig, relative paths resolve against the file, and
// replicas are validated.
func TestConfigSecurityKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.toml")
	src := `
[node]
http_token_file = "secrets/http-token"
[broker]
url = "tls://nats-1:4222,tls://nats-2:4222"
creds = "secrets/node.creds"
tls_ca = "certs/ca.pem"
tls_server_name = "nats"
replicas = 3
placement_cluster = "east"
placement_tags = ["ssd"]
[catalog]
dir = "cat"
tls_ca = "certs/ca.pem"
tls_cert = "certs/n1.pem"
tls_key = "certs/n1-key.pem"

[[pipeline]]
name = "p"
input = { subjects = ["in.p"], component = "row" }
output = { subject = "out.p" }
[[pipeline.component]]
name = "row"
fields = ["x: int64"]
[[pipeline.system]]
use = "filter"
options = { component = "row", expression = "x > 0" }
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Broker
	if b.Creds != filepath.Join(dir, "secrets/node.creds") || b.TLSCA != filepath.Join(dir, "certs/ca.pem") || b.TLSServerName != "nats" ||
		b.Replicas != 3 || b.PlacementCluster != "east" || len(b.PlacementTags) != 1 {
		t.Errorf("broker %+v", b)
	}
	if time.Duration(b.PublishAckTimeout) != 10*time.Second {
		t.Errorf("publish_ack_timeout default %v", time.Duration(b.PublishAckTimeout))
	}
	if cfg.Catalog.TLSCert != filepath.Join(dir, "certs/n1.pem") || cfg.Node.HTTPTokenFile != filepath.Join(dir, "secrets/http-token") {
		t.Errorf("catalog %+v node %+v", cfg.Catalog, cfg.Node)
	}
	for _, c := range []struct{ src, want string }{
		{"[broker]\nreplicas = 2\n", "broker.replicas 2: want 1, 3 or 5"},
		{"[broker]\nreplicas = 3\n", "needs a NATS cluster"},
		{"[broker]\ntoken = \"t\"\nuser = \"u\"\n", "set only one way to authenticate"},
		{"[catalog]\ntls_ca = \"x\"\n", "set all three"},
		{"[broker]\npublish_ack_timeout = \"10ms\"\n", "publish_ack_timeout 10ms: want at least 100ms"},
	} {
		_, err := node.ParseConfig("x.toml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger whose callers include nats.go's connection-event goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
