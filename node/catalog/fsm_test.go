package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// entry builds a committed raft log entry carrying cmds.
func entry(t testing.TB, index uint64, cmds ...Command) *raft.Log {
	t.Helper()
	for i := range cmds {
		cmds[i].normalize()
	}
	data, err := encodeEntry(cmds)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: t0.Add(time.Duration(index) * time.Millisecond)}
}

func withID(c Command, session string, seq uint64) Command {
	c.ID = CommandID{Session: session, Seq: seq}
	return c
}

func results(t *testing.T, v any) []Result {
	t.Helper()
	r, ok := v.([]Result)
	if !ok {
		t.Fatalf("Apply returned %T %v, want []Result", v, v)
	}
	return r
}

func rec(pipeline, id string, attempts int) PartitionRecord {
	return PartitionRecord{Pipeline: pipeline, ID: id, Subject: "in." + pipeline, StreamSeq: 7, Rows: 100, Bytes: 1000, Outputs: []string{pipeline + "/" + id + "/0"}, Attempts: attempts, Node: "n1", Time: t0}
}

func TestFSMPartitionMerge(t *testing.T) {
	f := NewFSM()
	idx := uint64(0)
	apply := func(cmds ...Command) []Result {
		idx++
		return results(t, f.Apply(entry(t, idx, cmds...)))
	}
	apply(NewPartitionFailed(rec("p", "a", 1)))
	if got := f.PartitionStatus("p", "a"); got != StatusFailed {
		t.Fatalf("status %s, want failed", got)
	}
	apply(NewPartitionDone(rec("p", "a", 2)))
	apply(NewPartitionFailed(rec("p", "a", 3)))       // late failure: ignored
	apply(NewPartitionDeadLettered(rec("p", "a", 3))) // below done: ignored
	apply(NewPartitionDone(rec("p", "a", 2)))         // done twice counts once
	if !f.IsDone("p", "a") {
		t.Fatal("a not done")
	}
	apply(NewBatch(
		PartitionRecord{Pipeline: "p", ID: "b", Status: StatusDeadLettered, Attempts: 5, Time: t0},
		PartitionRecord{Pipeline: "p", ID: "c", Status: StatusDone, Rows: 10, Bytes: 20, Time: t0},
		PartitionRecord{Pipeline: "q", ID: "a", Status: StatusFailed, Time: t0},
	))
	ps := f.Pipelines()
	if len(ps) != 2 || ps[0].Name != "p" || ps[1].Name != "q" {
		t.Fatalf("pipelines %+v", ps)
	}
	want := Counters{Done: 2, DeadLettered: 1, Rows: 110, Bytes: 1020}
	if ps[0].Counters != want {
		t.Fatalf("counters %+v, want %+v", ps[0].Counters, want)
	}
	if ps[1].Counters != (Counters{Failed: 1}) {
		t.Fatalf("q counters %+v", ps[1].Counters)
	}
	r, ok := f.Partition("p", "a")
	if !ok || r.Attempts != 2 || r.Outputs[0] != "p/a/0" {
		t.Fatalf("record %+v", r)
	}
	r.Outputs[0] = "mutated"
	if r2, _ := f.Partition("p", "a"); r2.Outputs[0] != "p/a/0" {
		t.Fatal("Partition does not return a copy")
	}

	// Compact folds terminal records older than the cutoff; IsDone still
	// answers, counters stay.
	apply(NewPartitionDone(PartitionRecord{Pipeline: "p", ID: "new", Time: t0.Add(time.Hour)}))
	apply(NewCompact(t0.Add(time.Minute)))
	ps = f.Pipelines()
	if ps[0].Recent != 1 || ps[0].Counters.Compacted != 3 || ps[0].Counters.Done != 3 {
		t.Fatalf("after compact: %+v", ps[0])
	}
	if !f.IsDone("p", "a") || !f.IsDone("p", "c") || f.PartitionStatus("p", "b") != StatusDeadLettered {
		t.Fatal("compacted ids lost")
	}
	if _, ok := f.Partition("p", "a"); ok {
		t.Fatal("compacted record still detailed")
	}
	if f.PartitionStatus("q", "a") != StatusFailed {
		t.Fatal("failed record compacted")
	}
	// A dead-lettered, compacted partition replayed to success.
	apply(NewPartitionDone(PartitionRecord{Pipeline: "p", ID: "b", Rows: 1, Time: t0.Add(2 * time.Hour)}))
	ps = f.Pipelines()
	if !f.IsDone("p", "b") || ps[0].Counters.DeadLettered != 0 || ps[0].Counters.Done != 4 || ps[0].Counters.Compacted != 2 {
		t.Fatalf("after replay of b: %+v", ps[0].Counters)
	}
}

func TestFSMCheckpointWatermarkShardNodes(t *testing.T) {
	f := NewFSM()
	cp := func(covers uint64, name string) Checkpoint {
		return Checkpoint{Pipeline: "p", Shard: 3, Object: ObjectRef{Bucket: "ckpt", Name: name, Digest: "SHA-256=x"}, Covers: covers, Watermark: 99, Time: t0}
	}
	f.Apply(entry(t, 1, NewCheckpointCommitted(cp(10, "a")), NewCheckpointCommitted(cp(5, "old"))))
	if got, ok := f.Checkpoint("p", 3); !ok || got.Object.Name != "a" {
		t.Fatalf("checkpoint %+v %v", got, ok)
	}
	f.Apply(entry(t, 2, NewWatermarkAdvanced("p", "s1", 100), NewWatermarkAdvanced("p", "s2", 50), NewWatermarkAdvanced("p", "s2", 40)))
	if wm, ok := f.Watermark("p"); !ok || wm != 50 {
		t.Fatalf("watermark %d %v, want 50 (min over sources; never back)", wm, ok)
	}
	if _, ok := f.Watermark("none"); ok {
		t.Fatal("watermark of unknown pipeline")
	}
	res := results(t, f.Apply(entry(t, 3, withID(NewShardAssigned("p", 3, "n2"), "s", 1))))
	if res[0].Epoch != 3 {
		t.Fatalf("epoch %d, want the log index 3", res[0].Epoch)
	}
	res = results(t, f.Apply(entry(t, 4, withID(NewShardAssigned("p", 3, "n2"), "s", 1))))
	if res[0].Applied || res[0].Epoch != 3 {
		t.Fatalf("duplicate assignment: %+v", res[0])
	}
	if a, ok := f.ShardOwner("p", 3); !ok || a.Node != "n2" || a.Epoch != 3 {
		t.Fatalf("owner %+v", a)
	}
	f.Apply(entry(t, 5, NewNodeJoined(NodeInfo{ID: "n1", RaftAddr: "10.0.0.1:7400", Role: "worker", Time: t0})))
	f.Apply(entry(t, 6, NewHeartbeat(NodeInfo{ID: "n1", Time: t0})))
	nodes := f.Nodes()
	if len(nodes) != 1 || nodes[0].RaftAddr != "10.0.0.1:7400" || !nodes[0].LastHeartbeat.Equal(t0.Add(6*time.Millisecond)) || !nodes[0].Joined.Equal(t0.Add(5*time.Millisecond)) {
		t.Fatalf("nodes %+v (times come from the log's AppendedAt)", nodes)
	}
	f.Apply(entry(t, 7, NewNodeLeft("n1", t0)))
	if len(f.Nodes()) != 0 {
		t.Fatal("node not removed")
	}
}

func TestFSMIdempotentIDs(t *testing.T) {
	f := NewFSM()
	c1 := withID(NewWatermarkAdvanced("p", "s", 1), "a", 1)
	c3 := withID(NewWatermarkAdvanced("p", "s", 3), "a", 3)
	c2 := withID(NewWatermarkAdvanced("p", "s", 2), "a", 2)
	r := results(t, f.Apply(entry(t, 1, c1, c3, c1, c3)))
	if !r[0].Applied || !r[1].Applied || r[2].Applied || r[3].Applied {
		t.Fatalf("results %+v", r)
	}
	if se := f.st.Sessions["a"]; se.Floor != 1 || len(se.Above) != 1 {
		t.Fatalf("session %+v", se)
	}
	r = results(t, f.Apply(entry(t, 2, c2, c2)))
	if !r[0].Applied || r[1].Applied {
		t.Fatalf("results %+v", r)
	}
	if se := f.st.Sessions["a"]; se.Floor != 3 || se.Above != nil {
		t.Fatalf("session %+v, want floor 3 and no set", se)
	}
	// Bounded: a session that abandons seq 4 and goes on beyond the bound
	// gets its floor moved over the gap.
	var cmds []Command
	for seq := uint64(5); seq <= 5+maxAboveFloor; seq++ {
		cmds = append(cmds, withID(NewWatermarkAdvanced("p", "s", int64(seq)), "a", seq))
	}
	f.Apply(entry(t, 3, cmds...))
	if se := f.st.Sessions["a"]; se.Floor != 5+maxAboveFloor || se.Above != nil {
		t.Fatalf("floor %d, above %d", se.Floor, len(se.Above))
	}
	// Compact forgets idle sessions.
	f.Apply(entry(t, 4, NewCompact(t0.Add(time.Hour))))
	if len(f.st.Sessions) != 0 {
		t.Fatal("idle session kept")
	}
}

// randomCommands returns n commands with distinct ids over a small key
// space, so that effects collide.
func randomCommands(rng *rand.Rand, n int) []Command {
	sessions := []string{"n1.a", "n2.b", "n3.c"}
	seqs := map[string]uint64{}
	pipes := []string{"p", "q"}
	// Command times lie before t0 and log entries are appended after it, so
	// Compact cutoffs never forget a session (which would, by design, let a
	// duplicate through).
	at := func() time.Time { return t0.Add(-time.Duration(1+rng.IntN(120)) * time.Minute) }
	part := func(s PartitionStatus) PartitionRecord {
		return PartitionRecord{Pipeline: pipes[rng.IntN(2)], ID: fmt.Sprintf("src/%d", rng.IntN(30)), Status: s, Rows: int64(rng.IntN(1000)), Bytes: int64(rng.IntN(1e6)), Attempts: 1 + rng.IntN(4), Node: sessions[rng.IntN(3)][:2], Time: at()}
	}
	status := func() PartitionStatus { return PartitionStatus(1 + rng.IntN(3)) }
	var out []Command
	for range n {
		var c Command
		switch k := rng.IntN(20); {
		case k < 3:
			c = NewPartitionDone(part(StatusDone))
		case k < 5:
			c = NewPartitionFailed(part(StatusFailed))
		case k < 6:
			c = NewPartitionDeadLettered(part(StatusDeadLettered))
		case k < 10:
			recs := make([]PartitionRecord, 1+rng.IntN(8))
			for i := range recs {
				recs[i] = part(status())
			}
			c = NewBatch(recs...)
		case k < 12:
			c = NewCheckpointCommitted(Checkpoint{Pipeline: pipes[rng.IntN(2)], Shard: rng.IntN(3), Object: ObjectRef{Bucket: "b", Name: fmt.Sprint(rng.IntN(1000))}, Covers: uint64(rng.IntN(50)), Watermark: rng.Int64N(1e6), Time: at()})
		case k < 14:
			c = NewWatermarkAdvanced(pipes[rng.IntN(2)], fmt.Sprint("s", rng.IntN(3)), rng.Int64N(1e6))
		case k < 16:
			c = NewHeartbeat(NodeInfo{ID: fmt.Sprint("n", rng.IntN(4)), RaftAddr: "127.0.0.1:1", Time: at()})
		case k < 17:
			c = NewNodeLeft(fmt.Sprint("n", rng.IntN(4)), at())
		case k < 18:
			c = NewNodeJoined(NodeInfo{ID: fmt.Sprint("n", rng.IntN(4)), Role: "worker", Time: at()})
		case k < 19:
			c = NewShardAssigned(pipes[rng.IntN(2)], rng.IntN(3), fmt.Sprint("n", rng.IntN(4)))
		default:
			c = NewCompact(at())
		}
		s := sessions[rng.IntN(len(sessions))]
		seqs[s]++
		c.ID = CommandID{Session: s, Seq: seqs[s]}
		if err := c.Validate(); err != nil {
			panic(err)
		}
		out = append(out, c)
	}
	// Sequence numbers of a session need not arrive in order: swap a few
	// neighbours.
	for range n / 5 {
		i := rng.IntN(len(out) - 1)
		out[i], out[i+1] = out[i+1], out[i]
	}
	return out
}

// TestFSMPropertyDuplicates: replaying commands (duplicates anywhere after
// the first occurrence, in any order, alone or grouped into entries) gives
// the same state as applying each command once.
func TestFSMPropertyDuplicates(t *testing.T) {
	for seed := range uint64(80) {
		rng := rand.New(rand.NewPCG(seed, 42))
		cmds := randomCommands(rng, 10+rng.IntN(150))

		ref := NewFSM()
		for i, c := range cmds {
			ref.Apply(entry(t, uint64(2*(i+1)), c))
		}

		// Duplicates of command i may land in any gap j >= i.
		gaps := make([][]Command, len(cmds))
		for range rng.IntN(3 * len(cmds)) {
			i := rng.IntN(len(cmds))
			j := i + rng.IntN(len(cmds)-i)
			gaps[j] = append(gaps[j], cmds[i])
		}
		got := NewFSM()
		for i, c := range cmds {
			got.Apply(entry(t, uint64(2*(i+1)), c))
			dups := gaps[i]
			rng.Shuffle(len(dups), func(a, b int) { dups[a], dups[b] = dups[b], dups[a] })
			if len(dups) == 0 {
				continue
			}
			if rng.IntN(2) == 0 {
				got.Apply(entry(t, uint64(2*(i+1)+1), dups...))
			} else {
				logs := make([]*raft.Log, len(dups))
				for k, d := range dups {
					logs[k] = entry(t, uint64(2*(i+1)+1), d)
				}
				for _, r := range got.ApplyBatch(logs) {
					for _, res := range r.([]Result) {
						if res.Applied {
							t.Fatalf("seed %d: a duplicate was applied", seed)
						}
					}
				}
			}
		}
		if ref.Hash() != got.Hash() {
			a, _ := encodeSnapshot(ref.st)
			b, _ := encodeSnapshot(got.st)
			t.Fatalf("seed %d: state differs after duplicates\nref %s\ngot %s", seed, a, b)
		}
	}
}

// TestFSMPropertyCommutative: partition reports, watermarks and checkpoints
// merge to the same state in any order (effect-level idempotence, without
// command ids).
func TestFSMPropertyCommutative(t *testing.T) {
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var cmds []Command
		for _, c := range randomCommands(rng, 80) {
			switch c.Type {
			case TypeShardAssigned, TypeNodeLeft, TypeNodeJoined, TypeHeartbeat, TypeCompact:
				continue // order matters by design (last writer wins, liveness)
			}
			c.ID = CommandID{}
			cmds = append(cmds, c)
		}
		var hashes []uint64
		for range 3 {
			f := NewFSM()
			for _, c := range cmds {
				f.Apply(entry(t, 1, c)) // same index: the index is not part of these effects
			}
			// and each once more, as a retry without id would be
			for _, c := range cmds[:len(cmds)/2] {
				f.Apply(entry(t, 1, c))
			}
			hashes = append(hashes, f.Hash())
			rng.Shuffle(len(cmds), func(a, b int) { cmds[a], cmds[b] = cmds[b], cmds[a] })
		}
		if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
			t.Fatalf("seed %d: order changes the state: %x", seed, hashes)
		}
	}
}

func TestSnapshotRoundTripAndVersion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := NewFSM()
	for i, c := range randomCommands(rng, 300) {
		f.Apply(entry(t, uint64(i+1), c))
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if f.Hash() != g.Hash() {
		t.Fatal("restored state differs")
	}
	// The restored FSM goes on like the original.
	more := randomCommands(rand.New(rand.NewPCG(3, 4)), 100)
	for i, c := range more {
		f.Apply(entry(t, uint64(1000+i), c))
		g.Apply(entry(t, uint64(1000+i), c))
	}
	if f.Hash() != g.Hash() {
		t.Fatal("states diverge after restore")
	}

	for _, tc := range []struct {
		name string
		data string
		want error
	}{
		{"future version", `{"version":2,"state":{}}`, ErrSnapshotVersion},
		{"no version", `{"state":{}}`, ErrSnapshotVersion},
		{"garbage", `not json`, ErrCorrupt},
		{"bad state", `{"version":1,"state":[1]}`, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := g.Hash()
			err := g.Restore(io.NopCloser(strings.NewReader(tc.data)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Restore: %v, want %v", err, tc.want)
			}
			if g.Hash() != before {
				t.Fatal("failed Restore changed the state")
			}
		})
	}
}

func TestApplyCorruptEntry(t *testing.T) {
	f := NewFSM()
	for _, data := range [][]byte{nil, {2, '[', ']'}, {entryVersion, '{'}} {
		if err, ok := f.Apply(&raft.Log{Type: raft.LogCommand, Data: data}).(error); !ok || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Apply(%q) = %v, want ErrCorrupt", data, err)
		}
	}
	if f.Apply(&raft.Log{Type: raft.LogConfiguration}) != nil {
		t.Fatal("non-command log")
	}
}

func TestCommandValidate(t *testing.T) {
	ok := []Command{
		NewPartitionDone(rec("p", "a", 1)),
		NewBatch(rec("p", "a", 1)),
		NewCheckpointCommitted(Checkpoint{Pipeline: "p", Object: ObjectRef{Bucket: "b", Name: "n"}}),
		NewWatermarkAdvanced("p", "s", 1),
		NewHeartbeat(NodeInfo{ID: "n1"}),
		NewShardAssigned("p", 0, "n1"),
		NewCompact(t0),
	}
	ok[1].Partitions[0].Status = StatusDone
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c.Type, err)
		}
	}
	bad := map[string]Command{
		"no payload":       {Type: TypeCompact},
		"two payloads":     {Type: TypeCompact, Compact: &CompactRequest{}, Node: &NodeInfo{ID: "x"}},
		"wrong status":     {Type: TypePartitionDone, Partitions: []PartitionRecord{{Pipeline: "p", ID: "a", Status: StatusFailed}}},
		"no partition id":  NewPartitionDone(PartitionRecord{Pipeline: "p"}),
		"batch no status":  NewBatch(PartitionRecord{Pipeline: "p", ID: "a"}),
		"unknown type":     {Type: "nope", Compact: &CompactRequest{}},
		"checkpoint no ob": NewCheckpointCommitted(Checkpoint{Pipeline: "p"}),
		"heartbeat no id":  NewHeartbeat(NodeInfo{}),
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s: %v, want ErrInvalidCommand", name, err)
		}
	}
}

type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }
