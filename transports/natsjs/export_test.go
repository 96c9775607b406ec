package natsjs

// Retryable exposes retryable to the external tests.
var Retryable = retryable

// HandleKeepsMsg reports whether h keeps the jetstream.Msg (and so the
// message body) instead of a bound reply subject.
func HandleKeepsMsg(h *AckHandle) bool { return h.msg != nil }
