package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestQuickstart runs the program and checks what it prints.
func TestQuickstart(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	main()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	for _, want := range []string{
		"pipeline sensors: 2 systems in 1 stage\n",
		"stage 0   flag(reads: reading.celsius | writes: reading.hot)",
		"report(reads: reading.celsius, reading.sensor | writes: resource main.Hottest)",
		"[{roof 31.5 true} {cellar 12 false} {attic 35.25 true}]",
		"hottest: attic at 35.25 °C",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestREADMEShowsQuickstart keeps the README's code identical to this
// program, so the README's example is the one the tests run.
func TestREADMEShowsQuickstart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- quickstart: examples/quickstart/main.go -->\n```go\n")
	if !ok {
		t.Fatal("README lacks the quickstart block")
	}
	block, _, _ = strings.Cut(block, "```\n")
	// the one-line rule is written with the Map helper, not by hand
	if !strings.Contains(string(src), "pcs.Map1(") {
		t.Error("the quickstart does not show pcs.Map1")
	}
	if block != string(src) {
		t.Error("README's quickstart block differs from examples/quickstart/main.go; copy the file into the README")
	}
}
