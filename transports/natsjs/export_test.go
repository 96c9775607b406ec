package natsjs

// Retryable exposes retryable to the external tests.
var Retryable = retryable
