package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDLQ: partitions whose column "name" does not fit the pipeline's
// component (declared int64, published as strings) are dead-lettered;
// pcs dlq lists them without decoding, shows one, and after the fix (the
// component declares a string) replays them to the input subject under
// new ids, where the node processes them; purge empties the rest.
func TestDLQ(t *testing.T) {
	tb := startBroker(t)
	stop := runNode(t, tb.url, `"id: int64", "name: int64"`)
	dir := t.TempDir()
	mustPCS(t, "publish", "--server", tb.url, "-s", "in.p", "--batch-rows", "100", "-q", writeParquet(t, dir, "bad.parquet", makeRecords(t, 300, 300)))
	waitMsgs(t, tb, "PCS_P_IN_DLQ", 3)
	stop()

	dlq := func(args ...string) result {
		t.Helper()
		return mustPCS(t, append([]string{"dlq", "--server", tb.url}, args...)...)
	}
	r := dlq("list", "--pipeline", "p")
	for _, re := range []string{
		`(?m)^SEQ +ID +REASON +TIME +SIZE +SUBJECT +ERROR$`,
		`(?m)^1 +bad/\d +schema +\d{4}-\d\d-\d\dT\S+Z +\d+(\.\d)? KiB +in\.p +\S.*name`,
		`(?m)^3 dead letters in PCS_P_IN_DLQ$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("list lacks %s:\n%s", re, r.stdout)
		}
	}
	r = dlq("show", "--pipeline", "p", "2")
	for _, want := range []string{"dead letter 2 (stored ", "  Pcs-Error-Reason: schema", "  Pcs-Source-Stream: PCS_P_IN", "  Pcs-Rows: 100", "  body: 100 rows, schema "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}

	// The fix: the component declares name a string. Replay 1 and 2.
	runNode(t, tb.url, `"id: int64", "name: string"`)
	r = dlq("replay", "--pipeline", "p", "1", "2")
	if !regexp.MustCompile(`(?m)^replayed 1 as bad/\d\.r1 to in\.p$`).MatchString(r.stdout) || !strings.HasSuffix(r.stdout, "replayed 2 dead letters\n") {
		t.Fatalf("replay: %v", r)
	}
	waitMsgs(t, tb, "PCS_P_OUT", 2)
	if parts, rows := parseSummary(t, mustPCS(t, "consume", "--server", tb.url, "-s", "out.p").stdout); parts != 2 || rows != 200 {
		t.Fatalf("after replay: %d partitions, %d rows in the sink; want 2, 200", parts, rows)
	}
	if n := tb.msgs(t, "PCS_P_IN_DLQ"); n != 1 {
		t.Fatalf("%d dead letters left, want 1", n)
	}
	r = dlq("purge", "--pipeline", "p", "--all")
	if r.stdout != "purged 1 dead letter from PCS_P_IN_DLQ\n" {
		t.Fatalf("purge: %v", r)
	}
	if r = dlq("list", "--pipeline", "p"); r.stdout != "no dead letters in PCS_P_IN_DLQ\n" {
		t.Fatalf("list after purge: %v", r)
	}

	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"list"}, 2, []string{"--pipeline"}},
		{[]string{"replay", "--pipeline", "p"}, 2, []string{"sequence numbers", "--all"}},
		{[]string{"show", "--pipeline", "p", "x"}, 2, []string{`"x"`}},
		{[]string{"show", "--pipeline", "p", "9"}, 1, []string{"no dead letter 9"}},
		{[]string{"list", "--pipeline", "nope"}, 1, []string{"PCS_NOPE_IN_DLQ"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := pcs(ctx, append([]string{"dlq", "--server", tb.url}, c.args...)...)
		cancel()
		if r.code != c.code {
			t.Errorf("%v: exit %d, want %d: %v", c.args, r.code, c.code, r)
			continue
		}
		oneErrorLine(t, r, c.want...)
	}
}
