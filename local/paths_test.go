package local_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
)

// TestRelativePathsFollowTheConfigFile: input.files, output.file and a
// table resource's path written relative in a config file resolve
// against the file's directory, whatever the working directory.
func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("data/in.csv", "k,v\na,1\nb,2\n")
	write("data/names.csv", "k,name\na,alpha\nb,beta\n")
	write("conf/p.toml", `
[[pipeline]]
name = "p"
input = { files = ["../data/in*.csv"], component = "row" }
output = { file = "../out/result.csv" }

[[pipeline.component]]
name = "row"
fields = ["k: string", "v: int64"]

[[pipeline.component]]
name = "named"
fields = ["name: string"]

[[pipeline.resource]]
use = "table"
options = { name = "names", path = "../data/names.csv", keys = ["k"] }

[[pipeline.system]]
use = "lookup"
options = { component = "row", into = "named", table = "names", keys = ["k"], values = ["name"], columns = ["name"] }
`)
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // elsewhere
	f, err := plan.LoadFile(filepath.Join(dir, "conf", "p.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Run(context.Background(), f.Pipelines, plan.DefaultRegistry(), nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out", "result.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "k,v,name\na,1,alpha\nb,2,beta\n"; string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
}
