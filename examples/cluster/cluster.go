package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/pki"
	"github.com/pcs-dev/pcs/examples/internal/process"
	"github.com/pcs-dev/pcs/examples/internal/rowid"
	"github.com/pcs-dev/pcs/node"
)

// Names fixed by cluster.toml and nats.conf.
const (
	pipeline    = "flights"
	inSubject   = "flights.raw"
	outSubject  = "flights.enriched"
	inStream    = "PCS_FLIGHTS_IN"
	rowIDColumn = rowid.Column
)

// Bounds of the waits.
const (
	startTimeout   = 60 * time.Second
	stopTimeout    = 20 * time.Second
	processTimeout = 5 * time.Minute
)

// result is what a run measured and verified.
type result struct {
	Rows, Expected, Partitions int64

	KilledServer, KilledNode string        // the NATS server and the pcs-node killed
	Stall                    time.Duration // longest time the catalog's done count did not grow, input left
	Wall                     time.Duration

	SinkPartitions, SinkRows int64
	CatalogDone, CatalogRows int64
	Lost, Duplicates         int64
	Unexpected               int64
	Leaks                    []string // files where a secret was found
	ConsumeRetries           int      // pcs consume runs again after "no responders"
	PublishRetries           int      // pcs publish runs again after "no response from stream"
}

// server is one nats-server of the cluster.
type server struct {
	name, client, route, store string
	p                          *process.Process
}

// member is one pcs-node.
type member struct {
	id, http, raft, dir string
	bootstrap           bool
	p                   *process.Process
	restarts            int // exits during start-up, started again
}

// topology is the three servers, the three nodes and their secrets.
type topology struct {
	bin, work, config, natsConf, airports string

	certs     string            // certificate directory
	ca        string            // the CA file
	passwords map[string]string // NATS user -> password
	httpToken string
	servers   []*server
	nodes     []*member
	urls      string // tls://...,tls://...

	nc   *nats.Conn
	js   jetstream.JetStream
	used map[string]bool
}

func secret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// secrets returns every secret of the run, for the leak check.
func (t *topology) secrets() []string {
	s := []string{t.httpToken}
	for _, p := range t.passwords {
		s = append(s, p)
	}
	return s
}

// setup makes the certificates, passwords and addresses.
func (t *topology) setup() error {
	t.certs = filepath.Join(t.work, "certs")
	ca, err := pki.NewCA("pcs demo-cluster CA")
	if err != nil {
		return err
	}
	if t.ca, err = ca.WriteCA(t.certs); err != nil {
		return err
	}
	t.passwords = map[string]string{}
	for _, u := range []string{"n1", "n2", "n3", "publisher", "consumer", "admin"} {
		t.passwords[u] = secret()
	}
	t.httpToken = secret()
	var urls []string
	for i := 1; i <= 3; i++ {
		s := &server{name: fmt.Sprintf("nats-%d", i), client: t.freeAddr(), route: t.freeAddr(), store: filepath.Join(t.work, fmt.Sprintf("nats-%d", i))}
		if _, err := ca.Write(t.certs, s.name, "127.0.0.1", "localhost"); err != nil {
			return err
		}
		t.servers = append(t.servers, s)
		urls = append(urls, "tls://"+s.client)
	}
	t.urls = strings.Join(urls, ",")
	for i := 1; i <= 3; i++ {
		m := &member{id: fmt.Sprintf("n%d", i), http: t.freeAddr(), raft: t.freeAddr(), dir: filepath.Join(t.work, fmt.Sprintf("n%d", i)), bootstrap: i == 1}
		if _, err := ca.Write(t.certs, m.id+"-raft", "127.0.0.1", "localhost"); err != nil {
			return err
		}
		t.nodes = append(t.nodes, m)
	}
	return nil
}

// startServer starts (or restarts) one nats-server with nats.conf.
func (t *topology) startServer(s *server) error {
	env := []string{
		"NATS_NAME=" + s.name, "NATS_LISTEN=" + s.client, "NATS_CLUSTER_LISTEN=" + s.route, "NATS_STORE=" + s.store,
		"NATS_TLS_CERT=" + filepath.Join(t.certs, s.name+".pem"), "NATS_TLS_KEY=" + filepath.Join(t.certs, s.name+"-key.pem"), "NATS_TLS_CA=" + t.ca,
	}
	for i, o := range t.servers {
		env = append(env, fmt.Sprintf("NATS_ROUTE_%d=nats-route://%s", i+1, o.route))
	}
	for u, p := range t.passwords {
		env = append(env, "NATS_PASS_"+strings.ToUpper(u)+"="+p)
	}
	p, err := process.Start(s.name, filepath.Join(t.work, s.name+".log"), env, nil, filepath.Join(t.bin, "nats-server"), "-c", t.natsConf)
	if err != nil {
		return err
	}
	s.p = p
	return nil
}

// client returns the NATS client settings of user.
func (t *topology) client(user string) broker.ClientConfig {
	return broker.ClientConfig{User: user, Password: t.passwords[user], TLSCA: t.ca}
}

func (t *topology) clientEnv(user string) []string {
	return []string{"PCS_NATS_USER=" + user, "PCS_NATS_PASSWORD=" + t.passwords[user], "PCS_NATS_TLS_CA=" + t.ca}
}

// start runs the three servers, waits for the JetStream meta leader, then
// n1 (bootstrap), n2 and n3.
func (t *topology) start(ctx context.Context) error {
	for _, s := range t.servers {
		if err := t.startServer(s); err != nil {
			return err
		}
	}
	opts, err := t.client("admin").Options()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		t.nc, err = nats.Connect(t.urls, append(opts, nats.Name("cluster driver"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
		if err == nil {
			t.js, err = jetstream.New(t.nc)
		}
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = t.js.AccountInfo(actx)
			cancel()
		}
		if err == nil {
			break
		}
		if t.nc != nil {
			t.nc.Close()
			t.nc = nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the NATS cluster did not get ready (logs in %s): %v", t.work, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(t.nodes) == 0 {
		return nil
	}
	if err := t.startNode(ctx, t.nodes[0]); err != nil {
		return err
	}
	errs := make(chan error, 2)
	for _, m := range t.nodes[1:] {
		go func() { errs <- t.startNode(ctx, m) }()
	}
	if err := errors.Join(<-errs, <-errs); err != nil {
		return err
	}
	_, err = t.waitStatus(ctx, t.nodes[0], func(st node.Status) bool {
		return st.Catalog != nil && st.Catalog.Leader != "" && len(st.Catalog.Voters()) == 3 && len(st.Catalog.Nodes) == 3
	})
	if err != nil {
		return fmt.Errorf("the catalog did not form three voters: %w", err)
	}
	return nil
}

// startNode starts one pcs-node and waits until it is ready. Like a
// supervisor (compose's restart policy, a Kubernetes pod), it starts the
// node again when it exits during start-up: a node that finds the NATS
// cluster electing leaders (a server just died) may time out and exit.
func (t *topology) startNode(ctx context.Context, m *member) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = t.startNodeOnce(ctx, m); err == nil || !m.p.Exited() || ctx.Err() != nil {
			return err
		}
		m.restarts++
	}
	return err
}

func (t *topology) startNodeOnce(ctx context.Context, m *member) error {
	env := append(t.clientEnv(m.id),
		"PCS_NODE_ID="+m.id, "PCS_HTTP="+m.http, "PCS_SERVER="+t.urls, "PCS_DIR="+m.dir, "PCS_RAFT="+m.raft,
		"PCS_BOOTSTRAP="+strconv.FormatBool(m.bootstrap), "PCS_AIRPORTS="+t.airports, "PCS_HTTP_TOKEN="+t.httpToken,
		"PCS_RAFT_TLS_CA="+t.ca, "PCS_RAFT_TLS_CERT="+filepath.Join(t.certs, m.id+"-raft.pem"), "PCS_RAFT_TLS_KEY="+filepath.Join(t.certs, m.id+"-raft-key.pem"))
	p, err := process.Start("pcs-node "+m.id, filepath.Join(t.work, m.id+".log"), env, nil, filepath.Join(t.bin, "pcs-node"), "--config", t.config)
	if err != nil {
		return err
	}
	m.p = p
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		if body, err := t.get(ctx, "http://"+m.http+"/readyz"); err == nil && strings.HasPrefix(string(body), "ready") {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("pcs-node %s exited: %v (log %s)", m.id, p.Err(), p.Log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("pcs-node %s did not get ready (log %s)", m.id, p.Log)
}

// pcs runs the pcs CLI as a NATS user, its stdout to out.
func (t *topology) pcs(ctx context.Context, out io.Writer, user string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(t.bin, "pcs"), args...)
	cmd.Env = append(append(os.Environ(), t.clientEnv(user)...), "PCS_HTTP_TOKEN="+t.httpToken)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pcs %s: %w: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return nil
}

var publishedRE = regexp.MustCompile(`^published (\d+) partitions?, `)
var consumedRE = regexp.MustCompile(`^consumed (\d+) partitions?, ([\d,]+) rows`)

// inputLeader returns the server that leads the input stream's Raft group.
func (t *topology) inputLeader(ctx context.Context) (*server, error) {
	s, err := t.js.Stream(ctx, inStream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Config.Replicas != 3 || info.Cluster == nil {
		return nil, fmt.Errorf("the input stream has %d replicas, want 3", info.Config.Replicas)
	}
	for _, sv := range t.servers {
		if sv.name == info.Cluster.Leader {
			return sv, nil
		}
	}
	return nil, fmt.Errorf("the input stream's leader %q is not a server of the demo", info.Cluster.Leader)
}

// status reads a node's /v1/status with the token.
func (t *topology) status(ctx context.Context, m *member) (node.Status, []byte, error) {
	var st node.Status
	body, err := t.get(ctx, "http://"+m.http+"/v1/status")
	if err != nil {
		return st, nil, err
	}
	return st, body, json.Unmarshal(body, &st)
}

func (t *topology) waitStatus(ctx context.Context, m *member, ok func(node.Status) bool) (node.Status, error) {
	var st node.Status
	var err error
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		st, _, err = t.status(ctx, m)
		if err == nil && ok(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err == nil {
		err = errors.New("timeout")
	}
	return st, err
}

// done returns the catalog's done partitions as any live node sees them.
func (t *topology) done(ctx context.Context) (int64, bool) {
	for _, m := range t.nodes {
		if m.p == nil || m.p.Exited() {
			continue
		}
		st, _, err := t.status(ctx, m)
		if err != nil || st.Catalog == nil {
			continue
		}
		ps, _ := st.Catalog.Pipeline(pipeline)
		return ps.Counters.Done, true
	}
	return 0, false
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func (t *topology) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.httpToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// stall tracks the longest time the done count did not grow: the longest
// gap between two samples that saw it grow (from the first growth on).
type stall struct {
	mu      sync.Mutex
	last    int64
	since   time.Time // when it last grew
	longest time.Duration
}

func (s *stall) observe(done int64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if done <= s.last {
		return
	}
	if !s.since.IsZero() {
		s.longest = max(s.longest, now.Sub(s.since))
	}
	s.last, s.since = done, now
}

func (s *stall) get() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.longest
}

// stopAll stops the nodes, then the servers.
func (t *topology) stopAll() error {
	var errs []error
	for i := len(t.nodes) - 1; i >= 0; i-- {
		errs = append(errs, t.nodes[i].p.Terminate(stopTimeout))
	}
	if t.nc != nil {
		t.nc.Close()
	}
	for _, s := range t.servers {
		errs = append(errs, s.p.Terminate(stopTimeout))
	}
	return errors.Join(errs...)
}

// stop kills whatever still runs.
func (t *topology) stop() {
	for _, m := range t.nodes {
		m.p.Kill()
	}
	if t.nc != nil {
		t.nc.Close()
	}
	for _, s := range t.servers {
		s.p.Kill()
	}
}

func (t *topology) freeAddr() string {
	if t.used == nil {
		t.used = map[string]bool{}
	}
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !t.used[addr] {
			t.used[addr] = true
			return addr
		}
	}
}

// leaks returns the files of dir (logs, status dumps) holding a secret.
func leaks(dir string, secrets []string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".log") || strings.HasSuffix(path, ".json")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, path)
				break
			}
		}
		return nil
	})
	return found, err
}

// consumerState describes the pipeline's durable consumer (tracing).
func (t *topology) consumerState(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := t.js.Consumer(ctx, inStream, pipeline)
	if err != nil {
		return err.Error()
	}
	i := c.CachedInfo()
	leader := ""
	if i.Cluster != nil {
		leader = i.Cluster.Leader
	}
	return fmt.Sprintf("pending %d ack-pending %d redelivered %d waiting %d leader %s", i.NumPending, i.NumAckPending, i.NumRedelivered, i.NumWaiting, leader)
}

// catalogClosed checks that the publisher and the sink reader, who have
// broker access, can neither publish to nor subscribe to the catalog's
// subjects (nats.conf): a forged catalog command cannot even be sent.
func (t *topology) catalogClosed() error {
	for _, user := range []string{"publisher", "consumer"} {
		opts, err := t.client(user).Options()
		if err != nil {
			return err
		}
		errs := make(chan error, 4)
		nc, err := nats.Connect(t.urls, append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))...)
		if err != nil {
			return fmt.Errorf("%s: %w", user, err)
		}
		_ = nc.Publish("pcs.catalog.cluster.leader", []byte("forged"))
		_, _ = nc.SubscribeSync("pcs.catalog.>")
		_ = nc.Flush()
		var denied int
		for timeout := time.After(5 * time.Second); denied < 2; {
			select {
			case err := <-errs:
				if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(err.Error(), "Permissions Violation") {
					denied++
				}
			case <-timeout:
				nc.Close()
				return fmt.Errorf("%s: %d of 2 uses of pcs.catalog.> refused", user, denied)
			}
		}
		nc.Close()
	}
	return nil
}
