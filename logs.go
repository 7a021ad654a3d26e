package isle

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/isle-run/isle/internal/services/logsvc"
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
//
// Each record has a source: the process tree whose log capability wrote
// it, or the node. When the ring is full, the record dropped is the oldest
// of the source holding the most, so a tree that floods the log evicts its
// own records before anyone else's.
type logRing struct {
	mu sync.Mutex // guards everything below
	// recs[start:] are the records kept, oldest first. Evictions are
	// mostly near the oldest end, so they move the records before the
	// evicted one up by one, and the slice is compacted when it fills.
	recs   []ringRecord
	start  int
	bytes  int
	seq    uint64
	shares logShares     // what each source holds of recs[start:]
	more   chan struct{} // closed when a record is added
}

// ringRecord is a kept record and its source.
type ringRecord struct {
	LogRecord
	src  any
	size int
}

func newLogRing() *logRing { return &logRing{more: make(chan struct{}), shares: logShares{}} }

// add keeps rec, from src (nil for the node's own records).
func (r *logRing) add(rec LogRecord, src any) {
	size := recordSize(rec)
	r.mu.Lock()
	r.seq++
	rec.Seq = r.seq
	if len(r.recs) == cap(r.recs) && r.start > 0 {
		n := copy(r.recs, r.recs[r.start:])
		clear(r.recs[n:])
		r.recs, r.start = r.recs[:n], 0
	}
	r.recs = append(r.recs, ringRecord{LogRecord: rec, src: src, size: size})
	r.bytes += size
	r.shares.add(src, size)
	for kept := len(r.recs) - r.start; kept > LogRingRecords || (r.bytes > LogRingBytes && kept > 1); kept-- {
		r.evict(kept > LogRingRecords)
	}
	close(r.more)
	r.more = make(chan struct{})
	r.mu.Unlock()
}

// evict drops the oldest record of the source holding the most records,
// if byCount, or else the most bytes.
//
// Precondition: r.mu is held, and the ring holds a record.
func (r *logRing) evict(byCount bool) {
	victim, _ := r.shares.largest(byCount)
	i := r.start + slices.IndexFunc(r.recs[r.start:], func(rec ringRecord) bool { return isVictims(rec.src, victim) })
	size := r.recs[i].size
	r.shares.remove(r.recs[i].src, size)
	r.bytes -= size
	copy(r.recs[r.start+1:i+1], r.recs[r.start:i])
	r.recs[r.start] = ringRecord{}
	r.start++
}

// logShares is what each source (a process tree, or nil for the node)
// holds of a bounded queue of records, so that the queue can drop from
// whoever holds the most. The zero value is not ready: make it with
// logShares{}. Guarded by its owner's mutex.
type logShares map[any]*logShare

// logShare is what one source holds: records, and their bytes.
type logShare struct{ recs, bytes int }

// add counts a record of size bytes from src.
func (s logShares) add(src any, size int) {
	sh := s[src]
	if sh == nil {
		sh = &logShare{}
		s[src] = sh
	}
	sh.recs++
	sh.bytes += size
}

// remove uncounts a record of size bytes from src.
func (s logShares) remove(src any, size int) {
	sh := s[src]
	sh.recs--
	sh.bytes -= size
	if sh.recs == 0 {
		delete(s, src)
	}
}

// endedTrees stands for every process tree that has ended, pooled as one
// source: short-lived trees, each holding a record or two, would otherwise
// each hold less than a live neighbour, and the neighbour's records would
// go first.
type endedTrees struct{}

// pooled returns the source src's records count toward: endedTrees for a
// tree that has ended (a *kernel.Group), src itself otherwise.
func pooled(src any) any {
	if t, ok := src.(interface{ Ended() bool }); ok && t.Ended() {
		return endedTrees{}
	}
	return src
}

// isVictims reports whether a record from src is victim's, victim being
// what largest returned. A live tree counted alone is matched by identity,
// even if it has ended since; a tree that has ended stays ended. Matching
// a live victim through pooled instead found nothing when its last process
// ended in between, and the eviction panicked with the ring's mutex held,
// blocking every log_write on the node (found in review).
func isVictims(src, victim any) bool {
	if _, ok := victim.(endedTrees); ok {
		return pooled(src) == victim
	}
	return src == victim
}

// largest returns the source holding the most, ended trees pooled as one
// (endedTrees), and how much it holds: records if byCount, or else bytes.
// isVictims tells the victim's records.
func (s logShares) largest(byCount bool) (victim any, most int) {
	most = -1
	ended := 0
	for src, sh := range s {
		n := sh.amount(byCount)
		if pooled(src) != src {
			ended += n
		} else if n > most {
			victim, most = src, n
		}
	}
	if ended > most {
		return endedTrees{}, ended
	}
	return victim, most
}

// holds returns what src holds: records if byCount, or else bytes.
func (s logShares) holds(src any, byCount bool) int { return s[src].amount(byCount) }

// amount is what the share holds, records if byCount or else bytes; a
// source with no share holds nothing.
func (sh *logShare) amount(byCount bool) int {
	switch {
	case sh == nil:
		return 0
	case byCount:
		return sh.recs
	}
	return sh.bytes
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
// again then to follow the log. The node keeps up to LogRingRecords
// records (LogRingBytes of them) at level Info and above, its own and the
// log capability's, whatever Config.Logger's level. When it is full, the
// record it drops is the oldest of whoever holds the most: one process
// tree's log capability, or the node itself, trees that have ended
// counting as one. A tree that floods the log evicts its own records
// first, and the others' last. Records are numbered
// in order, so one dropped from the middle leaves a gap in Seq.
func (n *Node) Logs(after uint64) ([]LogRecord, <-chan struct{}) {
	r := n.tools.logs
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.recs[r.start:]
	i, _ := slices.BinarySearchFunc(kept, after+1, func(rec ringRecord, seq uint64) int { return cmpU64(rec.Seq, seq) })
	out := make([]LogRecord, len(kept)-i)
	for j, rec := range kept[i:] {
		out[j] = rec.LogRecord
	}
	return out, r.more
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
	src := logsvc.Source(ctx)
	if h.next.Enabled(ctx, r.Level) {
		h.sink.put(ctx, h.next, r, src)
	}
	if r.Level >= slog.LevelInfo {
		rec := LogRecord{Time: r.Time, Level: r.Level.String(), Message: r.Message,
			Attrs: slices.Grow(slices.Clip(h.attrs), r.NumAttrs())}
		r.Attrs(func(a slog.Attr) bool {
			rec.Attrs = appendAttr(rec.Attrs, h.prefix, a)
			return true
		})
		h.ring.add(rec, src)
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
