package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Node is a running pcs-node: a broker connection (and the embedded broker
// when configured), one runner per pipeline, metrics and the HTTP control
// plane. Start it, Run it until its ctx is cancelled (SIGTERM), Close it.
type Node struct {
	cfg       Config
	log       *slog.Logger
	metrics   *Metrics
	store     *storeWatch // writes refused for lack of store space (storefull.go)
	broker    *broker.Broker
	nc        *nats.Conn
	js        jetstream.JetStream
	pipelines []*delivery
	cp        *controlPlane
	cat       *catalog.Catalog // nil without [catalog]
	// httpAddr is the control plane's bound address ("" when off).
	httpAddr string
	// rates samples the pipelines' throughput (observe.go); stopRates
	// stops it (nil before startRates).
	rates     *rates
	stopRates func()
	health    // heal.go: stop time, closing
}

// Start starts the embedded broker (unless broker.url is set), connects,
// provisions each pipeline's streams (input: work queue; output,
// <name>.dlq and <name>.late: limits with discard new), its durable consumer and the
// claim-check bucket, builds the pipelines from reg, loads their resources
// and starts the HTTP server. Fetching starts with Run. On error what was
// started is stopped again. reg resolves the names the pipelines use
// (plan.DefaultRegistry: the built-ins).
func Start(ctx context.Context, cfg Config, reg *plan.Registry, log *slog.Logger) (_ *Node, err error) {
	if log == nil {
		log = slog.Default()
	}
	for _, pc := range cfg.Pipelines {
		if len(pc.Input.Subjects) == 0 || pc.Output.Subject == "" {
			return nil, fmt.Errorf("%w: pipeline %q: pcs-node needs input.subjects and output.subject (input.files and output.file are for pcs run)", ErrConfig, pc.Name)
		}
	}
	n := &Node{cfg: cfg, log: log.With("node", cfg.Node.ID), metrics: NewMetrics()}
	n.store = &storeWatch{log: n.log}
	if err := n.store.gauge(n.metrics); err != nil {
		return nil, fmt.Errorf("node: metrics: %w", err)
	}
	defer func() {
		if err != nil {
			_ = n.Close(context.Background()) // stop what was started
		}
	}()
	if err := n.connect(ctx); err != nil {
		return nil, err
	}
	if err := n.watchConnection(); err != nil {
		return nil, err
	}
	if err := n.provision(ctx); err != nil {
		return nil, err
	}
	var ln net.Listener
	var auth httpAuth
	if cfg.Node.HTTP != "off" {
		if auth, err = loadHTTPAuth(cfg.Node, os.Getenv); err != nil {
			return nil, err
		}
		if ln, err = listenControlPlane(cfg.Node.HTTP); err != nil {
			return nil, err
		}
		n.httpAddr = ln.Addr().String()
		if ln, err = tlsListener(cfg.Node, ln); err != nil {
			n.httpAddr = ""
			return nil, err
		}
	}
	if err := n.openCatalog(ctx); err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	for _, pc := range cfg.Pipelines {
		d, err := n.newDelivery(ctx, pc, reg)
		if d != nil {
			n.pipelines = append(n.pipelines, d) // closed by Close on error
		}
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			return nil, fmt.Errorf("node: pipeline %q: %w", pc.Name, err)
		}
	}
	n.startRates()
	if ln != nil {
		n.cp = startControlPlane(ln, n.metrics, n.Status, auth, n.unready)
	}
	return n, nil
}

func (n *Node) connect(ctx context.Context) error {
	bc := n.cfg.Broker
	client := bc.ClientConfig.FromEnv(nil)
	var err error
	if bc.URL != "" {
		opts, err := client.Options()
		if err != nil {
			return fmt.Errorf("%w: broker: %v", ErrConfig, err)
		}
		opts = append(opts, nats.Name("pcs-node "+n.cfg.Node.ID), nats.MaxReconnects(-1))
		if n.nc, err = nats.Connect(bc.URL, opts...); err != nil {
			return fmt.Errorf("node: connect %s (%s): %w", redactURL(bc.URL), client, err)
		}
		n.log.Info("connected to NATS", "url", redactURL(bc.URL), "client", client.String())
	} else {
		bcfg := broker.DefaultConfig()
		bcfg.StoreDir = bc.StoreDir
		bcfg.SyncAlways = bc.SyncAlways
		bcfg.MaxPayload = int64(bc.MaxPayload)
		bcfg.Logger = n.log.With("component", "broker")
		bcfg.AllowNoAuth = bc.AllowNoAuth
		// The embedded broker requires what the node itself presents.
		switch {
		case client.Token != "":
			bcfg.Auth.Token = client.Token
		case client.User != "":
			bcfg.Auth.Users = []broker.User{{Name: client.User, Password: client.Password}}
		case client.Creds != "" || client.NKey != "":
			return fmt.Errorf("%w: broker: creds and nkey need an external NATS server (broker.url); the embedded broker takes user/password or token", ErrConfig)
		}
		bcfg.TLS = broker.ServerTLS{Cert: bc.ListenTLSCert, Key: bc.ListenTLSKey, CA: bc.ListenTLSCA, VerifyClients: bc.ListenTLSCA != ""}
		if bc.Listen != "" {
			host, port, err := net.SplitHostPort(bc.Listen)
			if err != nil {
				return fmt.Errorf("%w: broker.listen %q: %v", ErrConfig, bc.Listen, err)
			}
			if bcfg.Port, err = strconv.Atoi(port); err != nil || bcfg.Port < 0 || bcfg.Port > 65535 {
				return fmt.Errorf("%w: broker.listen %q: bad port", ErrConfig, bc.Listen)
			}
			if bcfg.Port == 0 { // any free port, as `pcs broker --listen :0`; the log and status say which
				bcfg.Port = broker.RandomPort
			}
			bcfg.Listen, bcfg.Host = true, host
		}
		if n.broker, err = broker.Start(ctx, bcfg); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		// In-process: credentials only (the pipe needs no TLS).
		inproc := client
		inproc.TLSCA, inproc.TLSCert, inproc.TLSKey, inproc.TLSServerName = "", "", "", ""
		opts, err := inproc.Options()
		if err != nil {
			return fmt.Errorf("%w: broker: %v", ErrConfig, err)
		}
		if n.nc, err = n.broker.Connect(append(opts, nats.Name("pcs-node "+n.cfg.Node.ID))...); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		n.log.Info("embedded broker started", "store_dir", bc.StoreDir, "client_url", n.broker.ClientURL(), "sync_always", bc.SyncAlways,
			"auth", client.Auth(), "tls", bcfg.TLS.Enabled())
	}
	if n.js, err = jetstream.New(n.nc); err != nil {
		return fmt.Errorf("node: jetstream: %w", err)
	}
	return nil
}

// redactURL hides the user information (passwords, tokens) of a
// comma-separated NATS URL list.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := neturl.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		u.User = neturl.User("redacted")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// provision creates (idempotently) what every pipeline needs.
func (n *Node) provision(ctx context.Context) error {
	store := n.storeLimit(ctx) // storage.go
	fitOutputMaxBytes(n.cfg.Pipelines, store, n.log)
	bc := n.cfg.Broker
	place := broker.Placement{Cluster: bc.PlacementCluster, Tags: bc.PlacementTags}
	spec := broker.Spec{ObjectStores: []broker.ObjectStoreSpec{{Bucket: bc.ObjectBucket}, {Bucket: CheckpointBucket}}}
	for _, p := range n.cfg.Pipelines {
		d := p.Delivery
		spec.Streams = append(spec.Streams,
			broker.StreamSpec{Name: p.Input.Stream, Subjects: p.Input.Subjects, Retention: broker.RetentionWorkQueue,
				Discard: broker.DiscardNew, MaxBytes: int64(p.Input.MaxBytes)},
			// Outputs are fenced (natsjs.WithFence): each stored once, ever.
			broker.StreamSpec{Name: p.Output.Stream, Subjects: []string{p.Output.Subject, natsjs.FenceSubjects(natsjs.FencePrefix(p.Name, fenceOut))},
				Retention: broker.Retention(p.Output.Retention), Discard: broker.DiscardNew, MaxBytes: int64(p.Output.MaxBytes), AllowAtomicPublish: true},
			broker.StreamSpec{Name: natsjs.DLQStream(p.Input.Stream), Subjects: []string{natsjs.DLQSubject(p.Name)}, Retention: broker.RetentionLimits,
				Discard: broker.DiscardNew},
			broker.StreamSpec{Name: natsjs.LateStream(p.Input.Stream), Subjects: []string{natsjs.LateSubject(p.Name), natsjs.FenceSubjects(natsjs.FencePrefix(p.Name, fenceLate))},
				Retention: broker.RetentionLimits, Discard: broker.DiscardNew, AllowAtomicPublish: true},
			// Fleet windows' partials, replayed by shard owners from their
			// checkpoints: limits retention, kept.
			broker.StreamSpec{Name: natsjs.PartialsStream(p.Input.Stream), Subjects: []string{natsjs.PartialsSubjects(p.Name), natsjs.FenceSubjects(natsjs.FencePrefix(p.Name, fencePartials))},
				Retention: broker.RetentionLimits, Discard: broker.DiscardNew, AllowAtomicPublish: true},
			// MAX_DELIVERIES advisories, kept until a node dead-lettered
			// the partition (exhausted.go).
			broker.StreamSpec{Name: natsjs.AdvisoryStream(p.Input.Stream), Subjects: []string{natsjs.MaxDeliveriesAdvisory(p.Input.Stream, p.Input.Consumer)},
				Retention: broker.RetentionWorkQueue, Discard: broker.DiscardNew})
		backoff := make([]time.Duration, len(d.BackOff))
		for i, b := range d.BackOff {
			backoff[i] = time.Duration(b)
		}
		spec.Consumers = append(spec.Consumers, broker.ConsumerSpec{Stream: p.Input.Stream, Durable: p.Input.Consumer,
			AckWait: time.Duration(d.AckWait), MaxDeliver: d.MaxDeliver, MaxAckPending: d.MaxAckPending, BackOff: backoff},
			broker.ConsumerSpec{Stream: natsjs.AdvisoryStream(p.Input.Stream), Durable: advisoryConsumer(p.Input.Consumer), AckWait: 30 * time.Second})
	}
	// Every stream and bucket the node provisions gets the same replicas
	// and placement.
	for i := range spec.Streams {
		spec.Streams[i].Replicas, spec.Streams[i].Placement = bc.Replicas, place
	}
	for i := range spec.ObjectStores {
		spec.ObjectStores[i].Replicas, spec.ObjectStores[i].Placement = bc.Replicas, place
	}
	// A NATS cluster recovering from a lost server (a JetStream leader
	// election, a restarted store catching up) times out API calls for a
	// while: retry those for up to provisionRetry. Conflicts and invalid
	// specs fail at once.
	deadline := time.Now().Add(provisionRetry)
	for {
		rep, err := broker.Provision(ctx, n.js, spec)
		if err == nil {
			n.log.Debug("provisioned", "report", rep.String())
			return nil
		}
		if serr := storageError(err, store); serr != err {
			return fmt.Errorf("node: provision: %w", serr) // does not fit the store: fails at once
		}
		if errors.Is(err, broker.ErrConflict) || errors.Is(err, broker.ErrInvalidSpec) || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("node: provision: %w", err)
		}
		n.log.Warn("provision failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: provision: %w", err)
		case <-time.After(time.Second):
		}
	}
}

// provisionRetry bounds the retries of provisioning on transient errors.
const provisionRetry = 60 * time.Second

// settling calls get until it succeeds, for up to provisionRetry while
// the error is a timeout (a NATS cluster electing JetStream leaders after
// a server died answers API calls late), so a node that starts then does
// not exit.
func settling[T any](ctx context.Context, log *slog.Logger, get func() (T, error)) (T, error) {
	deadline := time.Now().Add(provisionRetry)
	for {
		v, err := get()
		if err == nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)) ||
			time.Now().After(deadline) || ctx.Err() != nil {
			return v, err
		}
		log.Warn("JetStream lookup failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(time.Second):
		}
	}
}

// newDelivery builds one pipeline's delivery loop: its plan, its
// consumer, its emitter and publishers, its settler and, when the plan
// has state, its checkpointer (restoring the last checkpoint). On error
// the returned delivery (if not nil) holds publishers to close.
func (n *Node) newDelivery(ctx context.Context, pc plan.Pipeline, reg *plan.Registry) (*delivery, error) {
	pl, err := plan.Build(ctx, pc, reg)
	if err != nil {
		return nil, err
	}
	if pl.LateSchema() != nil && n.cat == nil {
		// The operator's state must survive restarts: checkpoints go
		// through the catalog. Refuse rather than lose it.
		return nil, fmt.Errorf("%w: pipeline %q: the window system on pcs-node needs [catalog] (its state is checkpointed)", ErrConfig, pc.Name)
	}
	log := n.log.With("pipeline", pc.Name)
	d := &delivery{cfg: pc, plan: pl, log: log, m: n.metrics, cat: n.cat}
	cons, err := settling(ctx, n.log, func() (jetstream.Consumer, error) { return n.js.Consumer(ctx, pc.Input.Stream, pc.Input.Consumer) })
	if err != nil {
		return nil, fmt.Errorf("consumer %s/%s: %w", pc.Input.Stream, pc.Input.Consumer, err)
	}
	if d.cons, err = natsjs.NewConsumer(n.js, cons); err != nil {
		return nil, err
	}
	sink, err := n.js.Stream(ctx, pc.Output.Stream)
	if err != nil {
		return nil, fmt.Errorf("output stream %s: %w", pc.Output.Stream, err)
	}
	d.bp = &backpressure{pipeline: pc.Name, cfg: pc.Backpressure, poll: time.Duration(pc.Backpressure.Poll), stream: sink, m: n.metrics, log: log}
	comp, err := natsjs.ParseCompression(pc.Output.Compression)
	if err != nil {
		return nil, fmt.Errorf("%w: output.compression: %v", ErrConfig, err)
	}
	ackTimeout := time.Duration(n.cfg.Broker.PublishAckTimeout)
	if ackTimeout <= 0 { // a Config without SetDefaults
		ackTimeout = natsjs.DefaultAckTimeout
	}
	publisher := func(subject, fence string) (*natsjs.Publisher, error) {
		p, err := natsjs.NewPublisher(n.js, subject, natsjs.WithSourceID(pc.Name), natsjs.WithCompression(comp),
			natsjs.WithObjectBucket(n.cfg.Broker.ObjectBucket, 0), natsjs.WithFence(natsjs.FencePrefix(pc.Name, fence)),
			natsjs.WithAckTimeout(ackTimeout))
		if err == nil {
			d.publishers = append(d.publishers, p)
		}
		return p, err
	}
	out := &outputs{pipeline: pc.Name, m: n.metrics}
	if out.results, err = publisher(pc.Output.Subject, fenceOut); err != nil {
		return d, err
	}
	if pl.LateSchema() != nil {
		if out.late, err = publisher(natsjs.LateSubject(pc.Name), fenceLate); err != nil {
			return d, err
		}
	}
	d.emit = out
	if pl.Shards() > 0 {
		sh := &shards{pipeline: pc.Name, late: out, cat: n.cat}
		for s := range pl.Shards() {
			p, err := publisher(natsjs.PartialsSubject(pc.Name, s), fencePartials)
			if err != nil {
				return d, err
			}
			sh.partials = append(sh.partials, p)
		}
		d.emit = sh
		d.owners = &shardOwners{pipeline: pc.Name, node: n.cfg.Node.ID, stream: natsjs.PartialsStream(pc.Input.Stream), shards: pl.Shards(),
			every: time.Duration(pc.CheckpointInterval), plan: pl, js: n.js, cat: n.cat, out: out, m: n.metrics, log: log}
	}
	rec := recorder{cat: n.cat, pipeline: pc.Name, node: n.cfg.Node.ID}
	input, err := n.js.Stream(ctx, pc.Input.Stream)
	if err != nil {
		return d, fmt.Errorf("input stream %s: %w", pc.Input.Stream, err)
	}
	advisories, err := n.js.Consumer(ctx, natsjs.AdvisoryStream(pc.Input.Stream), advisoryConsumer(pc.Input.Consumer))
	if err != nil {
		return d, fmt.Errorf("advisory consumer: %w", err)
	}
	d.exhausted = &exhausted{pipeline: pc.Name, node: n.cfg.Node.ID, input: input, js: n.js, rec: rec, m: n.metrics, log: log}
	if d.exhausted.advisories, err = natsjs.NewConsumer(n.js, advisories); err != nil {
		return d, err
	}
	d.settle = &settler{pipeline: pc.Name, rec: rec, m: n.metrics, log: log, wm: &watermarks{pipeline: pc.Name, cat: n.cat, log: log}}
	d.fail = &failures{pipeline: pc.Name, node: n.cfg.Node.ID, delivery: pc.Delivery, js: n.js, rec: rec, store: n.store, m: n.metrics, log: log}
	d.ckpt, err = newCheckpointer(ctx, &checkpointer{pipeline: pc.Name, node: n.cfg.Node.ID, nakDelay: time.Duration(pc.Delivery.NakDelay),
		ackWait: time.Duration(pc.Delivery.AckWait),
		states:  pl.States(), cat: n.cat, settle: d.settle, m: n.metrics, log: log}, n.js)
	if err != nil {
		return d, err
	}
	n.observe(d)
	log.Info("pipeline ready", "plan", pl.Stages(), "input", pc.Input.Subjects, "output", pc.Output.Subject)
	return d, nil
}

// Run fetches and processes partitions until ctx is cancelled, then
// drains: it stops fetching, gives in-flight partitions drain_timeout to
// finish (ack), nak's what is left, and returns. /readyz is 200 while Run
// consumes, the broker is connected and the catalog has a leader. Run
// also stops, and returns an error wrapping catalog.ErrRemoved, when the
// catalog is lost (removed and shut down; a restart joins again).
func (n *Node) Run(ctx context.Context) error {
	ctx, lost := n.watchCatalog(ctx) // also ends when the catalog is lost
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for _, d := range n.pipelines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.run(ctx, work)
		}()
	}
	if n.cp != nil {
		n.cp.ready.Store(true)
	}
	n.log.Info("node running", "pipelines", len(n.pipelines), "http", n.HTTPAddr())
	<-ctx.Done()
	if n.cp != nil {
		n.cp.ready.Store(false)
	}
	n.log.Info("draining", "timeout", time.Duration(n.cfg.Node.DrainTimeout))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Duration(n.cfg.Node.DrainTimeout)):
		n.log.Warn("drain timeout: cancelling in-flight partitions (they are nak'ed for redelivery)")
		cancelWork()
		<-done
	}
	n.log.Info("drained")
	return lost()
}

// HTTPAddr returns the control plane's listen address ("" when off).
func (n *Node) HTTPAddr() string {
	if n.cp == nil {
		return ""
	}
	return n.cp.Addr()
}

// Conn returns the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// Broker returns the embedded broker, or nil with an external one.
func (n *Node) Broker() *broker.Broker { return n.broker }

// Metrics returns the node's metrics.
func (n *Node) Metrics() *Metrics { return n.metrics }

// Close flushes and closes publishers, the HTTP server, the catalog
// (leaving the fleet), the connection and the embedded broker, bounded by
// ctx.
func (n *Node) Close(ctx context.Context) error {
	var errs []error
	n.closing.Store(true)
	if n.stopRates != nil {
		n.stopRates()
	}
	for _, d := range n.pipelines {
		for _, p := range d.publishers {
			errs = append(errs, p.Close(ctx))
		}
		if d.cons != nil {
			errs = append(errs, d.cons.Close())
		}
		if d.ckpt != nil {
			d.ckpt.close()
		}
		errs = append(errs, d.plan.Close())
	}
	if n.cp != nil {
		errs = append(errs, n.cp.shutdown(ctx))
	}
	if n.cat != nil { // leaves the cluster (leadership transferred first)
		errs = append(errs, n.closeCatalog(ctx))
	}
	if n.nc != nil {
		n.nc.Close()
	}
	if n.broker != nil {
		errs = append(errs, n.broker.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
