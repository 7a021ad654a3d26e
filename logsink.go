package isle

import (
	"context"
	"fmt"
	"log/slog"
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
// again. Node.Logs reads its ring, which is filled at once.
type logSink struct {
	base slog.Handler // Config.Logger's, for the drops' warning

	mu      sync.Mutex // guards queue, bytes, dropped and closing
	queue   []queuedRecord
	bytes   int
	dropped uint64
	closing bool

	wake     chan struct{} // a record or closing is waiting: capacity 1
	done     chan struct{} // closed when run returns
	progress atomic.Uint64 // records handed to the sink, ever
}

// queuedRecord is a record and the handler (with its attributes and
// groups) it goes to.
type queuedRecord struct {
	h   slog.Handler
	ctx context.Context
	r   slog.Record
}

// Bounds of the records waiting for the sink.
const (
	logSinkRecords = 4096
	logSinkBytes   = 4 << 20
)

// logSinkStall is how long Close waits for a sink that takes nothing.
const logSinkStall = time.Second

func newLogSink(base slog.Handler) *logSink {
	s := &logSink{base: base, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// put queues r for h, or drops it past the bounds. Safe from any
// goroutine; it never blocks on the sink.
func (s *logSink) put(ctx context.Context, h slog.Handler, r slog.Record) {
	size := slogRecordSize(r)
	s.mu.Lock()
	if len(s.queue) >= logSinkRecords || s.bytes+size > logSinkBytes {
		s.dropped++
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, queuedRecord{h: h, ctx: context.WithoutCancel(ctx), r: r.Clone()})
	s.bytes += size
	s.mu.Unlock()
	s.kick()
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
		s.queue, s.bytes, s.dropped = nil, 0, 0
		s.mu.Unlock()
		for _, q := range batch {
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
