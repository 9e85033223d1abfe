package broker

import (
	"context"
	"log/slog"
)

// mochiHandler adapts mochi's logging to a fleet: routine records go to
// debug, and whole packets (payloads up to MaxPacket) are never logged.
//
// mochi v2.7.9 logs at warn level, per connection: "" (error=EOF and the
// like) from the TCP listener whenever a connection ends or is refused, and
// "error processing packet" (with the packet) whenever it cuts a client off.
// With thousands of nodes on mobile links that is constant noise; the
// broker's own hook logs refused connects and denied publishes instead.
// "client store quota reached" (a node's queue is full and messages are
// dropped) stays a warning.
type mochiHandler struct {
	slog.Handler
}

func newMochiHandler(h slog.Handler) mochiHandler { return mochiHandler{h} }

// demoted lists mochi's routine messages, logged at debug.
var demoted = map[string]bool{
	"":                           true,
	"error processing packet":    true,
	"added hook":                 true,
	"attached listener":          true,
	"mochi mqtt starting":        true,
	"mochi mqtt server started":  true,
	"gracefully stopping server": true,
	"mochi mqtt server stopped":  true,
	"stopping hook":              true,
	"system event loop started":  true,
}

func (h mochiHandler) Enabled(ctx context.Context, l slog.Level) bool {
	// The message is not known yet: a demoted record must still reach
	// Handle if debug is on.
	return h.Handler.Enabled(ctx, l) || h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h mochiHandler) Handle(ctx context.Context, r slog.Record) error {
	if demoted[r.Message] && r.Level > slog.LevelDebug {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "pk" && a.Key != "packet" {
			out.AddAttrs(a)
		}
		return true
	})
	if r.Message == "" {
		out.Message = "connection ended"
	}
	return h.Handler.Handle(ctx, out)
}

func (h mochiHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return mochiHandler{h.Handler.WithAttrs(a)}
}

func (h mochiHandler) WithGroup(g string) slog.Handler {
	return mochiHandler{h.Handler.WithGroup(g)}
}
