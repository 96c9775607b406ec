package node_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
)

func TestMainExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[node]\nlog_level = \"loud\"\n[[pipeline]]\nname = \"p\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no config", nil, 2, "usage: pcs-node --config node.toml"},
		{"help", []string{"--help"}, 0, "Usage:\n  pcs-node --config node.toml"},
		{"version", []string{"--version"}, 0, "github.com/pcs-dev/pcs"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.toml")}, 1, "no such file"},
		{"invalid config", []string{"--config", bad}, 1, "log_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := node.Main(tt.args, plan.NewRegistry(), &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
			if tt.code == 1 && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("failure not on one line: %q", stderr.String())
			}
		})
	}
}
