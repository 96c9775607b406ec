package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo end to end on the 50k-row slice shipped in
// testdata: real pcs-node and pcs processes, the embedded broker, and the
// check against the direct computation (run returns an error when the
// output differs). The printed summary is asserted line by line.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs processes")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/pcs", "./cmd/pcs-node")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	td := filepath.Join(repo, "examples", "flights", "testdata")
	var out bytes.Buffer
	o := options{repo: repo, bin: bin, flights: filepath.Join(td, "flights-50k.parquet"), airports: filepath.Join(td, "airports.csv"), batchRows: 8192}
	if err := run(ctx, o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want, err := computeDirectly(ctx, o.flights, o.airports)
	if err != nil {
		t.Fatal(err)
	}
	top := want.top(5)
	hours, err := hoursDirectly(ctx, o.flights)
	if err != nil {
		t.Fatal(err)
	}
	worst := "5 worst origin-hours by average delay (" + itoa(worstMinFlights) + "+ flights):\n"
	for _, h := range worstHours(hours, 5) {
		worst += "  " + h.String() + "\n"
	}
	for _, re := range []string{
		`(?m)^rows in: +50000$`,
		`(?m)^rows out: +` + itoa(want.Rows) + `$`,
		`(?m)^delayed share: +[0-9.]+% \(` + itoa(want.Delayed) + ` flights delayed more than 15 minutes\)$`,
		`(?m)^top 5 origin states by delayed flights: ` + regexp.QuoteMeta(top[0]) + ` `,
		`(?m)^end to end: +[0-9]+ rows/s`,
		`(?m)^verified: `,
		`(?m)^pcs run: +` + itoa(want.Rows) + ` rows in .*, the same rows as pcs-node's output`,
		`(?m)^hourly window: ` + itoa(int64(len(hours))) + ` origin-hours \(tumbling 1h by origin over pcs-node's output\)`,
		`(?m)^` + regexp.QuoteMeta(worst) + `verified: +every origin-hour equals a direct computation over the input$`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", re, out.String())
		}
	}
	if len(worstHours(hours, 5)) != 5 {
		t.Errorf("fewer than 5 origin-hours with %d+ flights in %s", worstMinFlights, o.flights)
	}
	if want.Rows == 0 || want.Delayed == 0 || len(want.ByState) < 5 {
		t.Errorf("implausible expectation %+v", want)
	}
	if strings.Contains(out.String(), "expected (direct computation)") {
		t.Error("summary mismatch reported")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
