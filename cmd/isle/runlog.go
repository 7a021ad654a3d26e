package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/isle-run/isle/internal/services/logsvc"
)

// runLog is the logger of `isle run`: the log capability's records at
// Info and above go to stderr as "NAME[PID]: message", the node's own
// records at Warn and above as slog text.
type runLog struct {
	node slog.Handler
	w    io.Writer
	mu   *sync.Mutex
}

func newRunLog(w io.Writer) *runLog {
	return &runLog{node: slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}), w: w, mu: &sync.Mutex{}}
}

func (h *runLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.node.Enabled(ctx, l)
}

func (h *runLog) Handle(ctx context.Context, r slog.Record) error {
	var name, pid string
	guest := false
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case logsvc.MarkKey:
			guest = a.Value.String() == logsvc.Mark
		case "name":
			name = a.Value.String()
		case "pid":
			pid = a.Value.String()
		}
		return true
	})
	if !guest {
		if !h.node.Enabled(ctx, r.Level) {
			return nil
		}
		return h.node.Handle(ctx, r)
	}
	level := ""
	if r.Level != slog.LevelInfo {
		level = " " + r.Level.String()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := fmt.Fprintf(h.w, "%s[%s]%s: %s\n", printable(name), pid, level, printable(r.Message))
	return err
}

// printable escapes what a guest could use to drive the terminal or forge
// lines of its own: control characters (newlines among them) and invalid
// UTF-8, as Go's quoting writes them.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func (h *runLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &runLog{node: h.node.WithAttrs(as), w: h.w, mu: h.mu}
}

func (h *runLog) WithGroup(name string) slog.Handler {
	return &runLog{node: h.node.WithGroup(name), w: h.w, mu: h.mu}
}
