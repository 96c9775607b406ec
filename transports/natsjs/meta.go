package natsjs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header names of a partition message. They are part of PCS's public
// contract (see the package documentation for their formats). NATS
// headers are case-sensitive: consumers must use these exact spellings.
const (
	// HeaderMsgID is JetStream's deduplication header; PCS puts the
	// deterministic partition id in it.
	HeaderMsgID = jetstream.MsgIDHeader // "Nats-Msg-Id"
	// HeaderRows is the row count of the partition, decimal.
	HeaderRows = "Pcs-Rows"
	// HeaderSchema is the schema fingerprint (see Fingerprint).
	HeaderSchema = "Pcs-Schema"
	// HeaderEventMin is the smallest event time of the rows, RFC 3339 with
	// nanoseconds, UTC.
	HeaderEventMin = "Pcs-Event-Min"
	// HeaderEventMax is the largest event time of the rows, same format.
	HeaderEventMax = "Pcs-Event-Max"
	// HeaderWatermark is the producer's watermark after this partition,
	// same format.
	HeaderWatermark = "Pcs-Watermark"
	// HeaderObject is the claim check: "<bucket>/<name> SHA-256=<digest> <size>".
	HeaderObject = "Pcs-Object"
	// HeaderLineage is the comma-separated list of input partition ids.
	HeaderLineage = "Pcs-Lineage"
	// HeaderPart says that the message is part k of n of one output that
	// did not fit in one message: "<k>/<n>", decimal, k from 1 to n. Each
	// part is a complete Arrow IPC stream of the same schema; a message
	// without it is a whole output.
	HeaderPart = "Pcs-Part"
	// HeaderPartOf is the id (Nats-Msg-Id) of part 1 of the output a part
	// belongs to: consumers that regroup parts group by it.
	HeaderPartOf = "Pcs-Part-Of"
)

// timeLayout is the layout of the event-time and watermark headers.
const timeLayout = time.RFC3339Nano

// ObjectRef is a claim check: where the body of a partition that did not
// fit inline is stored, and how to verify it.
type ObjectRef struct {
	// Bucket is the JetStream object store bucket.
	Bucket string
	// Name is the object's name in Bucket.
	Name string
	// Digest is "SHA-256=" followed by the base64url encoding (RFC 4648
	// section 5, with '=' padding) of the SHA-256 of the body, exactly as
	// the NATS object store reports ObjectInfo.Digest.
	Digest string
	// Size is the body size in bytes.
	Size int64
}

// String renders the reference in the Pcs-Object header format:
// "<bucket>/<name> <digest> <size>".
func (o ObjectRef) String() string {
	return o.Bucket + "/" + o.Name + " " + o.Digest + " " + strconv.FormatInt(o.Size, 10)
}

// ParseObjectRef parses the Pcs-Object header format. The name may
// contain '/' and spaces: the bucket ends at the first '/', the digest and
// size are the last two space-separated fields. Errors wrap ErrBadHeader
// and ErrCorrupt.
func ParseObjectRef(s string) (ObjectRef, error) {
	bad := func(why string) (ObjectRef, error) {
		return ObjectRef{}, fmt.Errorf("%w: %w: %s %q: %s", ErrCorrupt, ErrBadHeader, HeaderObject, s, why)
	}
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return bad("want \"<bucket>/<name> <digest> <size>\"")
	}
	size, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || size < 0 {
		return bad("bad size")
	}
	s2 := s[:i]
	j := strings.LastIndexByte(s2, ' ')
	if j < 0 {
		return bad("missing digest")
	}
	digest := s2[j+1:]
	if _, err := jetstream.DecodeObjectDigest(digest); err != nil || !strings.HasPrefix(digest, "SHA-256=") {
		return bad("bad digest")
	}
	path := s2[:j]
	k := strings.IndexByte(path, '/')
	if k <= 0 || k == len(path)-1 {
		return bad("want <bucket>/<name>")
	}
	return ObjectRef{Bucket: path[:k], Name: path[k+1:], Digest: digest, Size: size}, nil
}

// Meta is the header metadata of a partition. The zero value of every
// optional field means "absent" and its header is omitted.
type Meta struct {
	// ID is the deterministic partition id (Nats-Msg-Id); see PartitionID
	// and OutputID.
	ID string
	// Rows is the row count (Pcs-Rows). ParseMeta sets -1 when the header
	// is absent; Header omits it when negative.
	Rows int64
	// Schema is the schema fingerprint (Pcs-Schema), see Fingerprint.
	Schema string
	// EventMin and EventMax bound the event times of the rows
	// (Pcs-Event-Min, Pcs-Event-Max); zero when the producer declares no
	// event-time column or no row has an event time.
	EventMin, EventMax time.Time
	// Watermark is the producer's watermark after this partition
	// (Pcs-Watermark); zero when not declared.
	Watermark time.Time
	// Object is the claim check (Pcs-Object); nil when the body is inline.
	Object *ObjectRef
	// Lineage lists the ids of the input partitions this partition was
	// computed from (Pcs-Lineage).
	Lineage []string
	// Part and Parts say that this message is part Part (from 1) of Parts
	// of one output (Pcs-Part); both 0 for a whole output. PartOf is the
	// id of part 1 (Pcs-Part-Of). Publisher.PublishParts sets them.
	Part, Parts int
	// PartOf is the id of the output's part 1 (Pcs-Part-Of), when Parts > 0.
	PartOf string
}

// Header renders m as NATS headers, omitting absent fields. Times are
// written in UTC. It does not validate ids (Publish does).
func (m Meta) Header() nats.Header {
	h := make(nats.Header, 8)
	if m.ID != "" {
		h.Set(HeaderMsgID, m.ID)
	}
	if m.Rows >= 0 {
		h.Set(HeaderRows, strconv.FormatInt(m.Rows, 10))
	}
	if m.Schema != "" {
		h.Set(HeaderSchema, m.Schema)
	}
	if !m.EventMin.IsZero() {
		h.Set(HeaderEventMin, m.EventMin.UTC().Format(timeLayout))
	}
	if !m.EventMax.IsZero() {
		h.Set(HeaderEventMax, m.EventMax.UTC().Format(timeLayout))
	}
	if !m.Watermark.IsZero() {
		h.Set(HeaderWatermark, m.Watermark.UTC().Format(timeLayout))
	}
	if m.Object != nil {
		h.Set(HeaderObject, m.Object.String())
	}
	if len(m.Lineage) > 0 {
		h.Set(HeaderLineage, strings.Join(m.Lineage, ","))
	}
	if m.Parts > 0 {
		h.Set(HeaderPart, strconv.Itoa(m.Part)+"/"+strconv.Itoa(m.Parts))
		if m.PartOf != "" {
			h.Set(HeaderPartOf, m.PartOf)
		}
	}
	return h
}

// ParseMeta reads the partition headers from h. Absent headers leave
// their field at its "absent" value (Rows = -1); a present but malformed
// header is an error wrapping ErrBadHeader and ErrCorrupt. Foreign
// messages that carry no Pcs-* header at all parse without error.
func ParseMeta(h nats.Header) (Meta, error) {
	m := Meta{ID: h.Get(HeaderMsgID), Rows: -1, Schema: h.Get(HeaderSchema)}
	bad := func(name, v, why string) (Meta, error) {
		return Meta{}, fmt.Errorf("%w: %w: %s %q: %s", ErrCorrupt, ErrBadHeader, name, v, why)
	}
	if v := h.Get(HeaderRows); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bad(HeaderRows, v, "want a non-negative integer")
		}
		m.Rows = n
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{HeaderEventMin, &m.EventMin}, {HeaderEventMax, &m.EventMax}, {HeaderWatermark, &m.Watermark}} {
		if v := h.Get(f.name); v != "" {
			t, err := time.Parse(timeLayout, v)
			if err != nil {
				return bad(f.name, v, "want RFC 3339 time")
			}
			*f.dst = t.UTC()
		}
	}
	if v := h.Get(HeaderObject); v != "" {
		ref, err := ParseObjectRef(v)
		if err != nil {
			return Meta{}, err
		}
		m.Object = &ref
	}
	if v := h.Get(HeaderLineage); v != "" {
		m.Lineage = strings.Split(v, ",")
		for _, id := range m.Lineage {
			if id == "" {
				return bad(HeaderLineage, v, "empty id")
			}
		}
	}
	if v := h.Get(HeaderPart); v != "" {
		k, n, ok := strings.Cut(v, "/")
		part, err1 := strconv.Atoi(k)
		parts, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || part < 1 || part > parts {
			return bad(HeaderPart, v, "want <k>/<n> with 1 <= k <= n")
		}
		m.Part, m.Parts, m.PartOf = part, parts, h.Get(HeaderPartOf)
	}
	return m, nil
}

// PartitionID returns a producer's partition id "<source-id>/<seq>".
func PartitionID(sourceID string, seq uint64) string {
	return sourceID + "/" + strconv.FormatUint(seq, 10)
}

// OutputID returns the id "<pipeline>/<input>/<k>" of the k-th output
// (k from 0) that pipeline computed from input partition input. Replays
// compute the same ids, so JetStream deduplicates republished outputs.
func OutputID(pipeline, input string, k int) string {
	return pipeline + "/" + input + "/" + strconv.Itoa(k)
}

// PartID returns the id of part j (from 0) of an output whose whole
// (or first part's) id is id: id itself for j = 0, and for j > 0
// id + "." + j ("flights/w0/7/2" -> "flights/w0/7/2.1"). The node numbers
// the parts of its sink and late outputs itself (OutputID with k = j and
// k = 1+j, see the package documentation); PartID is the scheme for
// every other caller of PublishParts.
func PartID(id string, j int) string {
	if j == 0 {
		return id
	}
	return id + "." + strconv.Itoa(j)
}

// WindowOutputID returns the id "<pipeline>/w<shard>/<seq>/<k>" of the
// k-th output (k from 0) that shard shard of a fleet window pipeline
// published after merging the partials at stream sequence seq of its
// PartialsSubject. A new owner replaying from a checkpoint publishes the
// same ids, which JetStream deduplicates.
func WindowOutputID(pipeline string, shard int, seq uint64, k int) string {
	return pipeline + "/w" + strconv.Itoa(shard) + "/" + strconv.FormatUint(seq, 10) + "/" + strconv.Itoa(k)
}

// ValidateID reports whether id can serve as a partition or source id:
// non-empty, at most 1024 bytes, valid UTF-8 without commas, whitespace
// or control characters. Errors wrap ErrBadID.
func ValidateID(id string) error {
	if id == "" || len(id) > 1024 {
		return fmt.Errorf("%w: %q: want 1 to 1024 bytes", ErrBadID, id)
	}
	for _, r := range id {
		if r == ',' || r == unicode.ReplacementChar || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: %q: contains %q", ErrBadID, id, r)
		}
	}
	return nil
}
