// Package process runs the demos' child processes (a broker, nats-server,
// pcs-node) with their output in a log file, and stops them the ways the
// fault drills need: SIGKILL, SIGTERM with a deadline, any signal.
package process

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is one running process with its log file. Its methods are safe
// on a nil Process (a member not started yet) and from any goroutine.
type Process struct {
	Name string    // for messages, e.g. "pcs-node n1"
	Log  string    // the log file's path
	Cmd  *exec.Cmd // the started command
	done chan struct{}
	err  error
}

// Start runs bin with args (behind the command prefix wrap, e.g.
// `ip netns exec NS`; nil for none) with env added to this process's
// environment, its stdout and stderr appended to logPath. Errors name the
// process.
func Start(name, logPath string, env, wrap []string, bin string, args ...string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	argv := append(append(append([]string(nil), wrap...), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// Done is closed when the process exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit status, once Done is closed.
func (p *Process) Err() error { return p.err }

// Exited reports whether the process exited (true for nil).
func (p *Process) Exited() bool {
	if p == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends s unless the process exited.
func (p *Process) Signal(s syscall.Signal) {
	if !p.Exited() {
		_ = p.Cmd.Process.Signal(s)
	}
}

// Kill sends SIGKILL (after SIGCONT, in case it was stopped) and waits
// for the exit.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGCONT)
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Terminate sends SIGTERM (after SIGCONT) and waits up to d for the exit,
// then kills it and says so.
func (p *Process) Terminate(d time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGCONT)
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM (killed; log %s)", p.Name, d, p.Log)
	}
}
