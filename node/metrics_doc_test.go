package node_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docMetric is one row of docs/metrics.md.
type docMetric struct {
	kind   string
	labels []string
}

// readMetricsDoc parses the metric tables of docs/metrics.md.
func readMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	f, err := os.Open("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `(pcs_[a-z_]+)` \\| (counter|gauge|histogram) \\|([a-z_, ]*)\\| .+ \\|$")
	out := map[string]docMetric{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			if strings.HasPrefix(sc.Text(), "| `pcs_") {
				t.Errorf("docs/metrics.md: malformed row %q", sc.Text())
			}
			continue
		}
		var labels []string
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		slices.Sort(labels)
		out[m[1]] = docMetric{kind: m[2], labels: labels}
	}
	return out
}

// liveMetrics parses a Prometheus text exposition: each pcs_ metric's
// type and label names (histogram buckets' le left out).
func liveMetrics(text string) map[string]docMetric {
	out := map[string]docMetric{}
	typ := regexp.MustCompile(`^# TYPE (pcs_[a-z_]+) ([a-z]+)$`)
	sample := regexp.MustCompile(`^(pcs_[a-z_]+?)(_bucket|_sum|_count)?(\{[^}]*\})? \S+$`)
	label := regexp.MustCompile(`([a-z_]+)="`)
	for _, line := range strings.Split(text, "\n") {
		if m := typ.FindStringSubmatch(line); m != nil {
			out[m[1]] = docMetric{kind: m[2]}
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name := m[1]
		if _, ok := out[name]; !ok {
			name += m[2] // pcs_x_count of a metric that is not a histogram
		}
		d, ok := out[name]
		if !ok {
			continue
		}
		for _, l := range label.FindAllStringSubmatch(m[3], -1) {
			if l[1] != "le" && !slices.Contains(d.labels, l[1]) {
				d.labels = append(d.labels, l[1])
			}
		}
		slices.Sort(d.labels)
		out[name] = d
	}
	return out
}

// TestMetricsDoc checks docs/metrics.md against the /metrics of a node
// with a catalog that has processed nothing yet: every metric is served
// from start, with the documented type and labels, and every pcs_ metric
// served is documented. The per-pipeline series exist at 0.
func TestMetricsDoc(t *testing.T) {
	cfg := fleetConfig(t, "", 0)
	n := startNode(t, cfg, registry(nil))
	text := scrape(t, n.HTTPAddr())
	doc, live := readMetricsDoc(t), liveMetrics(text)
	if len(doc) < 30 {
		t.Fatalf("docs/metrics.md lists %d metrics; the parser missed rows?", len(doc))
	}
	for name, d := range doc {
		l, ok := live[name]
		switch {
		case !ok:
			t.Errorf("%s is documented but not served from start", name)
		case l.kind != d.kind || !slices.Equal(l.labels, d.labels):
			t.Errorf("%s: served as %s %v, documented as %s %v", name, l.kind, l.labels, d.kind, d.labels)
		}
	}
	for name := range live {
		if _, ok := doc[name]; !ok {
			t.Errorf("%s is served but not in docs/metrics.md", name)
		}
	}
	for _, series := range []string{
		`pcs_partitions_failed_total{pipeline="p"} 0`,
		`pcs_paused{pipeline="p"} 0`,
		`pcs_partitions_dead_lettered_total{pipeline="p",reason="corrupt"} 0`,
		`pcs_partitions_dead_lettered_total{pipeline="p",reason="max_deliver"} 0`,
		`pcs_partitions_dead_lettered_total{pipeline="p",reason="permanent"} 0`,
		`pcs_partitions_dead_lettered_total{pipeline="p",reason="schema"} 0`,
		`pcs_system_duration_seconds_count{pipeline="p",system="double"} 0`,
		`pcs_checkpoint_age_seconds{pipeline="p"} 0`,
		`pcs_catalog_raft_state{state="leader"} 1`,
		`pcs_catalog_members{suffrage="voter"} 1`,
		`pcs_catalog_has_leader 1`,
	} {
		if !strings.Contains(text, "\n"+series+"\n") {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}
