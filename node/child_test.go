package node

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
)

// Tests that kill a node with SIGKILL run it as a child process: the test
// binary re-run with -test.run naming a child test, which runs a node
// from a TOML config until SIGTERM (runChildNode).

// childEnv names, in a child's environment, the child test it is.
const childEnv = "PCS_TEST_CHILD"

// runChildNode runs a node from src (${VAR}s from the child's
// environment) with the built-in registry until SIGTERM, when the test
// runs as the child test of its name; otherwise it skips.
func runChildNode(t *testing.T, src string) {
	if os.Getenv(childEnv) != t.Name() {
		t.Skip("a child node process of another test")
	}
	cfg, err := ParseConfig(t.Name()+".toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	reg := plan.DefaultRegistry()
	reg.System("stall", stallSystem)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	n, err := Start(ctx, cfg, reg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// stallSystem is a test system (option component): on the partition whose
// id is $PCS_TEST_STALL_ID it creates the file $PCS_TEST_STALL_FILE, then
// sleeps 3 s (the test stops the process meanwhile); other partitions pass.
func stallSystem(o plan.Options) (pcs.System, error) {
	var opts struct {
		Component string `toml:"component"`
	}
	if err := o.Decode(&opts); err != nil {
		return nil, err
	}
	c, err := o.Component(opts.Component)
	if err != nil {
		return nil, err
	}
	return pcs.SystemFunc(pcs.Meta("stall").Read(c, pcs.Resource[pcs.PartitionID]()), func(ctx context.Context, ds *pcs.Dataset) error {
		id, _ := pcs.GetResource[pcs.PartitionID](ds)
		if string(id) != os.Getenv("PCS_TEST_STALL_ID") {
			return nil
		}
		if err := os.WriteFile(os.Getenv("PCS_TEST_STALL_FILE"), nil, 0o644); err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		return nil
	}), nil
}

// startChild starts the child test named test with env added; its output
// goes to the returned buffer. It is killed at the end of t.
func startChild(t *testing.T, test string, env ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), childEnv+"="+test), env...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, log
}

// listeningBroker starts a broker child nodes can reach over TCP and
// returns it with a JetStream client; both end with t.
func listeningBroker(t *testing.T) (*broker.Broker, jetstream.JetStream) {
	t.Helper()
	b := brokertest.Start(t, brokertest.WithListener())
	return b, brokertest.JetStream(t, b)
}

// syncBuffer is a strings.Builder safe for a child's output goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
