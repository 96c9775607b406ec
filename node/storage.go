package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/plan"
)

// Storage limits. A JetStream server reserves each stream's max_bytes
// against its store (max_file_store, by default 75% of the disk's free
// space) and refuses a stream whose max_bytes does not fit (API error
// 10047, "insufficient storage resources available"): with the default
// output.max_bytes (1GiB) a node on a small store would not start. So a
// default max_bytes is lowered to fit the store; one the config chose
// is kept, and a refusal says which setting to change.
//
// Measured on nats-server v2.15 with a max_file_store limit: a publish
// into a full store fails at once with API error 503/10023
// ("insufficient resources", not a timeout), and publishes succeed again
// within milliseconds once space is freed (a purge, consumers acking a
// work queue): no restart is needed. The design notes' "timeouts until
// the broker restarted" is the disk itself filling (ENOSPC below the
// store limit), where the server disables JetStream; the operator frees
// space and restarts the broker, or sizes max_file_store below the
// disk's free space so that the store limit, not the disk, is what fills.

// storeShare is the part of the store the default output max_bytes of
// all pipelines may reserve together: the rest stays for inputs, DLQs,
// partials, checkpoints and the object store.
const storeShare = 2

// minOutputMaxBytes is the smallest max_bytes fitOutputMaxBytes sets.
const minOutputMaxBytes = 1 << 20

// storeLimit returns how many bytes the JetStream file store can hold for
// this node's account: the account's limit when it has one, else the
// embedded broker's max_file_store; 0 when neither is known (an external
// server without account limits).
func (n *Node) storeLimit(ctx context.Context) int64 {
	if info, err := n.js.AccountInfo(ctx); err == nil && info.Limits.MaxStore > 0 {
		return info.Limits.MaxStore
	}
	if n.broker != nil && n.broker.Server() != nil {
		if jsc := n.broker.Server().JetStreamConfig(); jsc != nil && jsc.MaxStore > 0 {
			return jsc.MaxStore
		}
	}
	return 0
}

// fitOutputMaxBytes lowers the default output.max_bytes of pipes (those
// the config left unset) so that together they reserve at most
// 1/storeShare of a store of store bytes, and logs each change. Values the
// config set are kept. store 0 (unknown) changes nothing.
func fitOutputMaxBytes(pipes []plan.Pipeline, store int64, log *slog.Logger) {
	if store <= 0 {
		return
	}
	k := int64(0)
	for _, p := range pipes {
		if p.Output.MaxBytesIsDefault() {
			k++
		}
	}
	if k == 0 {
		return
	}
	fit := max(store/storeShare/k, minOutputMaxBytes)
	for i := range pipes {
		o := &pipes[i].Output
		if o.MaxBytesIsDefault() && int64(o.MaxBytes) > fit {
			log.Info("output.max_bytes default lowered to fit the JetStream store", "pipeline", pipes[i].Name,
				"max_bytes", humanize.IBytes(uint64(fit)), "default", humanize.IBytes(uint64(o.MaxBytes)), "store", humanize.IBytes(uint64(store)))
			o.MaxBytes = plan.Size(fit)
		}
	}
}

// storageError turns the server's refusal of a stream's max_bytes (API
// error 10047) into a one-line reason naming the settings to change;
// other errors are returned as they are.
func storageError(err error, store int64) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.ErrorCode(10047) {
		return err
	}
	size := "smaller than the streams' max_bytes"
	if store > 0 {
		size = humanize.IBytes(uint64(store))
	}
	return fmt.Errorf("%w: the JetStream store (%s) cannot reserve the streams' max_bytes: lower output.max_bytes or input.max_bytes of the pipelines, or give the broker a larger store (max_file_store, or more free disk): %w",
		ErrConfig, size, err)
}
