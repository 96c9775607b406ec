package growth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// FlightsOutput is the output line of examples/flights/node.toml that
// NodeConfig replaces.
const FlightsOutput = `output = { subject = "flights.enriched", file = "${PCS_OUT:-enriched.parquet}" }`

// growthOutput is what it becomes: a work-queue output stream, whose
// acked partitions are deleted. Under node.toml's default (limits
// retention, max_bytes 1 GiB) the stream keeps every output: 30M rows of
// output do not fit, and the node's backpressure would pause it for good
// at 80% of max_bytes; acks free no space under limits retention.
const growthOutput = `output = { subject = "flights.enriched", retention = "workqueue" }`

// NodeConfig returns the text of examples/flights/node.toml (toml) with
// its output section made a work queue (see growthOutput); everything
// else, the pipeline included, is node.toml's.
func NodeConfig(toml string) (string, error) {
	if strings.Count(toml, FlightsOutput) != 1 {
		return "", fmt.Errorf("growth: node.toml has no line %q to replace: update FlightsOutput", FlightsOutput)
	}
	return strings.Replace(toml, FlightsOutput, growthOutput, 1), nil
}

// brokerSection is the [broker] section of examples/flights/node.toml:
// the embedded broker's store and listener. ExternalConfig replaces it.
const brokerSection = `[broker]
store_dir = "${PCS_STORE:-./pcs-data}/broker"
listen = "${PCS_LISTEN:-127.0.0.1:4222}"
`

// ExternalConfig returns cfg (NodeConfig's text) with its [broker]
// section pointing at the external NATS server url instead of the
// embedded broker: pcs-node takes a non-empty [broker] url as an
// external server and ignores store_dir and listen, which are dropped so
// that the config says what runs.
func ExternalConfig(cfg, url string) (string, error) {
	if strings.Count(cfg, brokerSection) != 1 {
		return "", fmt.Errorf("growth: node.toml has no [broker] section %q to replace: update brokerSection", brokerSection)
	}
	return strings.Replace(cfg, brokerSection, fmt.Sprintf("[broker]\nurl = %q\n", url), 1), nil
}

// Binaries are the programs the benchmark runs as child processes.
type Binaries struct {
	Node string // pcs-node
	PCS  string // pcs (its broker subcommand is the external broker)
}

// Build builds ./cmd/pcs-node and ./cmd/pcs of the module at repo into
// dir.
func Build(ctx context.Context, repo, dir string) (Binaries, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return Binaries{}, fmt.Errorf("growth: no go command to build pcs-node: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", dir+string(filepath.Separator), "./cmd/pcs-node", "./cmd/pcs")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("growth: go build ./cmd/pcs-node ./cmd/pcs: %w\n%s", err, out)
	}
	return Binaries{Node: filepath.Join(dir, "pcs-node"), PCS: filepath.Join(dir, "pcs")}, nil
}

// child is a running child process whose output goes to a log file.
type child struct {
	name string // for errors: "pcs-node", "pcs broker"
	Log  string // the process's log file
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startChild starts cmd with its stdout and stderr in logPath.
func startChild(name string, cmd *exec.Cmd, logPath string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("growth: start %s: %w", name, err)
	}
	c := &child{name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); logf.Close(); close(c.done) }()
	return c, nil
}

// waitReady calls ready every 50 ms until it returns true, for up to a
// minute; it kills the process and fails if the process exits first, ctx
// ends or the minute passes.
func (c *child) waitReady(ctx context.Context, ready func() bool) error {
	deadline := time.Now().Add(time.Minute)
	for !ready() {
		select {
		case <-c.done:
			return fmt.Errorf("growth: %s exited before it was ready: %v (log %s)", c.name, c.err, c.Log)
		case <-ctx.Done():
			c.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Kill()
			return fmt.Errorf("growth: %s not ready within a minute (log %s)", c.name, c.Log)
		}
	}
	return nil
}

// Node is a running pcs-node child process.
type Node struct {
	NATS string // the broker's URL: the embedded one's listener, or the external one
	HTTP string // the node's HTTP address (host:port)
	*child
}

// StartNode starts bin with the config file config, its store, log file
// and listeners in work, with env added to this process's environment,
// and waits until its /readyz answers 200 (up to a minute). brokerURL
// is the external broker that config names ([broker] url), or "" for
// the embedded one, which then listens on a free port of 127.0.0.1.
func StartNode(ctx context.Context, bin, config, work, brokerURL string, env ...string) (*Node, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", config)
	cmd.Env = append(os.Environ(), "PCS_STORE="+work, "PCS_HTTP="+httpAddr)
	natsURL := brokerURL
	if brokerURL == "" {
		natsAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "PCS_LISTEN="+natsAddr)
		natsURL = "nats://" + natsAddr
	}
	cmd.Env = append(cmd.Env, env...)
	c, err := startChild("pcs-node", cmd, filepath.Join(work, "pcs-node.log"))
	if err != nil {
		return nil, err
	}
	n := &Node{NATS: natsURL, HTTP: httpAddr, child: c}
	err = c.waitReady(ctx, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Broker is a running `pcs broker` child process: the external NATS
// server (nats-server with JetStream, as in production's NATS cluster,
// one server) that a node with a [broker] url connects to.
type Broker struct {
	URL string // nats://127.0.0.1:<port>
	*child
}

// StartBroker starts `pcs broker` (bin is the pcs binary) with its store
// and log file in work, listening on a free port of 127.0.0.1, with env
// added to this process's environment, and waits until it accepts a
// JetStream client (up to a minute).
func StartBroker(ctx context.Context, bin, work string, env ...string) (*Broker, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "broker", "--store", filepath.Join(work, "broker"), "--listen", addr)
	cmd.Env = append(os.Environ(), env...)
	c, err := startChild("pcs broker", cmd, filepath.Join(work, "pcs-broker.log"))
	if err != nil {
		return nil, err
	}
	b := &Broker{URL: "nats://" + addr, child: c}
	err = c.waitReady(ctx, func() bool {
		nc, err := nats.Connect(b.URL, nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return false
		}
		actx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = js.AccountInfo(actx)
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Pid returns the process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// PeakRSS returns the process's peak resident set size (VmHWM) in bytes.
func (c *child) PeakRSS() (int64, error) { return statusBytes(c.Pid(), "VmHWM") }

// CPU returns the CPU time (user plus system) the process has used.
func (c *child) CPU() (time.Duration, error) { return processCPU(c.Pid()) }

// processCPU returns utime+stime of /proc/<pid>/stat (fields 14 and 15,
// in clock ticks of USER_HZ, 100 on Linux).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("growth: cannot parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("growth: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * (time.Second / 100), nil
}

// Stop sends SIGTERM and waits up to d for the process to exit, then
// kills it and says so.
func (c *child) Stop(d time.Duration) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(d):
		c.Kill()
		return fmt.Errorf("growth: %s did not stop within %v of SIGTERM (killed; log %s)", c.name, d, c.Log)
	}
}

// Kill kills the process, if running, and waits for its exit.
func (c *child) Kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Exited returns a channel closed when the process exited.
func (c *child) Exited() <-chan struct{} { return c.done }

// statusBytes returns field (a "kB" line such as VmHWM) of
// /proc/<pid>/status in bytes; pid 0 is this process.
func statusBytes(pid int, field string) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("growth: %s %s: %w", path, field, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("growth: no %s in %s", field, path)
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux:
// "5" to /proc/self/clear_refs).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// errStalled reports that no output arrived for a while.
var errStalled = errors.New("growth: no output partition for a minute")
