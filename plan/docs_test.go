package plan_test

import (
	"bufio"
	"context"
	"maps"
	"os"
	"path/filepath"
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
}
