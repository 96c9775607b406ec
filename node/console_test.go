package node_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// screenshot, when set, is where TestConsoleBrowser saves its screenshot
// besides the test's temporary directory: the README's picture is made
// with go test ./node -run TestConsoleBrowser -console.screenshot ../docs/console.png
var screenshot = flag.String("console.screenshot", "", "also save the console test's screenshot to this file")

// chromium returns the path of a Chromium (Debian's chromium, installed
// by .ci/run) or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestConsoleBrowser loads the console in headless Chromium while a node
// processes the flights 50k slice (examples/flights/node.toml) plus one
// corrupt partition, waits for the run to finish, and checks that the
// page's numbers equal /v1/status and /metrics (rows, partitions, dead
// letters), that the plan shows every system, that the chart has points
// and that the page asked nothing of any host but the node.
func TestConsoleBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		t.Skip("no Chromium found (chromium, chromium-browser or google-chrome): apt-get install chromium")
	}
	t.Setenv("PCS_NODE_ID", "console-test")
	t.Setenv("PCS_HTTP", "127.0.0.1:0")
	t.Setenv("PCS_LISTEN", "127.0.0.1:0")
	t.Setenv("PCS_STORE", t.TempDir())
	t.Setenv("PCS_LOG_LEVEL", "warn")
	cfg, err := node.LoadConfig("../examples/flights/node.toml")
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, cfg, plan.DefaultRegistry())
	base := "http://" + n.HTTPAddr()

	actx, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1400, 1000))
	defer cancel()
	var mu sync.Mutex
	var requests, problems []string
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	chromedp.ListenTarget(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			problems = append(problems, e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				problems = append(problems, e.Entry.Text)
			}
		}
	})
	bctx, cancel = context.WithTimeout(bctx, 4*time.Minute)
	defer cancel()
	var loadMs float64
	var pageBytes int64
	if err := chromedp.Run(bctx, network.Enable(), cdplog.Enable(), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`[data-pipeline="flights"] [data-k="rows_in"]`),
		chromedp.Evaluate(`(() => { const n = performance.getEntriesByType("navigation")[0]; return n.loadEventEnd - n.startTime; })()`, &loadMs),
		chromedp.Evaluate(`[performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")]
			.filter((e) => !e.name.includes("/v1/status")).reduce((s, e) => s + (e.encodedBodySize || 0), 0)`, &pageBytes),
	); err != nil {
		t.Fatal(err)
	}
	t.Logf("console loaded in %.0f ms, %d bytes (page and assets, before compression)", loadMs, pageBytes)

	// The run: the 50k slice in partitions of 4,096 rows, and one corrupt
	// partition for the dead-letter queue.
	js := jsOf(t, n.Conn())
	src, err := files.Open("../examples/flights/testdata/flights-50k.parquet", files.WithBatchRows(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pub, err := natsjs.NewPublisher(js, "flights.raw", natsjs.WithSourceID("flights-50k"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	parts, rows := 0, int64(0)
	if err := transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
		parts++
		rows += rec.NumRows()
		return pub.Write(ctx, rec)
	}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "flights.raw", Data: []byte("not arrow"), Header: nats.Header{natsjs.HeaderMsgID: {"corrupt/1"}}}); err != nil {
		t.Fatal(err)
	}
	if rows != 50_000 {
		t.Fatalf("published %d rows, want 50,000", rows)
	}

	// Finished: every partition settled on the node and the consumer.
	var st node.Status
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st = status(t, base)
		p := st.Pipelines[0]
		if p.Counters.Processed == int64(parts) && p.DeadLetters.Messages == 1 && p.InFlight == 0 && p.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not finished after 3 min: %+v", p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The page catches up at its next refresh.
	want := strconv.Itoa(parts)
	if err := chromedp.Run(bctx, chromedp.Poll(fmt.Sprintf(`(() => { const e = document.querySelector('[data-pipeline="flights"] [data-k="partitions_processed"]');
		const d = document.querySelector('[data-pipeline="flights"] [data-k="dlq_messages"]');
		return e && e.dataset.v === %q && d && d.dataset.v === "1"; })()`, want), nil, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the page never showed %s partitions and 1 dead letter: %v", want, err)
	}
	var page struct {
		Values  map[string]string `json:"values"`
		Texts   map[string]string `json:"texts"`
		Systems []string          `json:"systems"`
		Points  string            `json:"points"`
	}
	var png []byte
	if err := chromedp.Run(bctx, chromedp.Evaluate(`(() => {
		const card = document.querySelector('[data-pipeline="flights"]');
		const values = {}, texts = {};
		card.querySelectorAll("[data-k][data-v]").forEach((e) => { values[e.dataset.k] = e.dataset.v; texts[e.dataset.k] = e.textContent; });
		return { values, texts, systems: [...card.querySelectorAll("[data-system]")].map((e) => e.dataset.system),
			points: card.querySelector('[data-k="chart"]').dataset.points };
	})()`, &page), chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	st = status(t, base)
	metrics := scrape(t, n.HTTPAddr())
	p := st.Pipelines[0]
	for _, c := range []struct {
		key            string
		status, metric int64
		metricName     string
		unit           string
	}{
		{"rows_in", p.Counters.RowsIn, metricValue(t, metrics, "pcs_rows_in_total"), "pcs_rows_in_total", "rows"},
		{"rows_out", p.Counters.RowsOut, metricValue(t, metrics, "pcs_rows_out_total"), "pcs_rows_out_total", "rows"},
		{"partitions_processed", p.Counters.Processed, metricValue(t, metrics, "pcs_partitions_processed_total"), "pcs_partitions_processed_total", "partitions"},
		{"partitions_dead_lettered", p.Counters.DeadLettered, metricValue(t, metrics, "pcs_partitions_dead_lettered_total"), "pcs_partitions_dead_lettered_total", "partitions"},
		{"dlq_messages", int64(p.DeadLetters.Messages), metricValue(t, metrics, "pcs_partitions_dead_lettered_total"), "pcs_partitions_dead_lettered_total", "messages"},
	} {
		got, err := strconv.ParseInt(page.Values[c.key], 10, 64)
		if err != nil || got != c.status || got != c.metric {
			t.Errorf("%s: page %q, /v1/status %d, /metrics %s %d", c.key, page.Values[c.key], c.status, c.metricName, c.metric)
		}
		if text := strings.ReplaceAll(page.Texts[c.key], ",", ""); !strings.HasPrefix(text, page.Values[c.key]+" ") || !strings.HasSuffix(text, " "+strings.TrimSuffix(c.unit, "s")) && !strings.HasSuffix(text, " "+c.unit) {
			t.Errorf("%s: the page shows %q, want %s %s", c.key, page.Texts[c.key], page.Values[c.key], c.unit)
		}
	}
	if p.Counters.RowsIn != 50_000 || p.Counters.Processed != int64(parts) || p.DeadLetters.Messages != 1 || p.Counters.DeadLetteredBy[natsjs.ReasonCorrupt] != 1 {
		t.Errorf("status: rows in %d, processed %d of %d, dead letters %d, want 50,000 rows, all partitions and 1 corrupt",
			p.Counters.RowsIn, p.Counters.Processed, parts, p.DeadLetters.Messages)
	}
	var systems []string
	for _, stage := range p.Plan {
		for _, s := range stage.Systems {
			systems = append(systems, s.Name)
		}
	}
	if len(systems) != len(cfg.Pipelines[0].Systems) || !slices.Equal(page.Systems, systems) {
		t.Errorf("plan: the page shows systems %v, the status %v, the config has %d", page.Systems, systems, len(cfg.Pipelines[0].Systems))
	}
	if pts, _ := strconv.Atoi(page.Points); pts < 2 {
		t.Errorf("chart has %q points, want at least 2", page.Points)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, pr := range problems {
		t.Errorf("browser: %s", pr)
	}
	for _, u := range requests {
		if pu, err := neturl.Parse(u); err != nil || pu.Host != n.HTTPAddr() {
			t.Errorf("the page requested %s, not on the node %s", u, n.HTTPAddr())
		}
	}
	t.Logf("%d requests, all to the node; %d partitions, %d rows; screenshot %d bytes", len(requests), parts, rows, len(png))
	for _, path := range []string{t.TempDir() + "/console.png", *screenshot} {
		if path == "" {
			continue
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// status GETs and decodes /v1/status.
func status(t *testing.T, base string) node.Status {
	t.Helper()
	resp, err := http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st node.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Pipelines) != 1 {
		t.Fatalf("status has %d pipelines, want 1", len(st.Pipelines))
	}
	return st
}

// metricValue sums the samples of a metric in a Prometheus text
// exposition (every label set).
func metricValue(t *testing.T, text, name string) int64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	var sum float64
	found := false
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
		found = true
	}
	if !found {
		t.Errorf("/metrics has no %s", name)
	}
	return int64(sum)
}
