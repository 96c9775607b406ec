package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/pcs-dev/pcs/broker/pki"
)

// startSecure starts a listening broker with cfg changed by mod.
func startSecure(t *testing.T, mod func(*Config)) *Broker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StoreDir = t.TempDir()
	cfg.Listen, cfg.Port = true, RandomPort
	cfg.ReadyTimeout = 30 * time.Second
	mod(&cfg)
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	return b
}

func dial(url string, c ClientConfig) (*nats.Conn, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	return nats.Connect(url, append(opts, nats.Timeout(5*time.Second), nats.NoReconnect())...)
}

func TestAuthRefusesClientsWithoutCredentials(t *testing.T) {
	for _, c := range []struct {
		name string
		auth Auth
		good ClientConfig
	}{
		{"token", Auth{Token: "s3cret-token"}, ClientConfig{Token: "s3cret-token"}},
		{"user", Auth{Users: []User{{Name: "node", Password: "s3cret-pass"}}}, ClientConfig{User: "node", Password: "s3cret-pass"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := startSecure(t, func(cfg *Config) { cfg.Auth = c.auth })
			for _, bad := range []ClientConfig{{}, {Token: "wrong"}, {User: "node", Password: "wrong"}} {
				nc, err := dial(b.ClientURL(), bad)
				if err == nil {
					nc.Close()
					t.Fatalf("a client with %s connected", bad)
				}
				if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
					t.Errorf("%s: %v, want an authorization violation", bad, err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
			nc, err := dial(b.ClientURL(), c.good)
			if err != nil {
				t.Fatalf("with credentials: %v", err)
			}
			nc.Close()
			// In-process connections need the credentials too.
			if nc, err := b.Connect(nats.NoReconnect()); err == nil {
				nc.Close()
				t.Error("an in-process client without credentials connected")
			}
			opts, _ := c.good.Options()
			nc, err = b.Connect(opts...)
			if err != nil {
				t.Fatalf("in-process with credentials: %v", err)
			}
			nc.Close()
		})
	}
}

func TestNKeyUser(t *testing.T) {
	seed, pub := newNKey(t)
	b := startSecure(t, func(cfg *Config) { cfg.Auth = Auth{NKeys: []NKeyUser{{PublicKey: pub}}} })
	if nc, err := dial(b.ClientURL(), ClientConfig{}); err == nil {
		nc.Close()
		t.Fatal("a client without its nkey connected")
	}
	nc, err := dial(b.ClientURL(), ClientConfig{NKey: seed})
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestPermissionsLimitSubjects(t *testing.T) {
	b := startSecure(t, func(cfg *Config) {
		cfg.Auth = Auth{Users: []User{
			{Name: "node", Password: "p1"},
			{Name: "publisher", Password: "p2", Permissions: Permissions{Publish: []string{"flights.raw", "$JS.API.>"}, Subscribe: []string{"_INBOX.>"}}},
		}}
	})
	nc, err := dial(b.ClientURL(), ClientConfig{User: "publisher", Password: "p2"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	errs := make(chan error, 4)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	if err := nc.Publish("pcs.catalog.pcs.leader", []byte("forged")); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "Permissions Violation") {
			t.Errorf("got %v, want a permissions violation", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("publishing to a catalog subject was not refused")
	}
}

func TestTLSWrongCARefused(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("pcs test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Write(filepath.Join(dir, "good"), "server", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := pki.NewCA("another CA")
	otherCA, err := other.WriteCA(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	b := startSecure(t, func(cfg *Config) {
		cfg.Auth = Auth{Token: "t0ken"}
		cfg.TLS = ServerTLS{Cert: srv.Cert, Key: srv.Key}
	})
	url := strings.Replace(b.ClientURL(), "nats://", "tls://", 1)
	if nc, err := dial(url, ClientConfig{Token: "t0ken", TLSCA: otherCA}); err == nil {
		nc.Close()
		t.Fatal("a client trusting another CA connected")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("wrong CA: %v, want a certificate error", err)
	}
	nc, err := dial(url, ClientConfig{Token: "t0ken", TLSCA: srv.CA})
	if err != nil {
		t.Fatalf("right CA: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("TLS not required by the server")
	}
	nc.Close()
}

func TestMutualTLSRefusesClientWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, _ := pki.NewCA("pcs test CA")
	srv, err := ca.Write(dir, "server", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.Write(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	b := startSecure(t, func(cfg *Config) {
		cfg.Auth = Auth{Token: "t"}
		cfg.TLS = ServerTLS{Cert: srv.Cert, Key: srv.Key, CA: srv.CA, VerifyClients: true}
	})
	if nc, err := dial(b.ClientURL(), ClientConfig{Token: "t", TLSCA: srv.CA}); err == nil {
		nc.Close()
		t.Fatal("a client without a certificate connected")
	}
	nc, err := dial(b.ClientURL(), ClientConfig{Token: "t", TLSCA: cli.CA, TLSCert: cli.Cert, TLSKey: cli.Key})
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestNonLoopbackListenerNeedsAuth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StoreDir = t.TempDir()
	cfg.Listen, cfg.Host, cfg.Port = true, "0.0.0.0", RandomPort
	err := cfg.Validate()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "not loopback and no authorization") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Validate = %v, want one line refusing the non-loopback listener", err)
	}
	if _, err := Start(context.Background(), cfg); err == nil {
		t.Fatal("Start accepted a non-loopback listener without auth")
	}
	cfg.AllowNoAuth = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("with allow_no_auth: %v", err)
	}
	cfg.AllowNoAuth = false
	cfg.Auth.Token = "x"
	if err := cfg.Validate(); err != nil {
		t.Errorf("with a token: %v", err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		cfg := DefaultConfig()
		cfg.StoreDir, cfg.Listen, cfg.Host = "x", true, host
		if err := cfg.Validate(); err != nil {
			t.Errorf("loopback %s: %v", host, err)
		}
	}
}

func TestClientConfigEnvAndRedaction(t *testing.T) {
	env := map[string]string{EnvUser: "alice", EnvPassword: "pa55word", EnvTLSCA: "/etc/ca.pem"}
	c := ClientConfig{TLSServerName: "nats"}.FromEnv(func(k string) string { return env[k] })
	if c.User != "alice" || c.Password != "pa55word" || c.TLSCA != "/etc/ca.pem" || c.TLSServerName != "nats" {
		t.Fatalf("FromEnv = %+v", c)
	}
	if s := c.String(); strings.Contains(s, "pa55word") || s != "auth=user user=alice tls=on" {
		t.Errorf("String = %q", s)
	}
	if s := fmt.Sprintf("%v", c); strings.Contains(s, "pa55word") {
		t.Errorf("%%v shows the password: %s", s)
	}
	if err := (ClientConfig{Token: "a", User: "b"}).Validate(); err == nil {
		t.Error("token and user together accepted")
	}
}

// TestProvisionReplicasOnCluster provisions R3 streams and buckets with a
// placement on a real three-server JetStream cluster, and names a replica
// mismatch with an existing stream.
func TestProvisionReplicasOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	nc := startCluster(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	place := Placement{Cluster: "pcs-test"}
	spec := Spec{
		Streams:      []StreamSpec{{Name: "IN", Subjects: []string{"in"}, Retention: RetentionWorkQueue, Discard: DiscardNew, Replicas: 3, Placement: place}},
		ObjectStores: []ObjectStoreSpec{{Bucket: "objs", Replicas: 3, Placement: place}},
	}
	var rep Report
	for i := 0; ; i++ { // the meta leader may still be electing: bound each attempt
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		rep, err = Provision(actx, js, spec)
		acancel()
		if err == nil || i == 50 || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Changed() {
		t.Errorf("report %s", rep)
	}
	for _, name := range []string{"IN", "OBJ_objs"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info := s.CachedInfo()
		if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Name != "pcs-test" {
			t.Errorf("%s: replicas %d, cluster %+v", name, info.Config.Replicas, info.Cluster)
		}
	}
	// An existing R1 stream and a spec asking for R3: named, not changed.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OLD", Subjects: []string{"old"}, Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = Provision(ctx, js, Spec{Streams: []StreamSpec{{Name: "OLD", Subjects: []string{"old"}, Replicas: 3}}})
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `stream "OLD"`) || !strings.Contains(err.Error(), "replicas: spec 3, existing 1") {
		t.Fatalf("Provision = %v, want a conflict naming stream OLD and its replicas", err)
	}
	// A placement mismatch is named too.
	_, err = Provision(ctx, js, Spec{Streams: []StreamSpec{{Name: "IN", Placement: Placement{Cluster: "elsewhere"}}}})
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "placement") {
		t.Fatalf("Provision = %v, want a placement conflict", err)
	}
}

// startCluster starts three in-process nats-servers clustered with
// JetStream and returns a connection to the first.
func startCluster(t *testing.T) *nats.Conn {
	t.Helper()
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = freePort(t)
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var srvs []*server.Server
	for i := range 3 {
		opts := &server.Options{
			ServerName: fmt.Sprintf("s%d", i+1), Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
			NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "pcs-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		srvs = append(srvs, s)
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range srvs {
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatal("a cluster server did not start")
		}
	}
	// Wait for the JetStream meta leader: API requests before it hang.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if slices.ContainsFunc(srvs, (*server.Server).JetStreamIsLeader) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no JetStream meta leader within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	nc, err := nats.Connect(srvs[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newNKey writes a new user nkey seed to a file and returns the file and
// the public key.
func newNKey(t *testing.T) (seedFile, public string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	public, _ = kp.PublicKey()
	seedFile = filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return seedFile, public
}
