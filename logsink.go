package isle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// logSink hands records to Config.Logger's handler from one goroutine of
// its own, so that a sink that stalls (a pipe nobody reads, a slow
// collector) never blocks whoever logs: a guest in log_write, whose kill
// must land, its neighbours, and the kernel. Before, a guest's log_write
// on a node whose log went to a pipe nobody read blocked, and its kill
// with it, and every other guest's log_write and the node's own logging
// behind the same writer (found in review). Past its bounds a record is
// dropped, and the sink is told how many were once it takes records
// again: the newcomer if its source (a process tree, or the node) holds
// the most of the queue, or else the oldest record of the source that
// does, so that one tree flooding the log loses its own records and not
// its neighbours'. Node.Logs reads its ring, which is filled at once.
type logSink struct {
	base slog.Handler // Config.Logger's, for the drops' warning

	mu sync.Mutex // guards everything below
	// queue holds the records waiting, in order; a record dropped from
	// the middle stays as a hole (h == nil) until the queue is taken.
	queue   []queuedRecord
	live    int // records in queue that are not holes
	bytes   int // of the live records
	shares  logShares
	dropped uint64
	closing bool

	wake     chan struct{} // a record or closing is waiting: capacity 1
	done     chan struct{} // closed when run returns
	progress atomic.Uint64 // records handed to the sink, ever
}

// queuedRecord is a record and the handler (with its attributes and
// groups) it goes to.
type queuedRecord struct {
	h    slog.Handler
	ctx  context.Context
	r    slog.Record
	src  any
	size int
}

// Bounds of the records waiting for the sink.
const (
	logSinkRecords = 4096
	logSinkBytes   = 4 << 20
)

// logSinkStall is how long Close waits for a sink that takes nothing.
const logSinkStall = time.Second

func newLogSink(base slog.Handler) *logSink {
	s := &logSink{base: base, shares: logShares{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// put queues r for h, from src, making room past the bounds (see
// logSink). Safe from any goroutine; it never blocks on the sink.
func (s *logSink) put(ctx context.Context, h slog.Handler, r slog.Record, src any) {
	size := slogRecordSize(r)
	s.mu.Lock()
	for s.live > 0 && (s.live >= logSinkRecords || s.bytes+size > logSinkBytes) {
		byCount := s.live >= logSinkRecords
		victim, most := s.shares.largest(byCount)
		if s.shares.holds(src, byCount) >= most {
			s.dropped++
			s.mu.Unlock()
			return
		}
		s.drop(victim)
	}
	if size > logSinkBytes {
		s.dropped++
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, queuedRecord{h: h, ctx: context.WithoutCancel(ctx), r: r.Clone(), src: src, size: size})
	s.live++
	s.bytes += size
	s.shares.add(src, size)
	s.mu.Unlock()
	s.kick()
}

// drop makes the oldest queued record of src (a source, or endedTrees for
// all of theirs, as logShares.largest returns) a hole, and compacts the
// queue once it is more holes than records.
//
// Precondition: s.mu is held, and src has a record queued.
func (s *logSink) drop(src any) {
	i := slices.IndexFunc(s.queue, func(q queuedRecord) bool { return q.h != nil && isVictims(q.src, src) })
	q := &s.queue[i]
	s.shares.remove(q.src, q.size)
	s.live--
	s.bytes -= q.size
	s.dropped++
	*q = queuedRecord{}
	if holes := len(s.queue) - s.live; holes > s.live {
		s.queue = slices.DeleteFunc(s.queue, func(q queuedRecord) bool { return q.h == nil })
	}
}

func (s *logSink) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run hands the queued records to the sink, in order, until close.
func (s *logSink) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && s.dropped == 0 && !s.closing {
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		batch, dropped, closing := s.queue, s.dropped, s.closing
		s.queue, s.live, s.bytes, s.dropped = nil, 0, 0, 0
		clear(s.shares)
		s.mu.Unlock()
		for _, q := range batch {
			if q.h == nil {
				continue // dropped to make room
			}
			_ = q.h.Handle(q.ctx, q.r)
			s.progress.Add(1)
		}
		if dropped > 0 {
			msg := fmt.Sprintf("%d log records were dropped: the log's sink fell behind", dropped)
			_ = s.base.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelWarn, msg, 0))
		}
		if closing && len(batch) == 0 {
			return
		}
	}
}

// close hands what is queued to the sink, and returns once it has, ctx
// is done, or the sink has taken nothing for logSinkStall: then the
// goroutine stays, blocked in the sink, and what is left is lost.
func (s *logSink) close(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.kick()
	stall := time.NewTicker(logSinkStall)
	defer stall.Stop()
	last := s.progress.Load()
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			return
		case <-stall.C:
			now := s.progress.Load()
			if now == last {
				return
			}
			last = now
		}
	}
}

// slogRecordSize estimates what a queued record holds.
func slogRecordSize(r slog.Record) int {
	n := len(r.Message) + 128
	r.Attrs(func(a slog.Attr) bool {
		n += len(a.Key) + 32
		if a.Value.Kind() == slog.KindString {
			n += len(a.Value.String())
		}
		return true
	})
	return n
}
