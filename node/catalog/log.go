package catalog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// newRaftLogger returns an hclog.Logger (what raft and raft-wal take) that
// forwards lines at or above min to l, with attribute component=raft; min
// above slog.LevelError silences Raft.
func newRaftLogger(l *slog.Logger, min slog.Level) hclog.Logger {
	level := hclog.Warn
	switch {
	case min <= slog.LevelDebug-4:
		level = hclog.Trace
	case min <= slog.LevelDebug:
		level = hclog.Debug
	case min <= slog.LevelInfo:
		level = hclog.Info
	case min <= slog.LevelWarn:
		level = hclog.Warn
	case min <= slog.LevelError:
		level = hclog.Error
	default:
		level = hclog.Off
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:            "raft",
		Level:           level,
		Output:          &slogWriter{log: l.With("component", "raft")},
		DisableTime:     true,
		IncludeLocation: false,
	})
}

// slogWriter turns hclog's text lines ("[WARN]  raft: msg: k=v") into slog
// records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		level := slog.LevelInfo
		for prefix, l := range map[string]slog.Level{"[TRACE]": slog.LevelDebug - 4, "[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERROR]": slog.LevelError} {
			if rest, ok := strings.CutPrefix(s, prefix); ok {
				level, s = l, strings.TrimSpace(rest)
				break
			}
		}
		w.log.Log(context.Background(), level, s)
	}
	return len(p), nil
}
