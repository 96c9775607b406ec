package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/node/catalog"
)

// Status defaults.
const (
	defaultStatusURL = "http://127.0.0.1:9464" // pcs-node's default [node] http
	// statusTimeout bounds the request to the node.
	statusTimeout = 10 * time.Second
	// maxStatusBody bounds the JSON read from the node.
	maxStatusBody = 64 << 20
)

type statusOptions struct {
	url      string
	json     bool
	timeout  time.Duration
	watch    bool
	interval time.Duration
}

// clearScreen moves the cursor home and clears the terminal (ANSI), so
// --watch redraws in place.
const clearScreen = "\x1b[H\x1b[2J"

func (e *env) statusCommand() *cobra.Command {
	o := statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [--url URL] [--json] [--watch [--interval D]]",
		Short: "Show a pcs-node's pipelines and the fleet's catalog",
		Long: `Status asks one pcs-node for its status (GET <url>/v1/status, the node's
[node] http address) and prints it: the node, and with a [catalog] the Raft
leader, the voters and non-voters, the fleet's nodes with the age of their
last heartbeat; then per pipeline the partitions done, failed and
dead-lettered with the rows and bytes of the done ones (the fleet's, from
the catalog; without a [catalog], the node's own counters), the messages
in the pipeline's dead-letter stream, the partitions in flight (delivered,
not yet acked) and pending (not yet delivered) on the pipeline's durable
consumer (shared by the fleet, so the counts are fleet-wide), and the
watermarks and checkpoints if any.

The catalog part is the answering node's copy: a follower's may lag the
leader's by a few Raft entries. --json prints the node's JSON as it is.
--watch redraws the status in place every --interval until interrupted.
The node's console at its URL shows the same status in a browser.`,
		Example: `  pcs status
  pcs status --watch --interval 1s
  pcs status --url http://10.0.0.2:9464 --json | jq '.catalog.pipelines'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("status takes no arguments, got %q (the node is --url)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.status(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", defaultStatusURL, "the node's control-plane URL ([node] http); http:// is assumed when missing")
	f.BoolVar(&o.json, "json", false, "print the node's status JSON as it is")
	f.DurationVar(&o.timeout, "timeout", statusTimeout, "bound on the request")
	f.BoolVarP(&o.watch, "watch", "w", false, "redraw the status in place every --interval until interrupted")
	f.DurationVar(&o.interval, "interval", 2*time.Second, "refresh period of --watch")
	return cmd
}

// statusURL returns the /v1/status URL of the node at raw ("host:port",
// "http://host:port" or with a path prefix).
func statusURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", usagef("status: --url is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := neturl.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("status: --url %q: want http://HOST:PORT, e.g. %s", raw, defaultStatusURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/status"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

func (e *env) status(ctx context.Context, o statusOptions) error {
	url, err := statusURL(o.url)
	if err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usagef("status: --timeout must be positive")
	}
	if !o.watch {
		return e.statusOnce(ctx, url, o)
	}
	if o.interval <= 0 {
		return usagef("status: --interval must be positive")
	}
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for {
		// Render first, then clear and write in one go: no flicker.
		var b bytes.Buffer
		w := e.stdout
		e.stdout = &b
		err := e.statusOnce(ctx, url, o)
		e.stdout = w
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(&b, "pcs: %v\n", err)
		}
		fmt.Fprintf(&b, "\nevery %s; Ctrl-C to stop\n", o.interval)
		if _, err := io.WriteString(w, clearScreen+b.String()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// statusOnce fetches and prints the status once.
func (e *env) statusOnce(ctx context.Context, url string, o statusOptions) error {
	body, err := fetchStatus(ctx, url, o.timeout)
	if err != nil {
		return err
	}
	if o.json {
		if !json.Valid(body) {
			return fmt.Errorf("status: %s did not answer JSON", url)
		}
		_, err := e.stdout.Write(append(bytes.TrimRight(body, "\n"), '\n'))
		return err
	}
	var st node.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("status: %s: not a pcs-node status: %v", url, err)
	}
	var b bytes.Buffer
	printStatus(&b, st)
	_, err = e.stdout.Write(b.Bytes())
	return err
}

// fetchStatus GETs url and returns its body, or an error that says what
// went wrong in one line.
func fetchStatus(ctx context.Context, url string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, usagef("status: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	// A node with [node] http_token_file or PCS_HTTP_TOKEN wants the token.
	if tok := strings.TrimSpace(clientEnv("PCS_HTTP_TOKEN")); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach pcs-node at %s: %v (is it running? --url is its [node] http address)", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	if err != nil {
		return nil, fmt.Errorf("status: read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg != "" {
			msg = ": " + msg
		}
		hint := ""
		if resp.StatusCode == http.StatusNotFound {
			hint = " (a pcs-node serves /v1/status; is --url a node's [node] http address?)"
		}
		return nil, fmt.Errorf("status: GET %s: %s%s%s", url, resp.Status, msg, hint)
	}
	return body, nil
}

// printStatus writes st for people: the node, the catalog's leader,
// servers and nodes, then one line per pipeline and its watermarks and
// checkpoints.
func printStatus(w io.Writer, st node.Status) {
	at := st.Time
	if at.IsZero() {
		at = time.Now()
	}
	fmt.Fprintf(w, "node:        %s (status at %s)\n", st.Node, st.Time.UTC().Format(time.RFC3339Nano))
	cat := st.Catalog
	if cat == nil {
		fmt.Fprintln(w, "catalog:     none (the node runs without [catalog]: at-least-once, no fleet state)")
	} else {
		leader := "none (election in progress?)"
		if cat.Leader != "" {
			leader = cat.Leader
			if cat.LeaderAddr != "" {
				leader += " (" + cat.LeaderAddr + ")"
			}
		}
		fmt.Fprintf(w, "leader:      %s, term %d; this node is %s, applied %d of %d\n",
			leader, cat.Term, strings.ToLower(cat.State), cat.AppliedIndex, cat.LastIndex)
		var voters, others []string
		for _, s := range cat.Servers {
			if s.Suffrage == "Voter" {
				voters = append(voters, s.ID)
			} else {
				others = append(others, s.ID)
			}
		}
		slices.Sort(voters)
		slices.Sort(others)
		fmt.Fprintf(w, "voters:      %s\n", listOrDash(voters))
		fmt.Fprintf(w, "non-voters:  %s\n", listOrDash(others))
		if len(cat.Nodes) > 0 {
			fmt.Fprintln(w)
			printNodes(w, *cat, at)
		}
	}
	fmt.Fprintln(w)
	printPipelines(w, st)
}

// printNodes is the node table: suffrage, addresses, heartbeat age.
func printNodes(w io.Writer, cat catalog.Status, at time.Time) {
	suffrage := map[string]string{}
	for _, s := range cat.Servers {
		suffrage[s.ID] = strings.ToLower(s.Suffrage)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tRAFT\tRAFT ADDR\tHTTP\tLAST HEARTBEAT\tJOINED")
	for _, n := range cat.Nodes {
		role := suffrage[n.ID]
		if role == "" {
			role = "not a member"
		}
		if n.ID == cat.Leader {
			role += ", leader"
		}
		hb := "never"
		if !n.LastHeartbeat.IsZero() {
			hb = ago(at.Sub(n.LastHeartbeat))
		}
		joined := "-"
		if !n.Joined.IsZero() {
			joined = n.Joined.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, role, dash(n.RaftAddr), dash(n.HTTPAddr), hb, joined)
	}
	_ = tw.Flush()
}

// printPipelines is the pipeline table (catalog counters next to the
// consumer's counts), then watermarks and checkpoints.
func printPipelines(w io.Writer, st node.Status) {
	byName := map[string]*node.PipelineStatus{}
	var names []string
	for i := range st.Pipelines {
		p := &st.Pipelines[i]
		byName[p.Name] = p
		names = append(names, p.Name)
	}
	catalogs := map[string]catalog.PipelineStatus{}
	if st.Catalog != nil {
		for _, p := range st.Catalog.Pipelines {
			catalogs[p.Name] = p
			if byName[p.Name] == nil {
				names = append(names, p.Name)
			}
		}
	}
	sort.Strings(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		fmt.Fprintln(w, "pipelines:   none")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tDONE\tFAILED\tDEAD-LETTERED\tDLQ\tROWS\tBYTES\tIN FLIGHT\tPENDING\tREDELIVERED")
	var notes []string
	for _, name := range names {
		done, failed, dead, rows, size := "-", "-", "-", "-", "-"
		if c, ok := catalogs[name]; ok || st.Catalog != nil { // none recorded yet: zeros
			done, failed, dead = humanize.Comma(c.Counters.Done), humanize.Comma(c.Counters.Failed), humanize.Comma(c.Counters.DeadLettered)
			rows, size = humanize.Comma(c.Counters.Rows), humanize.IBytes(uint64(max(c.Counters.Bytes, 0)))
		} else if p := byName[name]; p != nil { // no catalog: this node's counters
			c := p.Counters
			done, failed, dead = humanize.Comma(c.Processed), humanize.Comma(c.Failed), humanize.Comma(c.DeadLettered)
			rows, size = humanize.Comma(c.RowsIn), humanize.IBytes(uint64(max(c.BytesIn, 0)))
		}
		dlq, inFlight, pending, redelivered := "-", "-", "-", "-"
		if p := byName[name]; p != nil {
			if p.DeadLetters.Error == "" && p.DeadLetters.Stream != "" {
				dlq = humanize.Comma(int64(p.DeadLetters.Messages))
			}
			switch {
			case p.Error != "":
				notes = append(notes, fmt.Sprintf("%s: consumer counts unavailable: %s", name, p.Error))
			default:
				inFlight, pending, redelivered = humanize.Comma(int64(p.InFlight)), humanize.Comma(int64(p.Pending)), humanize.Comma(int64(p.Redelivered))
			}
			if p.Paused {
				notes = append(notes, name+": fetching paused on this node (output stream above its high-water mark)")
			}
		} else {
			notes = append(notes, name+": in the catalog, not run by this node")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, done, failed, dead, dlq, rows, size, inFlight, pending, redelivered)
	}
	_ = tw.Flush()
	if st.Catalog == nil {
		notes = append(notes, "no [catalog]: done, failed, dead-lettered, rows and bytes are this node's own counters (rows and bytes in)")
	} else {
		notes = append(notes, "done, failed, dead-lettered, rows and bytes are the fleet's (the catalog's); DLQ is the dead-letter stream's messages")
	}
	for _, n := range notes {
		fmt.Fprintln(w, "  note: "+n)
	}
	for _, name := range names {
		c, ok := catalogs[name]
		if !ok {
			continue
		}
		if len(c.Watermarks) > 0 {
			fmt.Fprintf(w, "\nwatermarks of %s: effective %s\n", name, unixMillis(c.Watermark))
			srcs := make([]string, 0, len(c.Watermarks))
			for s := range c.Watermarks {
				srcs = append(srcs, s)
			}
			sort.Strings(srcs)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, s := range srcs {
				fmt.Fprintf(tw, "  %s\t%s\n", dash(s), unixMillis(c.Watermarks[s]))
			}
			_ = tw.Flush()
		}
		if len(c.Checkpoints) > 0 || len(c.Shards) > 0 {
			fmt.Fprintf(w, "\nshards of %s:\n", name)
			printShards(w, c)
		}
	}
}

// printShards is one line per shard: owner, epoch, latest checkpoint.
func printShards(w io.Writer, c catalog.PipelineStatus) {
	owners := map[int]catalog.ShardAssignment{}
	var shards []int
	for _, s := range c.Shards {
		owners[s.Shard] = s
		shards = append(shards, s.Shard)
	}
	cps := map[int]catalog.Checkpoint{}
	for _, cp := range c.Checkpoints {
		cps[cp.Shard] = cp
		shards = append(shards, cp.Shard)
	}
	slices.Sort(shards)
	shards = slices.Compact(shards)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SHARD\tOWNER\tEPOCH\tCHECKPOINT\tCOVERS\tWATERMARK\tTAKEN")
	for _, s := range shards {
		owner, epoch := "-", "-"
		if a, ok := owners[s]; ok {
			owner, epoch = a.Node, fmt.Sprint(a.Epoch)
		}
		obj, covers, wm, taken := "-", "-", "-", "-"
		if cp, ok := cps[s]; ok {
			obj = cp.Object.Bucket + "/" + cp.Object.Name
			covers = fmt.Sprint(cp.Covers)
			wm = unixMillis(cp.Watermark)
			if !cp.Time.IsZero() {
				taken = cp.Time.UTC().Format(time.RFC3339)
			}
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", s, owner, epoch, obj, covers, wm, taken)
	}
	_ = tw.Flush()
}

// ago formats a heartbeat age.
func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String() + " ago"
	case d < time.Minute:
		return d.Round(100*time.Millisecond).String() + " ago"
	}
	return d.Round(time.Second).String() + " ago"
}

// unixMillis formats a watermark in Unix milliseconds as RFC 3339 (UTC).
func unixMillis(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func listOrDash(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	return strings.Join(ids, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
