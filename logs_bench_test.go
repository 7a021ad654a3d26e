package isle

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// BenchmarkLogRingAdd is the cost of keeping one record in a full ring,
// where every add evicts, with 64 sources taking turns; the anchor is
// formatting the same record with slog's text handler, which a node whose
// Logger writes text pays for each record anyway.
func BenchmarkLogRingAdd(b *testing.B) {
	rec := LogRecord{Time: time.Now(), Level: "INFO", Message: strings.Repeat("x", 200),
		Attrs: []LogAttr{{"pid", "12345"}, {"name", "worker"}, {"module", "worker"}, {"cap", "log"}}}
	srcs := make([]*int, 64)
	for i := range srcs {
		srcs[i] = new(int)
	}
	b.Run("ring", func(b *testing.B) {
		r := newLogRing()
		for i := range LogRingRecords {
			r.add(rec, srcs[i%len(srcs)])
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.add(rec, srcs[i%len(srcs)])
		}
	})
	b.Run("anchor=slog-text", func(b *testing.B) {
		l := slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			l.LogAttrs(ctx, slog.LevelInfo, rec.Message, slog.Uint64("pid", 12345), slog.String("name", "worker"),
				slog.String("module", "worker"), slog.String("cap", "log"))
		}
	})
}
