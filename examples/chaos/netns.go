package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// A lab is the network of the network-fault rows: one network namespace
// per node, each with a veth pair whose root-side end is a port of a
// bridge in the root namespace. The bridge holds the broker's address
// (10.77.S.1) and node i lives on 10.77.S.(i+2) in its namespace, so the
// nodes reach the broker and each other's Raft and HTTP through the
// bridge. Cutting node i = setting its root-side veth down (the namespace
// then reaches neither the broker nor its Raft peers); healing = up.
//
// Every name starts with labPrefix and the suite's pid, so that a rerun
// removes what a killed run left (cleanLabs) without touching a
// concurrent suite's lab.
type lab struct {
	pid    int
	bridge string
	hostIP string   // the bridge's address: the broker listens there
	ns     []string // namespace of node i
	veth   []string // root-side end of node i's veth pair
	ip     []string // node i's address in its namespace
}

const labPrefix = "pcc"

// labUnavailable says why namespaces cannot be made here ("" if they can).
func labUnavailable() string {
	if os.Geteuid() != 0 {
		return "not root (ip netns needs CAP_NET_ADMIN)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (Debian package iproute2)"
	}
	return ""
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// labOwner returns the pid in a lab name, if name is one.
func labOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, labPrefix)
	if !ok {
		return 0, false
	}
	digits, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(digits)
	return pid, err == nil
}

func alive(pid int) bool {
	return pid == os.Getpid() || syscall.Kill(pid, 0) == nil
}

// cleanLabs removes the namespaces and links of labs whose suite is gone
// (or of this suite when all is set).
func cleanLabs(all bool) {
	gone := func(name string) bool {
		pid, ok := labOwner(name)
		return ok && ((all && pid == os.Getpid()) || !alive(pid))
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if gone(name) {
				_ = ipCmd("link", "del", name)
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && gone(f[0]) {
				_ = ipCmd("netns", "del", f[0])
			}
		}
	}
}

// newLab builds the bridge and n namespaces; close removes them.
func newLab(n int) (l *lab, err error) {
	cleanLabs(false)
	pid := os.Getpid()
	subnet := fmt.Sprintf("10.77.%d", 20+pid%200)
	l = &lab{pid: pid, bridge: fmt.Sprintf("%s%d-br", labPrefix, pid), hostIP: subnet + ".1"}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	steps := [][]string{
		{"link", "add", l.bridge, "type", "bridge", "forward_delay", "0"},
		{"addr", "add", l.hostIP + "/24", "dev", l.bridge},
		{"link", "set", l.bridge, "up"},
	}
	for i := range n {
		ns := fmt.Sprintf("%s%d-n%d", labPrefix, pid, i+1)
		veth := fmt.Sprintf("%s%d-v%d", labPrefix, pid, i+1)
		ip := fmt.Sprintf("%s.%d", subnet, i+2)
		l.ns, l.veth, l.ip = append(l.ns, ns), append(l.veth, veth), append(l.ip, ip)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"link", "set", veth, "master", l.bridge, "up"},
			[]string{"-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			return l, err
		}
	}
	return l, nil
}

// close removes the lab (the veths go with their namespaces).
func (l *lab) close() {
	if l == nil {
		return
	}
	for _, ns := range l.ns {
		_ = ipCmd("netns", "del", ns)
	}
	_ = ipCmd("link", "del", l.bridge)
	cleanLabs(true)
}

// wrap is the command prefix running a process in node i's namespace
// (ip netns exec execs it: the pid is the node's own).
func (l *lab) wrap(i int) []string { return []string{"ip", "netns", "exec", l.ns[i]} }

func (l *lab) cut(i int) error  { return ipCmd("link", "set", l.veth[i], "down") }
func (l *lab) heal(i int) error { return ipCmd("link", "set", l.veth[i], "up") }

// delay adds d of latency to every packet sent to the nodes (netem on the
// root-side veths).
func (l *lab) delay(d string) error {
	for _, v := range l.veth {
		if out, err := exec.Command("tc", "qdisc", "add", "dev", v, "root", "netem", "delay", d).CombinedOutput(); err != nil {
			return fmt.Errorf("tc qdisc add dev %s root netem delay %s: %v: %s", v, d, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// netemUnavailable says why netem latency cannot be added here ("" if it
// can): it tries it on a throwaway veth pair.
func netemUnavailable() string {
	if r := labUnavailable(); r != "" {
		return r
	}
	if _, err := exec.LookPath("tc"); err != nil {
		return "no tc command (Debian package iproute2)"
	}
	a, b := fmt.Sprintf("%s%d-p0", labPrefix, os.Getpid()), fmt.Sprintf("%s%d-p1", labPrefix, os.Getpid())
	if err := ipCmd("link", "add", a, "type", "veth", "peer", "name", b); err != nil {
		return err.Error()
	}
	defer ipCmd("link", "del", a)
	out, err := exec.Command("tc", "qdisc", "add", "dev", a, "root", "netem", "delay", "100ms").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("the kernel has no netem qdisc (tc: %s)", strings.TrimSpace(string(out)))
	}
	return ""
}

// tmpfsUnavailable says why a tmpfs cannot be mounted here ("" if it can).
func tmpfsUnavailable() string {
	if os.Geteuid() != 0 {
		return "not root (mounting a tmpfs needs CAP_SYS_ADMIN)"
	}
	if _, err := exec.LookPath("mount"); err != nil {
		return "no mount command"
	}
	return ""
}
