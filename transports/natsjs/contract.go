package natsjs

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// This file is the part of PCS's wire contract that is not the partition
// format itself: the names of the streams and subjects a pipeline uses,
// the dead-letter message, and the end-of-input watermark. Nodes, the
// CLI and other teams' consumers depend on these exact strings.

// Dead-letter headers, added to the original partition's headers on the
// message sent to <pipeline>.dlq (part of the public contract).
const (
	HeaderError         = "Pcs-Error"          // the error message (at most 1 KiB)
	HeaderErrorReason   = "Pcs-Error-Reason"   // corrupt, schema, permanent or max_deliver
	HeaderSourceStream  = "Pcs-Source-Stream"  // stream of the original message
	HeaderSourceSeq     = "Pcs-Source-Seq"     // its stream sequence
	HeaderSourceSubject = "Pcs-Source-Subject" // its subject (pcs dlq replay publishes there)
	HeaderDeliveries    = "Pcs-Deliveries"     // delivery attempts so far
	HeaderNode          = "Pcs-Node"           // node that dead-lettered it
)

// Reasons a partition is dead-lettered (label of
// pcs_partitions_dead_lettered_total and value of Pcs-Error-Reason).
const (
	ReasonCorrupt    = "corrupt"     // undecodable body, bad headers, missing or tampered object
	ReasonSchema     = "schema"      // columns do not fit the input component
	ReasonPermanent  = "permanent"   // a system returned a permanent error (or panicked)
	ReasonMaxDeliver = "max_deliver" // a retryable failure on the last allowed delivery
)

// MaxErrorBytes bounds the Pcs-Error header of a dead-letter message: a
// longer error text is cut (at a UTF-8 character boundary) to at most
// this many bytes.
const MaxErrorBytes = 1024

// DeadLetter returns the dead-letter message of partition p of pipeline,
// ready to publish with jetstream.JetStream.PublishMsg: the original body
// (a claim check stays a claim check: the object is not copied) and
// headers, plus
//
//   - Pcs-Error: cause's text, cut to MaxErrorBytes;
//   - Pcs-Error-Reason: reason (ReasonCorrupt, ReasonSchema,
//     ReasonPermanent or ReasonMaxDeliver);
//   - Pcs-Deliveries: p.Delivered();
//   - Pcs-Node: node, the id of the node that dead-letters it;
//   - Pcs-Source-Subject: the subject p was read from;
//   - Pcs-Source-Stream, Pcs-Source-Seq: where p was read (omitted for a
//     message without JetStream metadata);
//   - Nats-Msg-Id: "<pipeline>/<key>/dlq" with key p.Key(), so that a
//     partition dead-lettered twice (a node died between the publish
//     and the Term) is stored once;
//
// on subject DLQSubject(pipeline). The headers are copied: p is not
// modified. The message shares p's body; do not modify it.
func DeadLetter(p *Partition, pipeline, node, reason string, cause error) *nats.Msg {
	return deadLetter(p.msg.Headers(), p.msg.Data(), p.Key(), p.msg.Subject(), p.stream, p.seq, p.Delivered(), pipeline, node, reason, cause)
}

// DeadLetterStored is DeadLetter for a partition read from its stream by
// sequence (jetstream.Stream.GetMsg) rather than delivered by a consumer:
// one past max_deliver that a MAX_DELIVERIES advisory names, delivered
// deliveries times. Its key is its Nats-Msg-Id, else "<stream>/<seq>".
func DeadLetterStored(m *jetstream.RawStreamMsg, stream string, deliveries uint64, pipeline, node, reason string, cause error) *nats.Msg {
	key := m.Header.Get(HeaderMsgID)
	if key == "" {
		key = stream + "/" + strconv.FormatUint(m.Sequence, 10)
	}
	return deadLetter(m.Header, m.Data, key, m.Subject, stream, m.Sequence, deliveries, pipeline, node, reason, cause)
}

func deadLetter(orig nats.Header, data []byte, key, subject, stream string, seq, deliveries uint64, pipeline, node, reason string, cause error) *nats.Msg {
	h := nats.Header{}
	for k, v := range orig {
		h[k] = append([]string(nil), v...)
	}
	errText := ""
	if cause != nil {
		errText = cutUTF8(cause.Error(), MaxErrorBytes)
	}
	h.Set(HeaderError, errText)
	h.Set(HeaderErrorReason, reason)
	h.Set(HeaderDeliveries, strconv.FormatUint(deliveries, 10))
	h.Set(HeaderNode, node)
	if subject != "" {
		h.Set(HeaderSourceSubject, subject)
	}
	if stream != "" {
		h.Set(HeaderSourceStream, stream)
		h.Set(HeaderSourceSeq, strconv.FormatUint(seq, 10))
	}
	h.Set(HeaderMsgID, pipeline+"/"+key+"/dlq")
	return &nats.Msg{Subject: DLQSubject(pipeline), Header: h, Data: data}
}

// cutUTF8 returns s cut to at most n bytes, without splitting a UTF-8
// character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// Stream and subject names of a pipeline. pipeline is the [[pipeline]]
// name; inputStream is the pipeline's input stream (InputStream(pipeline)
// unless configured otherwise): the streams a node provisions next to
// it are named after it.

// InputStream returns the default input stream of pipeline:
// "PCS_<NAME>_IN", where NAME is pipeline upper-cased with '-' and '.'
// replaced by '_' ("flights-etl" -> "PCS_FLIGHTS_ETL_IN").
func InputStream(pipeline string) string { return "PCS_" + streamToken(pipeline) + "_IN" }

// OutputStream returns the default output stream of pipeline:
// "PCS_<NAME>_OUT", NAME as for InputStream.
func OutputStream(pipeline string) string { return "PCS_" + streamToken(pipeline) + "_OUT" }

func streamToken(pipeline string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(pipeline))
}

// DLQSubject returns the dead-letter subject of pipeline: "<pipeline>.dlq".
func DLQSubject(pipeline string) string { return pipeline + ".dlq" }

// DLQStream returns the stream that holds DLQSubject:
// "<inputStream>_DLQ".
func DLQStream(inputStream string) string { return inputStream + "_DLQ" }

// LateSubject returns the subject of pipeline's rows later than their
// windows' allowed lateness: "<pipeline>.late".
func LateSubject(pipeline string) string { return pipeline + ".late" }

// LateStream returns the stream that holds LateSubject:
// "<inputStream>_LATE".
func LateStream(inputStream string) string { return inputStream + "_LATE" }

// PartialsSubject returns the subject of shard shard (from 0) of a fleet
// window pipeline's partial aggregates: "<pipeline>.partials.<shard>".
func PartialsSubject(pipeline string, shard int) string {
	return pipeline + ".partials." + strconv.Itoa(shard)
}

// PartialsSubjects returns the wildcard of every shard's PartialsSubject:
// "<pipeline>.partials.>".
func PartialsSubjects(pipeline string) string { return pipeline + ".partials.>" }

// MaxDeliveriesAdvisory is the subject of the server's advisory for a
// message of stream that consumer delivered max_deliver times without an
// ack ($JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>).
func MaxDeliveriesAdvisory(stream, consumer string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
}

// AdvisoryStream is the stream that keeps a pipeline's MAX_DELIVERIES
// advisories (core NATS messages, lost when no node listens) until a node
// has dead-lettered the partition each names.
func AdvisoryStream(inputStream string) string { return inputStream + "_ADVISORIES" }

// PartialsStream returns the stream that holds PartialsSubjects:
// "<inputStream>_PARTIALS".
func PartialsStream(inputStream string) string { return inputStream + "_PARTIALS" }

// EndOfInput is the watermark a producer puts in Pcs-Watermark to say
// that its input has ended (pcs publish --end-of-input): window
// pipelines then fire every window. It is 9999-01-01T00:00:00Z; any
// watermark at or after it means the same (IsEndOfInput), so the
// 9999-12-31 that earlier versions of pcs publish wrote is understood.
var EndOfInput = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// IsEndOfInput reports whether watermark t marks the end of its
// producer's input: t at or after EndOfInput. The zero time (no
// watermark) is not.
func IsEndOfInput(t time.Time) bool { return !t.Before(EndOfInput) }

// IsEndOfInput reports whether m's watermark marks the end of its
// producer's input (see the function IsEndOfInput).
func (m Meta) IsEndOfInput() bool { return IsEndOfInput(m.Watermark) }
