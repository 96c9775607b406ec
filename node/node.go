package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Node is a running pcs-node: a broker connection (and the embedded broker
// when configured), one runner per pipeline, metrics and the HTTP control
// plane. Start it, Run it until its ctx is cancelled (SIGTERM), Close it.
type Node struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	broker  *broker.Broker
	nc      *nats.Conn
	js      jetstream.JetStream
	runners []*runner
	cp      *controlPlane
	cat     *catalog.Catalog // nil without [catalog]
	// httpAddr is the control plane's bound address ("" when off).
	httpAddr string
}

// Start starts the embedded broker (unless broker.url is set), connects,
// provisions each pipeline's streams (input: work queue; output,
// <name>.dlq and <name>.late: limits with discard new), its durable consumer and the
// claim-check bucket, builds the pipelines from reg, loads their resources
// and starts the HTTP server. Fetching starts with Run. On error what was
// started is stopped again.
func Start(ctx context.Context, cfg Config, reg *Registry, log *slog.Logger) (_ *Node, err error) {
	if log == nil {
		log = slog.Default()
	}
	for _, pc := range cfg.Pipelines {
		if len(pc.Input.Subjects) == 0 || pc.Output.Subject == "" {
			return nil, fmt.Errorf("%w: pipeline %q: pcs-node needs input.subjects and output.subject (input.files and output.file are for pcs run)", ErrConfig, pc.Name)
		}
	}
	n := &Node{cfg: cfg, log: log.With("node", cfg.Node.ID), metrics: NewMetrics()}
	defer func() {
		if err != nil {
			_ = n.Close(context.Background()) // stop what was started
		}
	}()
	if err := n.connect(ctx); err != nil {
		return nil, err
	}
	if err := n.provision(ctx); err != nil {
		return nil, err
	}
	var ln net.Listener
	if cfg.Node.HTTP != "off" {
		if ln, err = listenControlPlane(cfg.Node.HTTP); err != nil {
			return nil, err
		}
		n.httpAddr = ln.Addr().String()
	}
	if err := n.openCatalog(ctx); err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	for _, pc := range cfg.Pipelines {
		r, err := n.newRunner(ctx, pc, reg)
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			return nil, fmt.Errorf("node: pipeline %q: %w", pc.Name, err)
		}
		n.runners = append(n.runners, r)
	}
	if ln != nil {
		n.cp = startControlPlane(ln, n.metrics, n.Status)
	}
	return n, nil
}

func (n *Node) connect(ctx context.Context) error {
	bc := n.cfg.Broker
	var err error
	if bc.URL != "" {
		if n.nc, err = nats.Connect(bc.URL, nats.Name("pcs-node "+n.cfg.Node.ID), nats.MaxReconnects(-1)); err != nil {
			return fmt.Errorf("node: connect %s: %w", bc.URL, err)
		}
	} else {
		bcfg := broker.DefaultConfig()
		bcfg.StoreDir = bc.StoreDir
		bcfg.SyncAlways = bc.SyncAlways
		bcfg.MaxPayload = int64(bc.MaxPayload)
		bcfg.Logger = n.log.With("component", "broker")
		if bc.Listen != "" {
			host, port, err := net.SplitHostPort(bc.Listen)
			if err != nil {
				return fmt.Errorf("%w: broker.listen %q: %v", ErrConfig, bc.Listen, err)
			}
			if bcfg.Port, err = strconv.Atoi(port); err != nil {
				return fmt.Errorf("%w: broker.listen %q: bad port", ErrConfig, bc.Listen)
			}
			bcfg.Listen, bcfg.Host = true, host
		}
		if n.broker, err = broker.Start(ctx, bcfg); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		if n.nc, err = n.broker.Connect(nats.Name("pcs-node " + n.cfg.Node.ID)); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		n.log.Info("embedded broker started", "store_dir", bc.StoreDir, "client_url", n.broker.ClientURL(), "sync_always", bc.SyncAlways)
	}
	if n.js, err = jetstream.New(n.nc); err != nil {
		return fmt.Errorf("node: jetstream: %w", err)
	}
	return nil
}

// provision creates (idempotently) what every pipeline needs.
func (n *Node) provision(ctx context.Context) error {
	spec := broker.Spec{ObjectStores: []broker.ObjectStoreSpec{{Bucket: n.cfg.Broker.ObjectBucket}, {Bucket: CheckpointBucket}}}
	for _, p := range n.cfg.Pipelines {
		d := p.Delivery
		spec.Streams = append(spec.Streams,
			broker.StreamSpec{Name: p.Input.Stream, Subjects: p.Input.Subjects, Retention: broker.RetentionWorkQueue,
				Discard: broker.DiscardNew, MaxBytes: int64(p.Input.MaxBytes)},
			broker.StreamSpec{Name: p.Output.Stream, Subjects: []string{p.Output.Subject}, Retention: broker.Retention(p.Output.Retention),
				Discard: broker.DiscardNew, MaxBytes: int64(p.Output.MaxBytes)},
			broker.StreamSpec{Name: p.Input.Stream + "_DLQ", Subjects: []string{p.Name + ".dlq"}, Retention: broker.RetentionLimits,
				Discard: broker.DiscardNew},
			broker.StreamSpec{Name: p.Input.Stream + "_LATE", Subjects: []string{p.Name + ".late"}, Retention: broker.RetentionLimits,
				Discard: broker.DiscardNew},
			// Fleet windows' partials, replayed by shard owners from their
			// checkpoints: limits retention, kept.
			broker.StreamSpec{Name: partialsStream(p), Subjects: []string{p.Name + ".partials.>"}, Retention: broker.RetentionLimits,
				Discard: broker.DiscardNew})
		spec.Consumers = append(spec.Consumers, broker.ConsumerSpec{Stream: p.Input.Stream, Durable: p.Input.Consumer,
			AckWait: time.Duration(d.AckWait), MaxDeliver: d.MaxDeliver, MaxAckPending: 1000})
	}
	rep, err := broker.Provision(ctx, n.js, spec)
	if err != nil {
		return fmt.Errorf("node: provision: %w", err)
	}
	n.log.Debug("provisioned", "report", rep.String())
	return nil
}

// newRunner builds one pipeline's runner: its plan, its consumer, its
// output stream and publisher.
func (n *Node) newRunner(ctx context.Context, pc PipelineConfig, reg *Registry) (*runner, error) {
	pl, err := newPlan(ctx, pc, reg)
	if err != nil {
		return nil, err
	}
	if pl.window != nil && n.cat == nil {
		// The operator's state must survive restarts: checkpoints go
		// through the catalog. Refuse rather than lose it.
		return nil, fmt.Errorf("%w: pipeline %q: the window system on pcs-node needs [catalog] (its state is checkpointed)", ErrConfig, pc.Name)
	}
	r := &runner{plan: pl, cfg: pc, nodeID: n.cfg.Node.ID, log: n.log.With("pipeline", pc.Name), m: n.metrics,
		mem: memory.DefaultAllocator, js: n.js, cat: n.cat}
	if r.cons, err = n.js.Consumer(ctx, pc.Input.Stream, pc.Input.Consumer); err != nil {
		return nil, fmt.Errorf("consumer %s/%s: %w", pc.Input.Stream, pc.Input.Consumer, err)
	}
	if r.outStream, err = n.js.Stream(ctx, pc.Output.Stream); err != nil {
		return nil, fmt.Errorf("output stream %s: %w", pc.Output.Stream, err)
	}
	comp, err := natsjs.ParseCompression(pc.Output.Compression)
	if err != nil {
		return nil, fmt.Errorf("%w: output.compression: %v", ErrConfig, err)
	}
	r.pub, err = natsjs.NewPublisher(n.js, pc.Output.Subject, natsjs.WithSourceID(pc.Name), natsjs.WithCompression(comp),
		natsjs.WithObjectBucket(n.cfg.Broker.ObjectBucket, 0))
	if err != nil {
		return nil, err
	}
	if pl.window != nil {
		if r.win, err = pl.newWindow(memory.DefaultAllocator); err != nil {
			return nil, err
		}
		r.late, err = natsjs.NewPublisher(n.js, pc.Name+".late", natsjs.WithSourceID(pc.Name), natsjs.WithCompression(comp),
			natsjs.WithObjectBucket(n.cfg.Broker.ObjectBucket, 0))
		if err != nil {
			return nil, err
		}
		for s := range pl.windowShards {
			pub, err := natsjs.NewPublisher(n.js, partialsSubject(pc.Name, s), natsjs.WithSourceID(pc.Name),
				natsjs.WithCompression(comp), natsjs.WithObjectBucket(n.cfg.Broker.ObjectBucket, 0))
			if err != nil {
				return nil, err
			}
			r.partials = append(r.partials, pub)
		}
	}
	if r.ckpt, err = newCheckpointer(ctx, r, n.js); err != nil {
		return nil, err
	}
	var stages [][]string
	if r.pipeline != nil {
		stages = r.pipeline.Stages()
	}
	if r.win != nil {
		stages = append(stages, []string{windowSystem})
	}
	r.log.Info("pipeline ready", "plan", stages, "input", pc.Input.Subjects, "output", pc.Output.Subject)
	return r, nil
}

// Run fetches and processes partitions until ctx is cancelled, then
// drains: it stops fetching, gives in-flight partitions drain_timeout to
// finish (ack), nak's what is left, and returns. /readyz is 200 while Run
// consumes.
func (n *Node) Run(ctx context.Context) error {
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for _, r := range n.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx, work)
		}()
	}
	if n.cp != nil {
		n.cp.ready.Store(true)
	}
	n.log.Info("node running", "pipelines", len(n.runners), "http", n.HTTPAddr())
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
	return nil
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
	for _, r := range n.runners {
		if r.pub != nil {
			errs = append(errs, r.pub.Close(ctx))
		}
		if r.late != nil {
			errs = append(errs, r.late.Close(ctx))
		}
		for _, p := range r.partials {
			errs = append(errs, p.Close(ctx))
		}
	}
	if n.cp != nil {
		errs = append(errs, n.cp.shutdown(ctx))
	}
	if n.cat != nil { // leaves the cluster (leadership transferred first)
		errs = append(errs, n.cat.Close(ctx))
	}
	if n.nc != nil {
		n.nc.Close()
	}
	if n.broker != nil {
		errs = append(errs, n.broker.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
