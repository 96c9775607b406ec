package broker

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Spec declares the JetStream streams, durable consumers and object-store
// buckets a deployment needs. Provision makes the server match it. In every
// item a zero field means "not set": the server's default applies when the
// item is created, and the field is not compared with an existing item.
type Spec struct {
	// Streams to create, in order (before any consumer or object store).
	Streams []StreamSpec `toml:"streams"`
	// Consumers to create, after all streams; each names its stream.
	Consumers []ConsumerSpec `toml:"consumers"`
	// ObjectStores are object-store buckets (claim-check bodies, checkpoints).
	ObjectStores []ObjectStoreSpec `toml:"object_stores"`
}

// Retention is a stream's retention policy. The zero value means "not set"
// (the server default, limits).
type Retention string

// Retention policies.
const (
	// RetentionLimits keeps messages until a limit (max_bytes, max_msgs,
	// max_age) removes them; acks do not remove messages.
	RetentionLimits Retention = "limits"
	// RetentionWorkQueue removes a message once a consumer acks it; each
	// message goes to one consumer. The usual choice for pipeline inputs.
	RetentionWorkQueue Retention = "workqueue"
	// RetentionInterest removes a message once every consumer has acked it.
	// Beware: a message published while the stream has no consumer is
	// removed at once, although the publish was acknowledged.
	RetentionInterest Retention = "interest"
)

// Discard says what a stream does when a size or count limit is reached. The
// zero value means "not set" (the server default, old).
type Discard string

// Discard policies.
const (
	// DiscardOld deletes the oldest messages to make room: data is dropped
	// silently. Refused for streams with max_bytes or max_msgs unless
	// StreamSpec.AllowDiscardOld is set.
	DiscardOld Discard = "old"
	// DiscardNew refuses new messages when full: the publisher gets an
	// error and must retry (backpressure). Nothing already stored is lost.
	DiscardNew Discard = "new"
)

// Storage is where a stream keeps its messages. The zero value means "not
// set" (the server default, file).
type Storage string

// Storage types.
const (
	// StorageFile keeps messages in files under Config.StoreDir.
	StorageFile Storage = "file"
	// StorageMemory keeps messages in memory only: lost on restart.
	StorageMemory Storage = "memory"
)

// maxReplicas is the largest replica count JetStream allows.
const maxReplicas = 5

// StreamSpec declares one stream.
type StreamSpec struct {
	// Name of the stream. Required; letters, digits, '-' and '_' are safe,
	// and it must not contain '.', '*', '>', '/', '\' or whitespace.
	Name string `toml:"name"`
	// Subjects the stream captures (wildcards allowed). Empty = not set (the
	// server then uses the stream name as the only subject).
	Subjects []string `toml:"subjects"`
	// Retention policy: "limits", "workqueue" or "interest". Empty = not set
	// (limits).
	Retention Retention `toml:"retention"`
	// Discard policy when a max_bytes or max_msgs limit is reached: "new" or
	// "old". Empty = not set (old). Pipeline streams should use "new".
	Discard Discard `toml:"discard"`
	// AllowDiscardOld permits Discard "old" (explicit or by default) together
	// with max_bytes or max_msgs, under any retention. Default false: such a
	// stream silently deletes the oldest messages when full, which PCS
	// pipeline streams must never do (DESIGN section 5). Set it only for
	// streams where losing old data is intended (for example a metrics
	// stream). Not compared with the server.
	AllowDiscardOld bool `toml:"allow_discard_old"`
	// MaxBytes limits the stream's size in bytes. 0 = not set (unlimited).
	MaxBytes int64 `toml:"max_bytes"`
	// MaxMsgs limits the stream's message count. 0 = not set (unlimited).
	MaxMsgs int64 `toml:"max_msgs"`
	// MaxMsgSize is the largest message, in bytes, the stream accepts
	// (headers included). 0 = not set (up to the server's max payload).
	MaxMsgSize int64 `toml:"max_msg_size"`
	// MaxAge removes messages older than this, whatever the retention and
	// discard policies (age expiry is not subject to Discard). 0 = not set
	// (no expiry). At least 100ms when set.
	MaxAge time.Duration `toml:"max_age"`
	// Duplicates is the window in which a repeated Nats-Msg-Id is dropped as a
	// duplicate. 0 = not set (server default: 2 minutes, or MaxAge if
	// shorter). At least 100ms, and at most MaxAge when both are set.
	Duplicates time.Duration `toml:"duplicates"`
	// Storage: "file" or "memory". Empty = not set (file).
	Storage Storage `toml:"storage"`
	// AllowAtomicPublish lets clients publish atomic batches (all
	// messages stored or none; JetStream ADR-50, nats-server 2.12+): the
	// fences of natsjs.WithFence need it. false = not set.
	AllowAtomicPublish bool `toml:"allow_atomic_publish"`
	// Replicas is the number of copies in a cluster, 1..5. 0 = not set (1).
	// A single (embedded) server refuses more than 1.
	Replicas int `toml:"replicas"`
	// Placement puts the stream's replicas on a cluster and on servers with
	// tags. Zero = not set (the server chooses). Compared with an existing
	// stream when set.
	Placement Placement `toml:"placement"`
}

// Placement selects where a stream's replicas live: servers of Cluster
// that carry every one of Tags (nats-server's server_tags).
type Placement struct {
	// Cluster names the NATS cluster that holds the replicas.
	Cluster string `toml:"cluster"`
	// Tags are server tags every replica's server must carry.
	Tags []string `toml:"tags"`
}

// IsZero reports whether no placement is set.
func (p Placement) IsZero() bool { return p.Cluster == "" && len(p.Tags) == 0 }

func (p Placement) js() *jetstream.Placement {
	if p.IsZero() {
		return nil
	}
	return &jetstream.Placement{Cluster: p.Cluster, Tags: append([]string(nil), p.Tags...)}
}

// placementDiff adds a diff when p is set and differs from have.
func (d *diffs) placement(p Placement, have *jetstream.Placement) {
	if p.IsZero() {
		return
	}
	var hc string
	var ht []string
	if have != nil {
		hc, ht = have.Cluster, have.Tags
	}
	if (p.Cluster != "" && p.Cluster != hc) || (len(p.Tags) > 0 && !sameSet(p.Tags, ht)) {
		d.add("placement", fmt.Sprintf("cluster=%q tags=%q", p.Cluster, p.Tags), fmt.Sprintf("cluster=%q tags=%q", hc, ht))
	}
}

// ConsumerSpec declares one durable pull consumer with explicit acks, the
// kind the PCS delivery protocol uses (DESIGN section 5).
type ConsumerSpec struct {
	// Stream the consumer reads. Required; it must exist or be in the same
	// Spec.
	Stream string `toml:"stream"`
	// Durable is the consumer's durable name. Required; same character rules
	// as stream names.
	Durable string `toml:"durable"`
	// FilterSubject restricts the consumer to one subject (wildcards
	// allowed). Empty = not set (all the stream's subjects). Do not combine
	// with FilterSubjects.
	FilterSubject string `toml:"filter_subject"`
	// FilterSubjects restricts the consumer to several subjects. Empty = not
	// set. Compared with the server as a set (order ignored).
	FilterSubjects []string `toml:"filter_subjects"`
	// AckWait is how long the server waits for an ack before redelivering.
	// 0 = not set (server default 30s). When BackOff is set the server uses
	// BackOff[0] as the ack wait, so AckWait must then be 0 or BackOff[0].
	AckWait time.Duration `toml:"ack_wait"`
	// MaxDeliver is how many times a message is delivered at most. 0 = not
	// set (server default: unlimited); -1 = unlimited, explicitly. Messages
	// past the limit stay in the stream (watch the MAX_DELIVERIES advisory).
	MaxDeliver int `toml:"max_deliver"`
	// BackOff is the redelivery delay after each ack timeout (not after a
	// nak): the n-th redelivery waits BackOff[min(n, len-1)]. Empty = not set.
	// At most MaxDeliver entries when MaxDeliver > 0.
	BackOff []time.Duration `toml:"backoff"`
	// MaxAckPending bounds the messages delivered but not yet acked, across
	// all clients of the consumer (the fleet-wide in-flight bound). 0 = not
	// set (server default 1000); -1 = unlimited.
	MaxAckPending int `toml:"max_ack_pending"`
	// MaxRequestMaxBytes is the largest byte budget, in bytes, a single pull
	// request may ask for (jetstream.PullMaxBytes). 0 = not set (no limit).
	MaxRequestMaxBytes int64 `toml:"max_request_max_bytes"`
}

// ObjectStoreSpec declares one object-store bucket. Object stores always
// refuse new data when full (discard new), so nothing is dropped silently.
type ObjectStoreSpec struct {
	// Bucket name. Required; letters, digits, '-' and '_' only. The backing
	// stream is named "OBJ_<bucket>".
	Bucket string `toml:"bucket"`
	// MaxBytes limits the bucket's size in bytes. 0 = not set (unlimited).
	MaxBytes int64 `toml:"max_bytes"`
	// Storage: "file" or "memory". Empty = not set (file).
	Storage Storage `toml:"storage"`
	// Replicas is the number of copies in a cluster, 1..5. 0 = not set (1).
	Replicas int `toml:"replicas"`
	// Placement of the bucket's backing stream; see StreamSpec.Placement.
	Placement Placement `toml:"placement"`
}

// UnmarshalText accepts "limits", "workqueue", "interest" or "".
func (r *Retention) UnmarshalText(b []byte) error {
	v := Retention(b)
	if _, err := v.js(); err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText returns the policy's name.
func (r Retention) MarshalText() ([]byte, error) { return []byte(r), nil }

func (r Retention) js() (jetstream.RetentionPolicy, error) {
	switch r {
	case "", RetentionLimits:
		return jetstream.LimitsPolicy, nil
	case RetentionWorkQueue:
		return jetstream.WorkQueuePolicy, nil
	case RetentionInterest:
		return jetstream.InterestPolicy, nil
	}
	return 0, fmt.Errorf("broker: retention %q: want limits, workqueue or interest", string(r))
}

func retentionName(p jetstream.RetentionPolicy) string {
	switch p {
	case jetstream.LimitsPolicy:
		return string(RetentionLimits)
	case jetstream.WorkQueuePolicy:
		return string(RetentionWorkQueue)
	case jetstream.InterestPolicy:
		return string(RetentionInterest)
	}
	return p.String()
}

// UnmarshalText accepts "old", "new" or "".
func (d *Discard) UnmarshalText(b []byte) error {
	v := Discard(b)
	if _, err := v.js(); err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText returns the policy's name.
func (d Discard) MarshalText() ([]byte, error) { return []byte(d), nil }

func (d Discard) js() (jetstream.DiscardPolicy, error) {
	switch d {
	case "", DiscardOld:
		return jetstream.DiscardOld, nil
	case DiscardNew:
		return jetstream.DiscardNew, nil
	}
	return 0, fmt.Errorf("broker: discard %q: want new or old", string(d))
}

func discardName(p jetstream.DiscardPolicy) string {
	switch p {
	case jetstream.DiscardOld:
		return string(DiscardOld)
	case jetstream.DiscardNew:
		return string(DiscardNew)
	}
	return p.String()
}

// UnmarshalText accepts "file", "memory" or "".
func (s *Storage) UnmarshalText(b []byte) error {
	v := Storage(b)
	if _, err := v.js(); err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText returns the storage type's name.
func (s Storage) MarshalText() ([]byte, error) { return []byte(s), nil }

func (s Storage) js() (jetstream.StorageType, error) {
	switch s {
	case "", StorageFile:
		return jetstream.FileStorage, nil
	case StorageMemory:
		return jetstream.MemoryStorage, nil
	}
	return 0, fmt.Errorf("broker: storage %q: want file or memory", string(s))
}

func storageName(t jetstream.StorageType) string {
	switch t {
	case jetstream.FileStorage:
		return string(StorageFile)
	case jetstream.MemoryStorage:
		return string(StorageMemory)
	}
	return t.String()
}

// Validate checks the whole spec without a server and returns every problem
// found, joined, each wrapping ErrInvalidSpec and naming the item and field;
// nil if the spec is valid. Provision calls it first.
func (s Spec) Validate() error {
	var errs []error
	streams := map[string]bool{}
	for i, st := range s.Streams {
		item := fmt.Sprintf("stream %q", st.Name)
		if st.Name == "" {
			item = fmt.Sprintf("streams[%d]", i)
		}
		if streams[st.Name] && st.Name != "" {
			errs = append(errs, specErr(item, "name", "declared twice"))
		}
		streams[st.Name] = true
		errs = append(errs, st.validate(item)...)
	}
	consumers := map[[2]string]bool{}
	for i, c := range s.Consumers {
		item := fmt.Sprintf("consumer %q on stream %q", c.Durable, c.Stream)
		if c.Durable == "" || c.Stream == "" {
			item = fmt.Sprintf("consumers[%d]", i)
		}
		key := [2]string{c.Stream, c.Durable}
		if consumers[key] && c.Durable != "" {
			errs = append(errs, specErr(item, "durable", "declared twice"))
		}
		consumers[key] = true
		errs = append(errs, c.validate(item)...)
	}
	buckets := map[string]bool{}
	for i, o := range s.ObjectStores {
		item := fmt.Sprintf("object store %q", o.Bucket)
		if o.Bucket == "" {
			item = fmt.Sprintf("object_stores[%d]", i)
		}
		if buckets[o.Bucket] && o.Bucket != "" {
			errs = append(errs, specErr(item, "bucket", "declared twice"))
		}
		buckets[o.Bucket] = true
		errs = append(errs, o.validate(item)...)
	}
	return errors.Join(errs...)
}

func (st StreamSpec) validate(item string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, specErr(item, field, format, args...))
	}
	if err := checkName(st.Name); err != nil {
		add("name", "%v", err)
	}
	for _, subj := range st.Subjects {
		if err := checkSubject(subj); err != nil {
			add("subjects", "%v", err)
		}
	}
	if _, err := st.Retention.js(); err != nil {
		add("retention", "%q: want limits, workqueue or interest", string(st.Retention))
	}
	if _, err := st.Discard.js(); err != nil {
		add("discard", "%q: want new or old", string(st.Discard))
	}
	if _, err := st.Storage.js(); err != nil {
		add("storage", "%q: want file or memory", string(st.Storage))
	}
	if st.MaxBytes < 0 {
		add("max_bytes", "%d must not be negative (0 = unlimited)", st.MaxBytes)
	}
	if st.MaxMsgs < 0 {
		add("max_msgs", "%d must not be negative (0 = unlimited)", st.MaxMsgs)
	}
	if st.MaxMsgSize < 0 || st.MaxMsgSize > math.MaxInt32 {
		add("max_msg_size", "%d out of range (0 = unlimited, at most %d)", st.MaxMsgSize, math.MaxInt32)
	}
	if st.MaxAge < 0 || (st.MaxAge > 0 && st.MaxAge < 100*time.Millisecond) {
		add("max_age", "%s: must be 0 (no expiry) or at least 100ms", st.MaxAge)
	}
	if st.Duplicates < 0 || (st.Duplicates > 0 && st.Duplicates < 100*time.Millisecond) {
		add("duplicates", "%s: must be 0 (server default) or at least 100ms", st.Duplicates)
	}
	if st.MaxAge > 0 && st.Duplicates > st.MaxAge {
		add("duplicates", "%s must not exceed max_age %s", st.Duplicates, st.MaxAge)
	}
	if st.Replicas < 0 || st.Replicas > maxReplicas {
		add("replicas", "%d out of range (1..%d, 0 = default 1)", st.Replicas, maxReplicas)
	}
	if (st.MaxBytes > 0 || st.MaxMsgs > 0) && st.Discard != DiscardNew && !st.AllowDiscardOld {
		disc := "old"
		if st.Discard == "" {
			disc = "old (the default)"
		}
		add("discard", "%s with max_bytes/max_msgs silently deletes the oldest messages when the stream is full "+
			"(under any retention, work-queue included); set discard = \"new\" so publishers get backpressure, "+
			"or allow_discard_old = true if losing old data is intended", disc)
	}
	return errs
}

func (c ConsumerSpec) validate(item string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, specErr(item, field, format, args...))
	}
	if c.Stream == "" {
		add("stream", "required")
	} else if err := checkName(c.Stream); err != nil {
		add("stream", "%v", err)
	}
	if err := checkName(c.Durable); err != nil {
		add("durable", "%v", err)
	}
	if c.FilterSubject != "" && len(c.FilterSubjects) > 0 {
		add("filter_subjects", "set either filter_subject or filter_subjects, not both")
	}
	if c.FilterSubject != "" {
		if err := checkSubject(c.FilterSubject); err != nil {
			add("filter_subject", "%v", err)
		}
	}
	seen := map[string]bool{}
	for _, f := range c.FilterSubjects {
		if err := checkSubject(f); err != nil {
			add("filter_subjects", "%v", err)
		}
		if seen[f] {
			add("filter_subjects", "%q listed twice", f)
		}
		seen[f] = true
	}
	if c.AckWait < 0 {
		add("ack_wait", "%s must not be negative", c.AckWait)
	}
	if c.MaxDeliver < -1 {
		add("max_deliver", "%d out of range (-1 = unlimited, 0 = server default)", c.MaxDeliver)
	}
	for i, d := range c.BackOff {
		if d <= 0 {
			add("backoff", "backoff[%d] = %s must be > 0", i, d)
		}
	}
	if len(c.BackOff) > 0 {
		if c.AckWait != 0 && c.AckWait != c.BackOff[0] {
			add("ack_wait", "%s differs from backoff[0] = %s; the server uses backoff[0] as the ack wait, so leave ack_wait unset or equal to it",
				c.AckWait, c.BackOff[0])
		}
		if c.MaxDeliver > 0 && len(c.BackOff) > c.MaxDeliver {
			add("backoff", "%d entries exceed max_deliver = %d", len(c.BackOff), c.MaxDeliver)
		}
	}
	if c.MaxAckPending < -1 {
		add("max_ack_pending", "%d out of range (-1 = unlimited, 0 = server default)", c.MaxAckPending)
	}
	if c.MaxRequestMaxBytes < 0 || c.MaxRequestMaxBytes > math.MaxInt32 {
		add("max_request_max_bytes", "%d out of range (0 = no limit)", c.MaxRequestMaxBytes)
	}
	return errs
}

func (o ObjectStoreSpec) validate(item string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, specErr(item, field, format, args...))
	}
	if o.Bucket == "" {
		add("bucket", "required")
	} else {
		for _, r := range o.Bucket {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				add("bucket", "%q: only letters, digits, '-' and '_' are allowed", o.Bucket)
				break
			}
		}
	}
	if o.MaxBytes < 0 {
		add("max_bytes", "%d must not be negative (0 = unlimited)", o.MaxBytes)
	}
	if _, err := o.Storage.js(); err != nil {
		add("storage", "%q: want file or memory", string(o.Storage))
	}
	if o.Replicas < 0 || o.Replicas > maxReplicas {
		add("replicas", "%d out of range (1..%d, 0 = default 1)", o.Replicas, maxReplicas)
	}
	return errs
}

// checkName applies JetStream's rules for stream and consumer names.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("required")
	case len(name) > 255:
		return fmt.Errorf("%q is longer than 255 bytes", name)
	case strings.ContainsAny(name, ".*>/\\ \t\r\n"):
		return fmt.Errorf("%q must not contain '.', '*', '>', '/', '\\' or whitespace", name)
	}
	return nil
}

// checkSubject applies NATS subject syntax: non-empty dot-separated tokens
// without whitespace, where a '>' token may only come last.
func checkSubject(subj string) error {
	if subj == "" {
		return errors.New("empty subject")
	}
	if strings.ContainsAny(subj, " \t\r\n") {
		return fmt.Errorf("subject %q must not contain whitespace", subj)
	}
	toks := strings.Split(subj, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token", subj)
		case t == ">" && i != len(toks)-1:
			return fmt.Errorf("subject %q: '>' must be the last token", subj)
		}
	}
	return nil
}
