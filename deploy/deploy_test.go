// Package deploy holds the tests of the deployment files: there is no
// Docker engine or Kubernetes cluster where PCS is developed, so each file
// is checked by the tools that read it, and the processes it describes run
// in make demo-cluster (examples/cluster) with the same config files.
package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// secretsEnv is what compose.yaml requires from the environment.
var secretsEnv = map[string]string{
	"NATS_PASS_N1": "p1", "NATS_PASS_N2": "p2", "NATS_PASS_N3": "p3", "NATS_PASS_PUBLISHER": "pp",
	"NATS_PASS_CONSUMER": "pc", "NATS_PASS_ADMIN": "pa", "PCS_HTTP_TOKEN": "tok",
}

func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, "compose.yaml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("pcs", true) })
}

// envRefs returns the $VAR / ${VAR...} names a config file references.
func envRefs(t *testing.T, path string, re *regexp.Regexp) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	return names
}

// TestCompose loads compose.yaml with the Compose specification's loader
// and checks it runs the demo-cluster topology with the demo's own files.
func TestCompose(t *testing.T) {
	if _, err := loadCompose(t, map[string]string{}); err == nil || !strings.Contains(err.Error(), "NATS_PASS") {
		t.Errorf("compose.yaml loads without the secrets: %v", err)
	}
	p, err := loadCompose(t, secretsEnv)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"grafana", "nats-1", "nats-2", "nats-3", "pcs-node-1", "pcs-node-2", "pcs-node-3", "prometheus"}
	if got := p.ServiceNames(); !slices.Equal(sorted(got), wantNames) {
		t.Fatalf("services %v, want %v", got, wantNames)
	}
	natsConf, _ := filepath.Abs("../examples/cluster/nats.conf")
	clusterToml, _ := filepath.Abs("../examples/cluster/cluster.toml")
	natsVars := envRefs(t, natsConf, regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)(?:[^.A-Z0-9_]|$)`))
	nodeVars := envRefs(t, clusterToml, regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)`))
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	natsVersion := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v(\S+)`).FindSubmatch(goMod)
	for _, name := range wantNames {
		s, _ := p.GetService(name)
		switch {
		case strings.HasPrefix(name, "nats-"):
			if !slices.Equal([]string(s.Command), []string{"nats-server", "-c", "/etc/nats/nats.conf"}) {
				t.Errorf("%s: command %q", name, s.Command)
			}
			if natsVersion == nil || !strings.HasPrefix(s.Image, "nats:"+string(natsVersion[1])) {
				t.Errorf("%s: image %s, want the nats-server version of go.mod (%s)", name, s.Image, natsVersion)
			}
			checkMount(t, s, natsConf, "/etc/nats/nats.conf")
			for _, v := range natsVars {
				if _, ok := s.Environment[v]; !ok && v != "JS_DENY" {
					t.Errorf("%s: nats.conf uses $%s, which the service does not set", name, v)
				}
			}
		case strings.HasPrefix(name, "pcs-node-"):
			if !slices.Equal([]string(s.Command), []string{"--config", "/etc/pcs/cluster.toml"}) {
				t.Errorf("%s: command %q", name, s.Command)
			}
			checkMount(t, s, clusterToml, "/etc/pcs/cluster.toml")
			for _, v := range nodeVars {
				if _, ok := s.Environment[v]; !ok && !optionalNodeVar(v) {
					t.Errorf("%s: cluster.toml uses ${%s}, which the service does not set", name, v)
				}
			}
			for _, v := range []string{"PCS_NATS_USER", "PCS_NATS_PASSWORD", "PCS_NATS_TLS_CA", "PCS_RAFT_TLS_CERT", "PCS_HTTP_TOKEN"} {
				if e := s.Environment[v]; e == nil || *e == "" {
					t.Errorf("%s: %s not set", name, v)
				}
			}
			if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
				t.Errorf("%s: build %+v", name, s.Build)
			}
		}
	}
	graf, _ := p.GetService("grafana")
	var provisioned bool
	for _, v := range graf.Volumes {
		provisioned = provisioned || v.Target == "/etc/grafana/provisioning"
	}
	if !provisioned {
		t.Error("grafana: no provisioning mount")
	}
}

// optionalNodeVar: cluster.toml variables with a default that compose may
// leave unset.
func optionalNodeVar(v string) bool {
	return slices.Contains([]string{"PCS_LOG_LEVEL", "PCS_BOOTSTRAP"}, v)
}

func checkMount(t *testing.T, s types.ServiceConfig, source, target string) {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			if v.Source != source {
				t.Errorf("%s: %s mounted from %s, want the demo's %s", s.Name, target, v.Source, source)
			}
			return
		}
	}
	t.Errorf("%s: nothing mounted at %s", s.Name, target)
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestKubernetes decodes every manifest strictly into the Kubernetes API
// types (an unknown or misplaced field fails) and checks what the
// deployment relies on.
func TestKubernetes(t *testing.T) {
	b, err := os.ReadFile("kubernetes/pcs-node.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		kinds[meta.Kind]++
		var obj any
		switch meta.Kind {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		case "Service":
			obj = &corev1.Service{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			want, err := os.ReadFile("../examples/cluster/cluster.toml")
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(o.Data["cluster.toml"]) != strings.TrimSpace(string(want)) {
				t.Error("the ConfigMap's cluster.toml differs from examples/cluster/cluster.toml")
			}
		case *corev1.Service:
			if o.Spec.ClusterIP != corev1.ClusterIPNone || !o.Spec.PublishNotReadyAddresses {
				t.Errorf("Service: not headless with not-ready addresses: %+v", o.Spec)
			}
		case *appsv1.StatefulSet:
			c := o.Spec.Template.Spec.Containers[0]
			if o.Spec.ServiceName != "pcs-node" || *o.Spec.Replicas != 3 {
				t.Errorf("StatefulSet: service %q, replicas %d", o.Spec.ServiceName, *o.Spec.Replicas)
			}
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Error("StatefulSet: probes are not /healthz and /readyz")
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Error("StatefulSet: no resources")
			}
			if sc := o.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Error("StatefulSet: not non-root")
			}
			if len(o.Spec.VolumeClaimTemplates) != 1 {
				t.Error("StatefulSet: no volume for the Raft state")
			}
		case *policyv1.PodDisruptionBudget:
			if o.Spec.MaxUnavailable == nil || o.Spec.MaxUnavailable.IntValue() != 1 {
				t.Error("PDB: maxUnavailable is not 1")
			}
		}
	}
	for _, k := range []string{"ConfigMap", "Secret", "Service", "StatefulSet", "PodDisruptionBudget"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s, want 1", kinds[k], k)
		}
	}
	// The NATS Helm chart's values: what PCS needs of the cluster.
	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool
				Replicas int
				TLS      struct{ Enabled bool } `json:"tls"`
			}
			JetStream struct{ Enabled bool } `json:"jetstream"`
			Nats      struct {
				TLS struct{ Enabled bool } `json:"tls"`
			}
			Merge struct {
				Authorization struct {
					Users []map[string]any
				}
			}
		}
	}
	vb, err := os.ReadFile("kubernetes/nats-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(vb, &v); err != nil {
		t.Fatal(err)
	}
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 || !c.Cluster.TLS.Enabled || !c.JetStream.Enabled || !c.Nats.TLS.Enabled || len(c.Merge.Authorization.Users) != 6 {
		t.Errorf("nats-values.yaml: %+v", c)
	}
}

// TestDockerfile checks the Dockerfile's shape (no engine to build it here).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, re := range []string{`(?m)^FROM golang:\S+ AS build$`, `(?m)^FROM alpine:\S+$`, `CGO_ENABLED=0 go build`, `(?m)^USER 10001`,
		`(?m)^HEALTHCHECK .*\n\s+CMD wget -q -O /dev/null http://127.0.0.1:9464/healthz`, `(?m)^COPY --from=build /out/pcs /out/pcs-node`} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("Dockerfile lacks %s", re)
		}
	}
	goMod, _ := os.ReadFile("../go.mod")
	goVersion := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(goMod)
	if goVersion == nil || !strings.Contains(s, "golang:"+string(goVersion[1])) {
		t.Errorf("the build stage's Go is not go.mod's %s", goVersion)
	}
}

// TestMetricNames runs a live pcs-node (with a catalog, so the catalog's
// metrics exist) and checks that every pcs_ metric the alert rules and the
// dashboard query is on its /metrics.
func TestMetricNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pcs-node")
	}
	repo, _ := filepath.Abs("..")
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/pcs", "./cmd/pcs-node")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	brokerAddr, httpAddr, raftAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	start := func(name string, env []string, args ...string) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = append(os.Environ(), env...)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s:\n%s", name, log.String())
			}
		})
	}
	start("pcs", nil, "broker", "--store", t.TempDir(), "--listen", brokerAddr)
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", brokerAddr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pcs broker did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	td := filepath.Join(repo, "examples", "flights", "testdata")
	start("pcs-node", []string{"PCS_NODE_ID=m1", "PCS_HTTP=" + httpAddr, "PCS_SERVER=nats://" + brokerAddr, "PCS_DIR=" + t.TempDir(),
		"PCS_RAFT=" + raftAddr, "PCS_BOOTSTRAP=true", "PCS_AIRPORTS=" + filepath.Join(td, "airports.csv")},
		"--config", filepath.Join(repo, "examples", "fleet", "fleet.toml"))
	var body []byte
	for deadline := time.Now().Add(90 * time.Second); ; {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("pcs-node did not get ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	live := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "pcs_") {
			live[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
		}
	}

	queried := map[string][]string{} // metric -> files
	name := regexp.MustCompile(`\bpcs_[a-z0-9_]+`)
	var exprs []string
	alerts := readRules(t)
	for _, r := range alerts {
		exprs = append(exprs, r)
	}
	for _, e := range exprs {
		for _, m := range name.FindAllString(e, -1) {
			queried[m] = append(queried[m], "prometheus/alerts.yml")
		}
	}
	for _, e := range dashboardExprs(t) {
		for _, m := range name.FindAllString(e, -1) {
			queried[m] = append(queried[m], "grafana/dashboards/pcs.json")
		}
	}
	if len(queried) < 10 {
		t.Fatalf("only %d metrics queried", len(queried))
	}
	for m, files := range queried {
		if !live[m] {
			t.Errorf("%s (queried by %s) is not on a live node's /metrics", m, strings.Join(slices.Compact(files), ", "))
		}
	}
	var names []string
	for m := range queried {
		names = append(names, m)
	}
	slices.Sort(names)
	t.Logf("metrics queried, all live: %s", strings.Join(names, " "))
}

// readRules returns the alert rules' expressions, checking the file's shape.
func readRules(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	type rule struct {
		Alert       string            `json:"alert"`
		Expr        string            `json:"expr"`
		For         string            `json:"for,omitempty"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	}
	var f struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	var names []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: needs alert, expr and a summary", r)
			}
			exprs = append(exprs, r.Expr)
			names = append(names, r.Alert)
		}
	}
	for _, want := range []string{"PCSDeadLetterGrowth", "PCSNodePaused", "PCSConsumerLag", "PCSNoCatalogLeader", "PCSCheckpointAge"} {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s", want)
		}
	}
	var prom struct {
		RuleFiles     []string         `json:"rule_files"`
		ScrapeConfigs []map[string]any `json:"scrape_configs"`
	}
	pb, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(pb, &prom); err != nil || len(prom.RuleFiles) != 1 || len(prom.ScrapeConfigs) == 0 {
		t.Errorf("prometheus.yml: %v %+v", err, prom)
	}
	return exprs
}

// dashboardExprs returns the dashboard panels' queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("grafana/dashboards/pcs.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var exprs, titles []string
	for _, p := range d.Panels {
		titles = append(titles, strings.ToLower(p.Title))
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	all := strings.Join(titles, "|")
	for _, want := range []string{"throughput", "lag", "dead-lettered", "paused", "partition latency", "catalog apply latency", "checkpoint age"} {
		if !strings.Contains(all, want) {
			t.Errorf("no dashboard panel about %s", want)
		}
	}
	return exprs
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
