package isle

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// LogRecord is one record of the node's log, as Node.Logs keeps it.
type LogRecord struct {
	// Seq numbers the node's records from 1, in the order they were
	// logged.
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"msg"`
	Attrs   []LogAttr `json:"attrs,omitempty"`
}

// LogAttr is one attribute of a LogRecord, its value formatted.
type LogAttr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Attr returns the value of the attribute called key, or "".
func (r LogRecord) Attr(key string) string {
	for _, a := range r.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Bounds of the node's log ring: the records it keeps, and the bytes of
// their messages and attributes, whichever is reached first.
const (
	LogRingRecords = 1024
	LogRingBytes   = 2 << 20
)

// logRing keeps the node's recent records at level Info and above (the
// log capability's among them) for Node.Logs.
type logRing struct {
	mu    sync.Mutex
	recs  []LogRecord // oldest first
	bytes int
	seq   uint64
	more  chan struct{} // closed when a record is added
}

func newLogRing() *logRing { return &logRing{more: make(chan struct{})} }

func (r *logRing) add(rec LogRecord) {
	size := recordSize(rec)
	r.mu.Lock()
	r.seq++
	rec.Seq = r.seq
	r.recs = append(r.recs, rec)
	r.bytes += size
	drop := 0
	for len(r.recs)-drop > LogRingRecords || (r.bytes > LogRingBytes && len(r.recs)-drop > 1) {
		r.bytes -= recordSize(r.recs[drop])
		drop++
	}
	if drop > 0 {
		r.recs = slices.Delete(r.recs, 0, drop)
	}
	close(r.more)
	r.more = make(chan struct{})
	r.mu.Unlock()
}

func recordSize(r LogRecord) int {
	n := len(r.Message) + 64
	for _, a := range r.Attrs {
		n += len(a.Key) + len(a.Value) + 32
	}
	return n
}

// Logs returns the records kept after the one numbered after, oldest
// first, and a channel closed as soon as a newer one is logged: call it
// again then to follow the log. The node keeps its last LogRingRecords
// records at level Info and above, its own and the log capability's,
// whatever Config.Logger's level.
func (n *Node) Logs(after uint64) ([]LogRecord, <-chan struct{}) {
	r := n.tools.logs
	r.mu.Lock()
	defer r.mu.Unlock()
	i, _ := slices.BinarySearchFunc(r.recs, after+1, func(rec LogRecord, seq uint64) int { return cmpU64(rec.Seq, seq) })
	return slices.Clone(r.recs[i:]), r.more
}

// teeHandler sends every record to the configured handler, as far as it
// is enabled, through sink, and those at Info and above to the ring too.
type teeHandler struct {
	next   slog.Handler
	sink   *logSink
	ring   *logRing
	attrs  []LogAttr // from WithAttrs, formatted
	prefix string    // from WithGroup: "group."
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.next.Enabled(ctx, r.Level) {
		h.sink.put(ctx, h.next, r)
	}
	if r.Level >= slog.LevelInfo {
		rec := LogRecord{Time: r.Time, Level: r.Level.String(), Message: r.Message,
			Attrs: slices.Grow(slices.Clip(h.attrs), r.NumAttrs())}
		r.Attrs(func(a slog.Attr) bool {
			rec.Attrs = appendAttr(rec.Attrs, h.prefix, a)
			return true
		})
		h.ring.add(rec)
	}
	return nil
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = slices.Clip(h.attrs)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

// appendAttr flattens a into key=value pairs, groups as dotted keys.
func appendAttr(out []LogAttr, prefix string, a slog.Attr) []LogAttr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			out = appendAttr(out, p, g)
		}
		return out
	}
	if a.Key == "" {
		return out
	}
	return append(out, LogAttr{Key: prefix + a.Key, Value: v.String()})
}
