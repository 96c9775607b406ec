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

// BuildNode builds ./cmd/pcs-node of the module at repo into dir and
// returns the binary's path.
func BuildNode(ctx context.Context, repo, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("growth: no go command to build pcs-node: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", dir+string(filepath.Separator), "./cmd/pcs-node")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("growth: go build ./cmd/pcs-node: %w\n%s", err, out)
	}
	return filepath.Join(dir, "pcs-node"), nil
}

// Node is a running pcs-node child process.
type Node struct {
	NATS string // the embedded broker's URL
	HTTP string // the node's HTTP address (host:port)
	Log  string // the node's log file
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartNode starts bin with the config file config, its store, log file
// and listeners in work, with env added to this process's environment,
// and waits until its /readyz answers 200 (up to a minute).
func StartNode(ctx context.Context, bin, config, work string, env ...string) (*Node, error) {
	natsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(work, "pcs-node.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", config)
	cmd.Env = append(append(os.Environ(), "PCS_STORE="+work, "PCS_LISTEN="+natsAddr, "PCS_HTTP="+httpAddr), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("growth: start pcs-node: %w", err)
	}
	n := &Node{NATS: "nats://" + natsAddr, HTTP: httpAddr, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { n.err = cmd.Wait(); logf.Close(); close(n.done) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("growth: pcs-node exited before it was ready: %v (log %s)", n.err, logPath)
		case <-ctx.Done():
			n.Kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.Kill()
			return nil, fmt.Errorf("growth: pcs-node not ready within a minute (log %s)", logPath)
		}
	}
}

// Pid returns the node's process id.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// PeakRSS returns the node's peak resident set size (VmHWM) in bytes.
func (n *Node) PeakRSS() (int64, error) { return statusBytes(n.Pid(), "VmHWM") }

// CPU returns the CPU time (user plus system) the node has used.
func (n *Node) CPU() (time.Duration, error) { return processCPU(n.Pid()) }

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

// Stop sends SIGTERM and waits up to d for the node to exit, then kills
// it and says so.
func (n *Node) Stop(d time.Duration) error {
	select {
	case <-n.done:
		return n.err
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return nil
	case <-time.After(d):
		n.Kill()
		return fmt.Errorf("growth: pcs-node did not stop within %v of SIGTERM (killed; log %s)", d, n.Log)
	}
}

// Kill kills the node, if running, and waits for its exit.
func (n *Node) Kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

// Exited returns a channel closed when the node exited.
func (n *Node) Exited() <-chan struct{} { return n.done }

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
