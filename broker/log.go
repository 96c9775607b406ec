package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// slogLogger adapts nats-server's Logger interface to log/slog.
//
// Unlike nats-server's own logger, Fatalf never exits the process: the server
// calls it for start-up failures (listener, JetStream) and then returns, so
// the adapter records the first fatal message for Start to report.
type slogLogger struct {
	l   *slog.Logger
	min slog.Level

	mu    sync.Mutex
	fatal error
}

var _ server.Logger = (*slogLogger)(nil)

func newSlogLogger(l *slog.Logger, min slog.Level) *slogLogger {
	if l == nil {
		l = slog.Default()
	}
	return &slogLogger{l: l.With("component", "nats-server"), min: min}
}

func (a *slogLogger) log(level slog.Level, format string, v []any) {
	if level < a.min {
		return
	}
	ctx := context.Background()
	if !a.l.Enabled(ctx, level) {
		return
	}
	a.l.Log(ctx, level, fmt.Sprintf(format, v...))
}

// firstFatal returns the first Fatalf message as an error, or nil.
func (a *slogLogger) firstFatal() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatal
}

func (a *slogLogger) Noticef(format string, v ...any) { a.log(slog.LevelInfo, format, v) }
func (a *slogLogger) Warnf(format string, v ...any)   { a.log(slog.LevelWarn, format, v) }
func (a *slogLogger) Errorf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a *slogLogger) Debugf(format string, v ...any)  { a.log(slog.LevelDebug, format, v) }
func (a *slogLogger) Tracef(format string, v ...any)  { a.log(LevelTrace, format, v) }

func (a *slogLogger) Fatalf(format string, v ...any) {
	a.mu.Lock()
	if a.fatal == nil {
		a.fatal = fmt.Errorf("%s", fmt.Sprintf(format, v...))
	}
	a.mu.Unlock()
	a.log(slog.LevelError, format, v)
}
