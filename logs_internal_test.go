package isle

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// flipTree is a source whose tree ends after its first `live` Ended calls,
// as a *kernel.Group does when its last process exits between the two
// passes an eviction makes (largest, then the search for the victim's
// record).
type flipTree struct{ calls, live int32 }

func (f *flipTree) Ended() bool { return atomic.AddInt32(&f.calls, 1) > f.live }

func catch(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// An eviction drops a record of the source it counted as the largest,
// even when that tree ends between the count and the search for its
// record. Before, the search matched ended trees then, found nothing, and
// add panicked with the ring's mutex held: every later log_write on the
// node blocked for ever (found in review).
func TestRingEvictsTheVictimItCounted(t *testing.T) {
	r := newLogRing()
	tree := &flipTree{live: 1 << 30}
	for range LogRingRecords {
		r.add(LogRecord{Message: "x"}, tree)
	}
	// The next add evicts: largest calls Ended once (live), the search
	// calls it again (ended).
	tree.calls, tree.live = 0, 1
	p := catch(func() { r.add(LogRecord{Message: "y"}, nil) })
	if p != nil {
		locked := !r.mu.TryLock()
		t.Fatalf("logRing.add panicked (%v); ring mutex still held: %v", p, locked)
	}
}

// The same for the sink's queue: put dropped nothing it could find.
func TestSinkDropsTheVictimItCounted(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	s := &logSink{base: slog.NewTextHandler(discard{}, nil), shares: logShares{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h := blockingHandler{block}
	tree := &flipTree{live: 1 << 30}
	ctx := context.Background()
	for range logSinkRecords {
		s.put(ctx, h, slog.NewRecord(time.Now(), slog.LevelInfo, "x", 0), tree)
	}
	tree.calls, tree.live = 0, 1
	p := catch(func() { s.put(ctx, h, slog.NewRecord(time.Now(), slog.LevelInfo, "y", 0), nil) })
	if p != nil {
		locked := !s.mu.TryLock()
		t.Fatalf("logSink.put panicked (%v); sink mutex still held: %v", p, locked)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

type blockingHandler struct{ c chan struct{} }

func (blockingHandler) Enabled(context.Context, slog.Level) bool    { return true }
func (b blockingHandler) Handle(context.Context, slog.Record) error { <-b.c; return nil }
func (b blockingHandler) WithAttrs([]slog.Attr) slog.Handler        { return b }
func (b blockingHandler) WithGroup(string) slog.Handler             { return b }
