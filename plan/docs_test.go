package plan_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pcs-dev/pcs/local"

	"github.com/pcs-dev/pcs/plan"
)

// docBlock is a fenced block of docs/systems.md: its info string and text.
type docBlock struct {
	info, text string
	line       int
}

// docSections splits a Markdown file into "## " sections (the text before
// the first is section "") of fenced blocks.
func docSections(t *testing.T, path string) (names []string, blocks map[string][]docBlock) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks = map[string][]docBlock{}
	section := ""
	names = append(names, section)
	var cur *docBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && line == "```":
			blocks[section] = append(blocks[section], *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.HasPrefix(line, "```"):
			cur = &docBlock{info: strings.TrimPrefix(line, "```"), line: n}
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
			names = append(names, section)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names, blocks
}

// TestSystemsDoc runs every example of docs/systems.md: the pipeline
// head, the example's TOML blocks, `pcs run` (local.Run) in a
// directory with the page's files, and the output must equal the page's
// "csv out" block that follows the TOML.
func TestSystemsDoc(t *testing.T) {
	names, blocks := docSections(t, "../docs/systems.md")
	var head string
	files := map[string]string{}
	for _, b := range slices.Concat(slices.Collect(maps.Values(blocks))...) {
		switch {
		case b.info == "toml head":
			head = b.text
		case strings.HasPrefix(b.info, "csv file="):
			files[strings.TrimPrefix(b.info, "csv file=")] = b.text
		}
	}
	if head == "" || len(files) == 0 {
		t.Fatal("docs/systems.md has no pipeline head or input files")
	}
	reg := plan.DefaultRegistry()
	examples := 0
	for _, name := range names[1:] {
		var toml string
		for _, b := range blocks[name] {
			switch b.info {
			case "toml":
				toml += b.text
			case "toml pipeline": // a whole pipeline section, without the head
				toml = "\x00" + b.text
			case "csv out":
				examples++
				t.Run(name+"/line"+strconv.Itoa(b.line), func(t *testing.T) {
					dir := t.TempDir()
					for f, body := range files {
						if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					src := head + toml
					if standalone, ok := strings.CutPrefix(toml, "\x00"); ok {
						src = standalone
					}
					if !strings.Contains(src, "[pipeline.output]") && !strings.Contains(src, "output =") {
						src += "\n[pipeline.output]\nfile = \"out.csv\"\n"
					}
					for _, f := range append(slices.Sorted(maps.Keys(files)), "out.csv") { // paths relative to dir
						src = strings.ReplaceAll(src, strconv.Quote(f), strconv.Quote(filepath.Join(dir, f)))
					}
					cfg, err := plan.ParseFile(name+".toml", []byte(src))
					if err != nil {
						t.Fatalf("%v\n%s", err, src)
					}
					if _, err := local.Run(context.Background(), cfg.Pipelines, reg, nil, nil); err != nil {
						t.Fatalf("%v\n%s", err, src)
					}
					got, err := os.ReadFile(filepath.Join(dir, "out.csv"))
					if err != nil {
						t.Fatal(err)
					}
					if string(got) != b.text {
						t.Errorf("docs/systems.md:%d: output\n%s\nwant\n%s", b.line, got, b.text)
					}
				})
				toml = ""
			}
		}
	}
	if examples < 8 {
		t.Errorf("%d examples, want one per built-in system at least", examples)
	}
	// every TOML block is part of an example that ran
	for _, name := range names {
		pending := false
		for _, b := range blocks[name] {
			switch {
			case strings.HasPrefix(b.info, "toml") && b.info != "toml head":
				pending = true
			case b.info == "csv out":
				pending = false
			}
			if pending && b.info == "toml head" {
				pending = false
			}
		}
		if pending {
			t.Errorf("docs/systems.md: section %q ends with a TOML block and no csv out block after it: the block is not run", name)
		}
	}
}

// TestDocsTOMLRuns: every TOML block of the other docs/*.md pages parses
// as a config and builds (TestSystemsDoc runs systems.md's).
func TestDocsTOMLRuns(t *testing.T) {
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs: %v %v", pages, err)
	}
	for _, page := range pages {
		if filepath.Base(page) == "systems.md" {
			continue
		}
		names, blocks := docSections(t, page)
		for _, name := range names {
			for _, b := range blocks[name] {
				if !strings.HasPrefix(b.info, "toml") {
					continue
				}
				cfg, err := plan.ParseFile(page, []byte(b.text))
				if err == nil {
					err = plan.SetupPipelines(cfg.Pipelines)
				}
				if err != nil {
					t.Errorf("%s:%d: %v", page, b.line, err)
				}
			}
		}
	}
}

// TestCLIDocListsSystems: docs/cli.md's list of the systems `pcs run`
// offers by name names every built-in system and the window system.
func TestCLIDocListsSystems(t *testing.T) {
	cli, err := os.ReadFile("../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(cli), "available by name: the built-ins of [systems.md](systems.md) (")
	if !ok {
		t.Fatal("docs/cli.md: no list of the systems available by name")
	}
	list, _, _ = strings.Cut(list, ")")
	// the registry names its systems when asked for one it lacks
	cfg, err := plan.ParseFile("x.toml", []byte(`
[[pipeline]]
name = "x"
input = { files = ["in.csv"], component = "c" }
output = { file = "out.csv" }

[[pipeline.component]]
name = "c"
fields = ["v: int64"]

[[pipeline.system]]
use = "no such system"
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.Build(context.Background(), cfg.Pipelines[0], plan.DefaultRegistry())
	_, registered, ok := strings.Cut(fmt.Sprint(err), "(registered: [")
	if !ok {
		t.Fatalf("error %v does not list the registered systems", err)
	}
	registered, _, _ = strings.Cut(registered, "]")
	for _, name := range append(strings.Fields(registered), plan.WindowSystem) {
		if !strings.Contains(list, "`"+name+"`") {
			t.Errorf("docs/cli.md's list of systems for pcs run lacks %q: %s", name, list)
		}
	}
}

// TestWindowOptionsDocumented: every option of the window system
// (windowOptions in window.go) is described in docs/systems.md's window
// section.
func TestWindowOptionsDocumented(t *testing.T) {
	src, err := os.ReadFile("window.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "type windowOptions struct {")
	if !ok {
		t.Fatal("window.go has no windowOptions")
	}
	body, _, _ = strings.Cut(body, "\n}")
	doc, err := os.ReadFile("../docs/systems.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "\n## window\n")
	section, _, _ = strings.Cut(section, "\n## ")
	n := 0
	for _, m := range regexp.MustCompile(`toml:"(\w+)"`).FindAllStringSubmatch(body, -1) {
		n++
		if !strings.Contains(section, "`"+m[1]+"`") {
			t.Errorf("docs/systems.md's window section does not describe option %q", m[1])
		}
	}
	if n < 8 {
		t.Errorf("found %d window options in window.go", n)
	}
}
