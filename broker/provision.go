package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Kind is the kind of a provisioned item.
type Kind string

// Item kinds.
const (
	// KindStream is a JetStream stream (StreamSpec).
	KindStream Kind = "stream"
	// KindConsumer is a durable pull consumer (ConsumerSpec).
	KindConsumer Kind = "consumer"
	// KindObjectStore is an object-store bucket (ObjectStoreSpec).
	KindObjectStore Kind = "object_store"
)

// Action is what Provision did with one item.
type Action string

// Provisioning actions.
const (
	// ActionCreated: the item did not exist and Provision created it (or
	// another process created the identical item at the same moment).
	ActionCreated Action = "created"
	// ActionUnchanged: the item existed and agrees with the spec; Provision
	// left it alone.
	ActionUnchanged Action = "unchanged"
)

// ItemResult is the outcome for one item of a Spec.
type ItemResult struct {
	// Kind of the item.
	Kind Kind
	// Stream is the stream concerned: the stream itself, the consumer's
	// stream, or the object store's backing stream "OBJ_<bucket>".
	Stream string
	// Name is the stream name, the consumer's durable name or the bucket.
	Name string
	// Action is what Provision did.
	Action Action
}

// String formats the result as `stream "ORDERS": created`.
func (r ItemResult) String() string {
	switch r.Kind {
	case KindConsumer:
		return fmt.Sprintf("consumer %q on stream %q: %s", r.Name, r.Stream, r.Action)
	case KindObjectStore:
		return fmt.Sprintf("object store %q: %s", r.Name, r.Action)
	}
	return fmt.Sprintf("stream %q: %s", r.Name, r.Action)
}

// Report lists what Provision did, one entry per item handled, in the order
// handled: streams, then object stores, then consumers.
type Report struct {
	// Items has one entry per item handled. On error it holds the items
	// handled before the failing one.
	Items []ItemResult
}

// Changed reports whether Provision created anything.
func (r Report) Changed() bool {
	return slices.ContainsFunc(r.Items, func(it ItemResult) bool { return it.Action != ActionUnchanged })
}

// String lists the items, one per line.
func (r Report) String() string {
	lines := make([]string, len(r.Items))
	for i, it := range r.Items {
		lines[i] = it.String()
	}
	return strings.Join(lines, "\n")
}

// Provision makes the JetStream server behind js match spec, creating what is
// missing: first every stream, then every object store, then every consumer.
// It never updates or deletes: an existing item that agrees with the spec in
// every field the spec sets is left alone (ActionUnchanged), so applying the
// same spec again changes nothing; server-filled defaults and fields the spec
// does not set are not compared. An existing item that differs is an error
// wrapping ErrConflict (a *ConflictError naming the fields). An existing
// stream that would silently drop data (discard old with a size or count
// limit) also conflicts unless the spec sets AllowDiscardOld.
//
// The spec is validated first (Spec.Validate), and replicas > 1 are refused
// up front when the server is not clustered; such errors wrap ErrInvalidSpec
// and nothing is created. Provision stops at the first other error; the
// Report then lists what was done before it. Concurrent Provision calls with
// the same spec (a fleet starting up) are safe: each succeeds. ctx bounds each
// JetStream API call.
func Provision(ctx context.Context, js jetstream.JetStream, spec Spec) (Report, error) {
	var rep Report
	if js == nil {
		return rep, errors.New("broker: Provision: nil JetStream")
	}
	if err := spec.Validate(); err != nil {
		return rep, err
	}
	if err := checkReplicas(js, spec); err != nil {
		return rep, err
	}
	for _, st := range spec.Streams {
		res, err := provisionStream(ctx, js, st)
		if err != nil {
			return rep, err
		}
		rep.Items = append(rep.Items, res)
	}
	for _, o := range spec.ObjectStores {
		res, err := provisionObjectStore(ctx, js, o)
		if err != nil {
			return rep, err
		}
		rep.Items = append(rep.Items, res)
	}
	for _, c := range spec.Consumers {
		res, err := provisionConsumer(ctx, js, c)
		if err != nil {
			return rep, err
		}
		rep.Items = append(rep.Items, res)
	}
	return rep, nil
}

// checkReplicas refuses replicas > 1 when the connected server is not part of
// a cluster: a single server rejects them (and says so only per item).
func checkReplicas(js jetstream.JetStream, spec Spec) error {
	nc := js.Conn()
	if nc == nil || nc.ConnectedClusterName() != "" {
		return nil
	}
	var errs []error
	for _, st := range spec.Streams {
		if st.Replicas > 1 {
			errs = append(errs, replicasErr(fmt.Sprintf("stream %q", st.Name), st.Replicas))
		}
	}
	for _, o := range spec.ObjectStores {
		if o.Replicas > 1 {
			errs = append(errs, replicasErr(fmt.Sprintf("object store %q", o.Bucket), o.Replicas))
		}
	}
	return errors.Join(errs...)
}

func replicasErr(item string, n int) error {
	return specErr(item, "replicas", "%d, but the server is a single server, not a cluster, and refuses replicas > 1; use 1 (or leave it unset) with the embedded broker", n)
}

// apiErrCode returns the JetStream API error code in err, or 0.
func apiErrCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// errCodeReplicasNotSupported is the server's "replicas > 1 not supported in
// non-clustered mode" error code.
const errCodeReplicasNotSupported jetstream.ErrorCode = 10074

func provisionStream(ctx context.Context, js jetstream.JetStream, st StreamSpec) (ItemResult, error) {
	res := ItemResult{Kind: KindStream, Stream: st.Name, Name: st.Name}
	s, err := js.Stream(ctx, st.Name)
	switch {
	case err == nil:
		res.Action = ActionUnchanged
		return res, streamConflict(st, s.CachedInfo().Config)
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return res, fmt.Errorf("broker: stream %q: look up: %w", st.Name, err)
	}

	cfg := st.config()
	_, err = js.CreateStream(ctx, cfg)
	switch {
	case err == nil:
		res.Action = ActionCreated
		return res, nil
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		// Created concurrently with a different config: compare it.
		s, gerr := js.Stream(ctx, st.Name)
		if gerr != nil {
			return res, fmt.Errorf("broker: stream %q: create: %w", st.Name, err)
		}
		res.Action = ActionUnchanged
		return res, streamConflict(st, s.CachedInfo().Config)
	case apiErrCode(err) == errCodeReplicasNotSupported:
		return res, fmt.Errorf("%w (server: %w)", replicasErr(fmt.Sprintf("stream %q", st.Name), st.Replicas), err)
	}
	return res, fmt.Errorf("broker: stream %q: create: %w", st.Name, err)
}

// config builds the StreamConfig to create; unset fields keep the server's
// defaults (jetstream sends 0 for them, which the server fills in).
func (st StreamSpec) config() jetstream.StreamConfig {
	ret, _ := st.Retention.js()
	disc, _ := st.Discard.js()
	stor, _ := st.Storage.js()
	return jetstream.StreamConfig{
		Name:       st.Name,
		Subjects:   slices.Clone(st.Subjects),
		Retention:  ret,
		Discard:    disc,
		MaxBytes:   st.MaxBytes,
		MaxMsgs:    st.MaxMsgs,
		MaxMsgSize: int32(st.MaxMsgSize),
		MaxAge:     st.MaxAge,
		Duplicates: st.Duplicates,
		Storage:    stor,
		Replicas:   st.Replicas,
		Placement:  st.Placement.js(),

		AllowAtomicPublish: st.AllowAtomicPublish,
	}
}

// streamConflict compares the fields st sets with have and returns a
// *ConflictError, or nil.
func streamConflict(st StreamSpec, have jetstream.StreamConfig) error {
	var d diffs
	if len(st.Subjects) > 0 && !sameSet(st.Subjects, have.Subjects) {
		d.add("subjects", fmt.Sprintf("%q", st.Subjects), fmt.Sprintf("%q", have.Subjects))
	}
	if st.AllowAtomicPublish && !have.AllowAtomicPublish {
		d.add("allow_atomic_publish", "true", "false")
	}
	if st.Retention != "" {
		if want, _ := st.Retention.js(); want != have.Retention {
			d.add("retention", string(st.Retention), retentionName(have.Retention))
		}
	}
	if st.Discard != "" {
		if want, _ := st.Discard.js(); want != have.Discard {
			d.add("discard", string(st.Discard), discardName(have.Discard))
		}
	}
	d.int("max_bytes", st.MaxBytes, have.MaxBytes)
	d.int("max_msgs", st.MaxMsgs, have.MaxMsgs)
	d.int("max_msg_size", st.MaxMsgSize, int64(have.MaxMsgSize))
	d.dur("max_age", st.MaxAge, have.MaxAge)
	d.dur("duplicates", st.Duplicates, have.Duplicates)
	if st.Storage != "" {
		if want, _ := st.Storage.js(); want != have.Storage {
			d.add("storage", string(st.Storage), storageName(have.Storage))
		}
	}
	d.int("replicas", int64(st.Replicas), int64(have.Replicas))
	d.placement(st.Placement, have.Placement)
	// Safety: whatever the spec sets, an existing stream that drops its
	// oldest data when full is not acceptable unless the spec allows it.
	if !st.AllowDiscardOld && have.Discard == jetstream.DiscardOld && st.Discard != DiscardNew &&
		(have.MaxBytes > 0 || have.MaxMsgs > 0 || have.MaxMsgsPerSubject > 0) {
		d.add("discard", "new (or allow_discard_old = true)",
			fmt.Sprintf("old with max_bytes=%d max_msgs=%d max_msgs_per_subject=%d: drops the oldest messages when full",
				have.MaxBytes, have.MaxMsgs, have.MaxMsgsPerSubject))
	}
	if len(d) == 0 {
		return nil
	}
	return &ConflictError{Kind: KindStream, Stream: st.Name, Name: st.Name, Diffs: d}
}

func provisionConsumer(ctx context.Context, js jetstream.JetStream, c ConsumerSpec) (ItemResult, error) {
	res := ItemResult{Kind: KindConsumer, Stream: c.Stream, Name: c.Durable}
	item := fmt.Sprintf("consumer %q on stream %q", c.Durable, c.Stream)
	cons, err := js.Consumer(ctx, c.Stream, c.Durable)
	switch {
	case err == nil:
		res.Action = ActionUnchanged
		return res, consumerConflict(c, cons.CachedInfo().Config)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return res, specErr(item, "stream", "stream %q does not exist (declare it in the spec's streams)", c.Stream)
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return res, fmt.Errorf("broker: %s: look up: %w", item, err)
	}

	_, err = js.CreateConsumer(ctx, c.Stream, c.config())
	switch {
	case err == nil:
		res.Action = ActionCreated
		return res, nil
	case errors.Is(err, jetstream.ErrConsumerExists):
		// Created concurrently with a different config: compare it.
		cons, gerr := js.Consumer(ctx, c.Stream, c.Durable)
		if gerr != nil {
			return res, fmt.Errorf("broker: %s: create: %w", item, err)
		}
		res.Action = ActionUnchanged
		return res, consumerConflict(c, cons.CachedInfo().Config)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return res, specErr(item, "stream", "stream %q does not exist (declare it in the spec's streams)", c.Stream)
	}
	return res, fmt.Errorf("broker: %s: create: %w", item, err)
}

// config builds the ConsumerConfig to create: a durable pull consumer with
// explicit acks delivering from the start of the stream.
func (c ConsumerSpec) config() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:            c.Durable,
		AckPolicy:          jetstream.AckExplicitPolicy,
		DeliverPolicy:      jetstream.DeliverAllPolicy,
		FilterSubject:      c.FilterSubject,
		FilterSubjects:     slices.Clone(c.FilterSubjects),
		AckWait:            c.AckWait,
		MaxDeliver:         c.MaxDeliver,
		BackOff:            slices.Clone(c.BackOff),
		MaxAckPending:      c.MaxAckPending,
		MaxRequestMaxBytes: int(c.MaxRequestMaxBytes),
	}
}

// consumerConflict compares the fields c sets (and the kind of consumer PCS
// needs: durable, pull, explicit ack) with have; a *ConflictError or nil.
func consumerConflict(c ConsumerSpec, have jetstream.ConsumerConfig) error {
	var d diffs
	if have.Durable == "" {
		d.add("durable", strconv.Quote(c.Durable)+" (durable)", "an ephemeral consumer of that name")
	}
	if have.DeliverSubject != "" {
		d.add("deliver_subject", "none (pull consumer)", strconv.Quote(have.DeliverSubject)+" (push consumer)")
	}
	if have.AckPolicy != jetstream.AckExplicitPolicy {
		d.add("ack_policy", "explicit", have.AckPolicy.String())
	}
	want := c.FilterSubjects
	if c.FilterSubject != "" {
		want = []string{c.FilterSubject}
	}
	var got []string
	if have.FilterSubject != "" {
		got = append(got, have.FilterSubject)
	}
	got = append(got, have.FilterSubjects...)
	if len(want) > 0 && !sameSet(want, got) {
		d.add(filterField(c), fmt.Sprintf("%q", want), fmt.Sprintf("%q", got))
	}
	d.dur("ack_wait", c.AckWait, have.AckWait)
	d.int("max_deliver", int64(c.MaxDeliver), int64(have.MaxDeliver))
	if len(c.BackOff) > 0 && !slices.Equal(c.BackOff, have.BackOff) {
		d.add("backoff", fmt.Sprint(c.BackOff), fmt.Sprint(have.BackOff))
	}
	d.int("max_ack_pending", int64(c.MaxAckPending), int64(have.MaxAckPending))
	d.int("max_request_max_bytes", c.MaxRequestMaxBytes, int64(have.MaxRequestMaxBytes))
	if len(d) == 0 {
		return nil
	}
	return &ConflictError{Kind: KindConsumer, Stream: c.Stream, Name: c.Durable, Diffs: d}
}

func filterField(c ConsumerSpec) string {
	if c.FilterSubject != "" {
		return "filter_subject"
	}
	return "filter_subjects"
}

func provisionObjectStore(ctx context.Context, js jetstream.JetStream, o ObjectStoreSpec) (ItemResult, error) {
	stream := "OBJ_" + o.Bucket
	res := ItemResult{Kind: KindObjectStore, Stream: stream, Name: o.Bucket}
	item := fmt.Sprintf("object store %q", o.Bucket)
	s, err := js.Stream(ctx, stream)
	switch {
	case err == nil:
		res.Action = ActionUnchanged
		return res, objectStoreConflict(o, s.CachedInfo().Config)
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return res, fmt.Errorf("broker: %s: look up: %w", item, err)
	}

	stor, _ := o.Storage.js()
	_, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:    o.Bucket,
		MaxBytes:  o.MaxBytes,
		Storage:   stor,
		Replicas:  o.Replicas,
		Placement: o.Placement.js(),
	})
	switch {
	case err == nil:
		res.Action = ActionCreated
		return res, nil
	case errors.Is(err, jetstream.ErrBucketExists), errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		s, gerr := js.Stream(ctx, stream)
		if gerr != nil {
			return res, fmt.Errorf("broker: %s: create: %w", item, err)
		}
		res.Action = ActionUnchanged
		return res, objectStoreConflict(o, s.CachedInfo().Config)
	case apiErrCode(err) == errCodeReplicasNotSupported:
		return res, fmt.Errorf("%w (server: %w)", replicasErr(item, o.Replicas), err)
	}
	return res, fmt.Errorf("broker: %s: create: %w", item, err)
}

// objectStoreConflict compares the fields o sets with the backing stream.
func objectStoreConflict(o ObjectStoreSpec, have jetstream.StreamConfig) error {
	var d diffs
	d.int("max_bytes", o.MaxBytes, have.MaxBytes)
	if o.Storage != "" {
		if want, _ := o.Storage.js(); want != have.Storage {
			d.add("storage", string(o.Storage), storageName(have.Storage))
		}
	}
	d.int("replicas", int64(o.Replicas), int64(have.Replicas))
	d.placement(o.Placement, have.Placement)
	if len(d) == 0 {
		return nil
	}
	return &ConflictError{Kind: KindObjectStore, Stream: have.Name, Name: o.Bucket, Diffs: d}
}

// diffs collects FieldDiffs; the helpers skip fields the spec leaves unset
// (zero).
type diffs []FieldDiff

func (d *diffs) add(field, spec, existing string) {
	*d = append(*d, FieldDiff{Field: field, Spec: spec, Existing: existing})
}

func (d *diffs) int(field string, spec, have int64) {
	if spec != 0 && spec != have {
		d.add(field, strconv.FormatInt(spec, 10), strconv.FormatInt(have, 10))
	}
}

func (d *diffs) dur(field string, spec, have time.Duration) {
	if spec != 0 && spec != have {
		d.add(field, spec.String(), have.String())
	}
}

// sameSet reports whether a and b hold the same strings, ignoring order and
// repeats.
func sameSet(a, b []string) bool {
	x := slices.Compact(slices.Sorted(slices.Values(a)))
	y := slices.Compact(slices.Sorted(slices.Values(b)))
	return slices.Equal(x, y)
}
