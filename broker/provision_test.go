package broker

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pipelineSpec is a spec in the shape PCS uses: a work-queue input, an
// interest-retention sink with backpressure, their consumers and a claim-check
// bucket.
func pipelineSpec() Spec {
	return Spec{
		Streams: []StreamSpec{
			{
				Name:       "IN",
				Subjects:   []string{"in.>"},
				Retention:  RetentionWorkQueue,
				Discard:    DiscardNew,
				MaxBytes:   64 << 20,
				MaxMsgSize: 1 << 20,
				Duplicates: 5 * time.Minute,
			},
			{
				Name:      "OUT",
				Subjects:  []string{"out.a", "out.b"},
				Retention: RetentionInterest,
				Discard:   DiscardNew,
				MaxMsgs:   10000,
				MaxAge:    24 * time.Hour,
				Storage:   StorageMemory,
				Replicas:  1,
			},
		},
		Consumers: []ConsumerSpec{
			{
				Stream:             "IN",
				Durable:            "pipe",
				FilterSubject:      "in.>",
				AckWait:            time.Minute,
				MaxDeliver:         5,
				MaxAckPending:      64,
				MaxRequestMaxBytes: 16 << 20,
			},
			{
				Stream:         "OUT",
				Durable:        "sink",
				FilterSubjects: []string{"out.b", "out.a"},
				BackOff:        []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
				MaxDeliver:     10,
			},
		},
		ObjectStores: []ObjectStoreSpec{{Bucket: "claims", MaxBytes: 128 << 20}},
	}
}

func actions(rep Report) []string {
	var out []string
	for _, it := range rep.Items {
		out = append(out, it.String())
	}
	return out
}

func TestProvisionCreatesThenUnchanged(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	ctx := t.Context()
	spec := pipelineSpec()

	rep, err := Provision(ctx, js, spec)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	want := []string{
		`stream "IN": created`,
		`stream "OUT": created`,
		`object store "claims": created`,
		`consumer "pipe" on stream "IN": created`,
		`consumer "sink" on stream "OUT": created`,
	}
	if got := actions(rep); !slices.Equal(got, want) {
		t.Fatalf("first report:\n%s\nwant:\n%s", rep, strings.Join(want, "\n"))
	}
	if !rep.Changed() {
		t.Error("Changed() = false after creating")
	}

	// What the server has.
	in, err := js.Stream(ctx, "IN")
	if err != nil {
		t.Fatal(err)
	}
	ic := in.CachedInfo().Config
	if ic.Retention != jetstream.WorkQueuePolicy || ic.Discard != jetstream.DiscardNew ||
		ic.MaxBytes != 64<<20 || ic.MaxMsgSize != 1<<20 || ic.Duplicates != 5*time.Minute || ic.Storage != jetstream.FileStorage {
		t.Errorf("IN config = %+v", ic)
	}
	out, err := js.Stream(ctx, "OUT")
	if err != nil {
		t.Fatal(err)
	}
	oc := out.CachedInfo().Config
	if oc.Retention != jetstream.InterestPolicy || oc.MaxMsgs != 10000 || oc.MaxAge != 24*time.Hour || oc.Storage != jetstream.MemoryStorage {
		t.Errorf("OUT config = %+v", oc)
	}
	cons, err := js.Consumer(ctx, "IN", "pipe")
	if err != nil {
		t.Fatal(err)
	}
	cc := cons.CachedInfo().Config
	if cc.Durable != "pipe" || cc.AckPolicy != jetstream.AckExplicitPolicy || cc.AckWait != time.Minute ||
		cc.MaxDeliver != 5 || cc.MaxAckPending != 64 || cc.MaxRequestMaxBytes != 16<<20 || cc.DeliverSubject != "" {
		t.Errorf("pipe config = %+v", cc)
	}
	sink, err := js.Consumer(ctx, "OUT", "sink")
	if err != nil {
		t.Fatal(err)
	}
	if sc := sink.CachedInfo().Config; sc.AckWait != time.Second || len(sc.BackOff) != 3 {
		t.Errorf("sink config = %+v (ack wait should be backoff[0])", sc)
	}

	// The object store works.
	obs, err := js.ObjectStore(ctx, "claims")
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("arrow"), 100000)
	if _, err := obs.PutBytes(ctx, "p/1", body); err != nil {
		t.Fatal(err)
	}
	got, err := obs.GetBytes(ctx, "p/1")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("object round trip: err=%v equal=%v", err, bytes.Equal(got, body))
	}

	// Re-applying changes nothing.
	rep, err = Provision(ctx, js, spec)
	if err != nil {
		t.Fatalf("re-Provision: %v", err)
	}
	if rep.Changed() {
		t.Errorf("re-Provision changed something:\n%s", rep)
	}
	if len(rep.Items) != 5 {
		t.Errorf("re-Provision report has %d items, want 5", len(rep.Items))
	}
	for _, it := range rep.Items {
		if it.Action != ActionUnchanged {
			t.Errorf("%s, want unchanged", it)
		}
	}
	info, err := in.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Created.Equal(in.CachedInfo().Created) {
		t.Errorf("stream IN was recreated: created %v, first %v", info.Created, in.CachedInfo().Created)
	}
}

// TestProvisionMinimalSpecNoConflict: fields the spec leaves unset and
// defaults the server fills in are not conflicts.
func TestProvisionMinimalSpecNoConflict(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	ctx := t.Context()
	if _, err := Provision(ctx, js, pipelineSpec()); err != nil {
		t.Fatal(err)
	}
	minimal := Spec{
		Streams:      []StreamSpec{{Name: "IN"}, {Name: "OUT", Subjects: []string{"out.b", "out.a"}}},
		Consumers:    []ConsumerSpec{{Stream: "IN", Durable: "pipe"}, {Stream: "OUT", Durable: "sink"}},
		ObjectStores: []ObjectStoreSpec{{Bucket: "claims"}},
	}
	rep, err := Provision(ctx, js, minimal)
	if err != nil {
		t.Fatalf("minimal spec: %v", err)
	}
	if rep.Changed() {
		t.Errorf("minimal spec changed something:\n%s", rep)
	}

	// A spec that leaves everything to the server, applied twice.
	defaults := Spec{
		Streams:      []StreamSpec{{Name: "D", Subjects: []string{"d"}}},
		Consumers:    []ConsumerSpec{{Stream: "D", Durable: "d"}},
		ObjectStores: []ObjectStoreSpec{{Bucket: "d"}},
	}
	for i := range 2 {
		rep, err := Provision(ctx, js, defaults)
		if err != nil {
			t.Fatalf("defaults, run %d: %v", i, err)
		}
		if rep.Changed() != (i == 0) {
			t.Errorf("defaults, run %d: report\n%s", i, rep)
		}
	}
}

func TestProvisionConflicts(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	ctx := t.Context()
	if _, err := Provision(ctx, js, pipelineSpec()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*Spec)
		kind   Kind
		item   string   // Name in the ConflictError
		fields []string // differing fields, in order
	}{
		{"stream subjects", func(s *Spec) { s.Streams[0].Subjects = []string{"input.>"} }, KindStream, "IN", []string{"subjects"}},
		{"stream retention", func(s *Spec) { s.Streams[1].Retention = RetentionWorkQueue }, KindStream, "OUT", []string{"retention"}},
		{"stream retention and size", func(s *Spec) {
			s.Streams[0].Retention = RetentionLimits
			s.Streams[0].MaxBytes = 1 << 30
		}, KindStream, "IN", []string{"retention", "max_bytes"}},
		{"stream storage", func(s *Spec) { s.Streams[1].Storage = StorageFile }, KindStream, "OUT", []string{"storage"}},
		{"stream duplicates", func(s *Spec) { s.Streams[0].Duplicates = time.Minute }, KindStream, "IN", []string{"duplicates"}},
		{"stream discard", func(s *Spec) {
			s.Streams[0].Discard = DiscardOld
			s.Streams[0].AllowDiscardOld = true
		}, KindStream, "IN", []string{"discard"}},
		{"consumer ack wait", func(s *Spec) { s.Consumers[0].AckWait = 10 * time.Second }, KindConsumer, "pipe", []string{"ack_wait"}},
		{"consumer filter", func(s *Spec) { s.Consumers[0].FilterSubject = "in.x" }, KindConsumer, "pipe", []string{"filter_subject"}},
		{"consumer filters", func(s *Spec) { s.Consumers[1].FilterSubjects = []string{"out.a"} }, KindConsumer, "sink", []string{"filter_subjects"}},
		{"consumer backoff and pending", func(s *Spec) {
			s.Consumers[1].BackOff = []time.Duration{time.Second}
			s.Consumers[1].MaxAckPending = 7
		}, KindConsumer, "sink", []string{"backoff", "max_ack_pending"}},
		{"object store size", func(s *Spec) { s.ObjectStores[0].MaxBytes = 1 << 20 }, KindObjectStore, "claims", []string{"max_bytes"}},
		{"object store storage", func(s *Spec) { s.ObjectStores[0].Storage = StorageMemory }, KindObjectStore, "claims", []string{"storage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := pipelineSpec()
			tt.mutate(&spec)
			_, err := Provision(ctx, js, spec)
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("err %T is not a *ConflictError", err)
			}
			var fields []string
			for _, d := range ce.Diffs {
				fields = append(fields, d.Field)
			}
			if ce.Kind != tt.kind || ce.Name != tt.item || !slices.Equal(fields, tt.fields) {
				t.Errorf("conflict = %s %q %v, want %s %q %v", ce.Kind, ce.Name, fields, tt.kind, tt.item, tt.fields)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "broker: ") || !strings.Contains(msg, fmt.Sprintf("%q", ce.Stream)) {
				t.Errorf("message %q should start with \"broker: \" and name stream %q", msg, ce.Stream)
			}
			for _, f := range tt.fields {
				if !strings.Contains(msg, f+": spec ") {
					t.Errorf("message %q does not name field %s", msg, f)
				}
			}
		})
	}
	// Nothing was changed by the failed attempts.
	rep, err := Provision(ctx, js, pipelineSpec())
	if err != nil || rep.Changed() {
		t.Fatalf("original spec after conflicts: changed=%v err=%v", rep.Changed(), err)
	}
}

// TestProvisionExistingDropsData: a stream created outside the spec that
// drops old data when full conflicts, unless the spec allows it.
func TestProvisionExistingDropsData(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "LOSSY", Subjects: []string{"lossy"}, Retention: jetstream.WorkQueuePolicy, MaxMsgs: 2,
	}); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Streams: []StreamSpec{{Name: "LOSSY", Subjects: []string{"lossy"}}}}
	_, err := Provision(ctx, js, spec)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Diffs) != 1 || ce.Diffs[0].Field != "discard" {
		t.Fatalf("err = %v, want a conflict on discard", err)
	}
	spec.Streams[0].AllowDiscardOld = true
	if rep, err := Provision(ctx, js, spec); err != nil || rep.Changed() {
		t.Fatalf("with allow_discard_old: changed=%v err=%v", rep.Changed(), err)
	}

	// Why the rule covers work queues: a full work-queue stream with
	// discard old deletes its oldest unconsumed message.
	for range 3 {
		if _, err := js.Publish(ctx, "lossy", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := js.Stream(ctx, "LOSSY")
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 || info.State.FirstSeq != 2 {
		t.Errorf("work queue with discard old: msgs=%d first=%d; expected the first message dropped", info.State.Msgs, info.State.FirstSeq)
	}
}

func TestProvisionReplicasOnSingleServer(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	ctx := t.Context()
	spec := Spec{
		Streams:      []StreamSpec{{Name: "OK", Subjects: []string{"ok"}}, {Name: "R3", Subjects: []string{"r3"}, Replicas: 3}},
		ObjectStores: []ObjectStoreSpec{{Bucket: "b3", Replicas: 3}},
	}
	_, err := Provision(ctx, js, spec)
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("err = %v, want ErrInvalidSpec", err)
	}
	for _, want := range []string{`stream "R3": replicas: 3`, `object store "b3": replicas: 3`, "single server"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	// Refused up front: not even the valid stream was created.
	if _, err := js.Stream(ctx, "OK"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream OK: %v, want not found", err)
	}
}

func TestProvisionConsumerWithoutStream(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	_, err := Provision(t.Context(), js, Spec{Consumers: []ConsumerSpec{{Stream: "NOPE", Durable: "c"}}})
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `stream "NOPE" does not exist`) {
		t.Fatalf("err = %v", err)
	}
}

// TestProvisionServerRefusal: what only the server checks is reported with
// the item's name.
func TestProvisionServerRefusal(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	// A work queue refuses a second consumer whose filter overlaps the
	// first's.
	spec := Spec{
		Streams: []StreamSpec{{Name: "S", Subjects: []string{"s.>"}, Retention: RetentionWorkQueue}},
		Consumers: []ConsumerSpec{
			{Stream: "S", Durable: "a", FilterSubject: "s.>"},
			{Stream: "S", Durable: "c", FilterSubject: "s.x"},
		},
	}
	rep, err := Provision(t.Context(), js, spec)
	if err == nil || !strings.Contains(err.Error(), `broker: consumer "c" on stream "S": create:`) {
		t.Fatalf("err = %v", err)
	}
	if len(rep.Items) != 2 || rep.Items[0].Name != "S" || rep.Items[1].Name != "a" || rep.Items[1].Action != ActionCreated {
		t.Errorf("partial report = %v", rep.Items)
	}
}

// TestProvisionConcurrent: a fleet provisioning the same spec at once.
func TestProvisionConcurrent(t *testing.T) {
	b := startBroker(t, testConfig(t))
	spec := pipelineSpec()
	var wg sync.WaitGroup
	for range 8 {
		_, js := connect(t, b)
		wg.Go(func() {
			if _, err := Provision(t.Context(), js, spec); err != nil {
				t.Errorf("Provision: %v", err)
			}
		})
	}
	wg.Wait()
	_, js := connect(t, b)
	rep, err := Provision(t.Context(), js, spec)
	if err != nil || rep.Changed() {
		t.Fatalf("after concurrent runs: changed=%v err=%v", rep.Changed(), err)
	}
}

func TestSpecValidate(t *testing.T) {
	base := func() Spec {
		return Spec{
			Streams:      []StreamSpec{{Name: "S", Subjects: []string{"s.>"}, Discard: DiscardNew, MaxBytes: 1 << 20}},
			Consumers:    []ConsumerSpec{{Stream: "S", Durable: "c"}},
			ObjectStores: []ObjectStoreSpec{{Bucket: "b"}},
		}
	}
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(s *Spec) {}, ""},
		{"discard old allowed", func(s *Spec) { s.Streams[0].Discard, s.Streams[0].AllowDiscardOld = DiscardOld, true }, ""},
		{"discard old without limits", func(s *Spec) { s.Streams[0].Discard, s.Streams[0].MaxBytes = DiscardOld, 0 }, ""},
		{"backoff with matching ack wait", func(s *Spec) {
			s.Consumers[0].BackOff = []time.Duration{time.Second, time.Minute}
			s.Consumers[0].AckWait = time.Second
			s.Consumers[0].MaxDeliver = 2
		}, ""},
		{"stream name missing", func(s *Spec) { s.Streams[0].Name = "" }, `streams[0]: name: required`},
		{"stream name with dot", func(s *Spec) { s.Streams[0].Name = "a.b" }, `stream "a.b": name:`},
		{"stream twice", func(s *Spec) { s.Streams = append(s.Streams, s.Streams[0]) }, `stream "S": name: declared twice`},
		{"bad subject", func(s *Spec) { s.Streams[0].Subjects = []string{"a..b"} }, `stream "S": subjects: subject "a..b" has an empty token`},
		{"gt not last", func(s *Spec) { s.Streams[0].Subjects = []string{"a.>.b"} }, `stream "S": subjects:`},
		{"bad retention", func(s *Spec) { s.Streams[0].Retention = "work" }, `stream "S": retention: "work"`},
		{"bad discard", func(s *Spec) { s.Streams[0].Discard = "oldest" }, `stream "S": discard: "oldest"`},
		{"bad storage", func(s *Spec) { s.Streams[0].Storage = "disk" }, `stream "S": storage: "disk"`},
		{"negative max bytes", func(s *Spec) { s.Streams[0].MaxBytes = -1 }, `stream "S": max_bytes:`},
		{"negative max msgs", func(s *Spec) { s.Streams[0].MaxMsgs = -5 }, `stream "S": max_msgs:`},
		{"huge max msg size", func(s *Spec) { s.Streams[0].MaxMsgSize = 1 << 40 }, `stream "S": max_msg_size:`},
		{"tiny max age", func(s *Spec) { s.Streams[0].MaxAge = time.Millisecond }, `stream "S": max_age:`},
		{"duplicates beyond max age", func(s *Spec) {
			s.Streams[0].MaxAge, s.Streams[0].Duplicates = time.Minute, time.Hour
		}, `stream "S": duplicates: 1h0m0s must not exceed max_age`},
		{"replicas out of range", func(s *Spec) { s.Streams[0].Replicas = 7 }, `stream "S": replicas: 7 out of range`},
		{"limits discard old", func(s *Spec) { s.Streams[0].Discard = DiscardOld }, `stream "S": discard: old with max_bytes/max_msgs silently deletes`},
		{"limits default discard", func(s *Spec) { s.Streams[0].Discard = "" }, `stream "S": discard: old (the default)`},
		{"workqueue default discard", func(s *Spec) {
			s.Streams[0].Discard, s.Streams[0].Retention, s.Streams[0].MaxBytes, s.Streams[0].MaxMsgs = "", RetentionWorkQueue, 0, 10
		}, `stream "S": discard:`},
		{"consumer without stream", func(s *Spec) { s.Consumers[0].Stream = "" }, `consumers[0]: stream: required`},
		{"consumer without durable", func(s *Spec) { s.Consumers[0].Durable = "" }, `consumers[0]: durable: required`},
		{"consumer twice", func(s *Spec) { s.Consumers = append(s.Consumers, s.Consumers[0]) }, `consumer "c" on stream "S": durable: declared twice`},
		{"both filters", func(s *Spec) {
			s.Consumers[0].FilterSubject, s.Consumers[0].FilterSubjects = "s.a", []string{"s.b"}
		}, `consumer "c" on stream "S": filter_subjects: set either`},
		{"repeated filter", func(s *Spec) { s.Consumers[0].FilterSubjects = []string{"s.b", "s.b"} }, `filter_subjects: "s.b" listed twice`},
		{"negative ack wait", func(s *Spec) { s.Consumers[0].AckWait = -time.Second }, `ack_wait:`},
		{"max deliver", func(s *Spec) { s.Consumers[0].MaxDeliver = -2 }, `max_deliver: -2`},
		{"ack wait vs backoff", func(s *Spec) {
			s.Consumers[0].BackOff = []time.Duration{time.Second}
			s.Consumers[0].AckWait = time.Minute
		}, `ack_wait: 1m0s differs from backoff[0]`},
		{"backoff longer than max deliver", func(s *Spec) {
			s.Consumers[0].BackOff = []time.Duration{time.Second, time.Second, time.Second}
			s.Consumers[0].MaxDeliver = 2
		}, `backoff: 3 entries exceed max_deliver = 2`},
		{"zero backoff", func(s *Spec) { s.Consumers[0].BackOff = []time.Duration{0} }, `backoff: backoff[0] = 0s must be > 0`},
		{"max ack pending", func(s *Spec) { s.Consumers[0].MaxAckPending = -3 }, `max_ack_pending: -3`},
		{"max request bytes", func(s *Spec) { s.Consumers[0].MaxRequestMaxBytes = -1 }, `max_request_max_bytes: -1`},
		{"bucket missing", func(s *Spec) { s.ObjectStores[0].Bucket = "" }, `object_stores[0]: bucket: required`},
		{"bucket chars", func(s *Spec) { s.ObjectStores[0].Bucket = "a.b" }, `object store "a.b": bucket:`},
		{"bucket twice", func(s *Spec) { s.ObjectStores = append(s.ObjectStores, s.ObjectStores[0]) }, `bucket: declared twice`},
		{"bucket storage", func(s *Spec) { s.ObjectStores[0].Storage = "ssd" }, `object store "b": storage: "ssd"`},
		{"bucket size", func(s *Spec) { s.ObjectStores[0].MaxBytes = -1 }, `object store "b": max_bytes:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.mutate(&s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate = %v, want ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %q, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "broker: invalid spec: ") {
				t.Errorf("message %q lacks the prefix", err)
			}
		})
	}
}

// TestProvisionInvalidSpecCreatesNothing: Provision validates before any
// server call.
func TestProvisionInvalidSpecCreatesNothing(t *testing.T) {
	b := startBroker(t, testConfig(t))
	_, js := connect(t, b)
	spec := Spec{Streams: []StreamSpec{
		{Name: "GOOD", Subjects: []string{"good"}},
		{Name: "BAD", Subjects: []string{"bad"}, MaxBytes: 1 << 20}, // discard old by default
	}}
	_, err := Provision(t.Context(), js, spec)
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("err = %v", err)
	}
	if _, err := js.Stream(t.Context(), "GOOD"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream GOOD: %v, want not found", err)
	}
}

func TestEnumText(t *testing.T) {
	var r Retention
	if err := r.UnmarshalText([]byte("workqueue")); err != nil || r != RetentionWorkQueue {
		t.Errorf("retention: %v %q", err, r)
	}
	if err := r.UnmarshalText([]byte("work_queue")); err == nil {
		t.Error("retention work_queue accepted")
	}
	var d Discard
	if err := d.UnmarshalText([]byte("new")); err != nil || d != DiscardNew {
		t.Errorf("discard: %v %q", err, d)
	}
	if err := d.UnmarshalText([]byte("none")); err == nil {
		t.Error("discard none accepted")
	}
	var s Storage
	if err := s.UnmarshalText([]byte("memory")); err != nil || s != StorageMemory {
		t.Errorf("storage: %v %q", err, s)
	}
	if err := s.UnmarshalText([]byte("ram")); err == nil {
		t.Error("storage ram accepted")
	}
	if b, _ := StorageFile.MarshalText(); string(b) != "file" {
		t.Errorf("MarshalText = %q", b)
	}
}
