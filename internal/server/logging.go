package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

// requestLog is the server's log handler around the configured one: a
// line logged in a request's context carries its request id (on the
// routes whose context holds the metrics.Access: API, OAuth, console),
// and an error logged after the client went away — its context canceled,
// the store read or the answer abandoned with it — is not the server's
// fault: it is logged at info with client_gone, not as an ERROR.
type requestLog struct{ slog.Handler }

func (h requestLog) Handle(ctx context.Context, r slog.Record) error {
	a := metrics.AccessFrom(ctx)
	gone := r.Level >= slog.LevelError && errors.Is(ctx.Err(), context.Canceled)
	if a == nil && !gone {
		return h.Handler.Handle(ctx, r)
	}
	r = r.Clone()
	if a != nil {
		r.AddAttrs(slog.String("request_id", a.RequestID()))
	}
	if gone {
		if !h.Handler.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		r.Level = slog.LevelInfo
		r.AddAttrs(slog.Bool("client_gone", true))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestLog) WithAttrs(as []slog.Attr) slog.Handler {
	return requestLog{h.Handler.WithAttrs(as)}
}

func (h requestLog) WithGroup(name string) slog.Handler {
	return requestLog{h.Handler.WithGroup(name)}
}
