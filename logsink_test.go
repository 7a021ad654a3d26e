package isle_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// A node whose log goes to a pipe nobody reads keeps working: a guest
// writing record after record with log_write is killed, a neighbour's
// log_write returns, and the node closes. Before, the first write past
// the pipe's 64 KiB blocked in the sink's writer: the kill never landed,
// and every other log_write waited behind it.
func TestLogWriteToAStalledSink(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	cfg := nodeConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(w, nil))
	node, err := isle.NewNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testwasm.Context(t)
	spawn := logFlooders(t, node)
	// Far longer than any of this takes (milliseconds), far shorter than
	// for ever.
	bounded := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 20*time.Second) }

	flood := spawn(isle.Limits{})
	if err := flood.Send(ctx, isle.Message{Tag: 1 << 30}); err != nil { // 16 TiB of records: for ever
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the flood to pass what the pipe holds", func() bool {
		recs, _ := node.Logs(0)
		return len(recs) > 64
	})
	neighbour := spawn(isle.Limits{})
	cctx, cancel := bounded()
	defer cancel()
	if _, err := neighbour.Call(cctx, isle.Message{Tag: 1}); err != nil {
		t.Fatalf("a neighbour's one log_write beside the flood: %v", err)
	}
	flood.Kill()
	wctx, cancel := bounded()
	defer cancel()
	if _, err := flood.Wait(wctx); err != nil {
		t.Fatalf("the kill of a guest writing to a stalled log: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- node.Close(context.Background()) }()
	select {
	case err := <-closed:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the node had not closed 20 s after its log's sink stalled")
	}
}

// gatedHandler holds every record until its gate opens, then keeps the
// pid of each and the message of each warning.
type gatedHandler struct {
	gate     chan struct{}
	mu       sync.Mutex
	pids     map[string]int
	warnings []string
}

// dropped sums the records the warnings say were dropped.
//
// Precondition: h.mu is held.
func (h *gatedHandler) dropped() (n int) {
	for _, w := range h.warnings {
		var d int
		if _, err := fmt.Sscanf(w, "%d log records were dropped", &d); err == nil {
			n += d
		}
	}
	return n
}

func (h *gatedHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *gatedHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *gatedHandler) WithGroup(string) slog.Handler            { return h }
func (h *gatedHandler) Handle(_ context.Context, r slog.Record) error {
	<-h.gate
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level == slog.LevelWarn {
		h.warnings = append(h.warnings, r.Message)
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "pid" {
			h.pids[a.Value.String()]++
		}
		return true
	})
	return nil
}

// A tree that floods a slow sink loses its own records, not a
// neighbour's: while the sink is stalled, a flood of 4,000 records of 16
// KiB overflows its queue of 4 MiB, and the neighbour's 3 records, written
// in the middle of it, still reach the sink. Before, the queue dropped
// whatever came once it was full, the neighbour's records among them.
func TestLogFloodDropsItsOwnRecordsFromTheSink(t *testing.T) {
	h := &gatedHandler{gate: make(chan struct{}), pids: map[string]int{}}
	cfg := nodeConfig(t)
	cfg.Logger = slog.New(h)
	node, err := isle.NewNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(context.Background()) })
	ctx := testwasm.Context(t)
	spawn := logFlooders(t, node)
	flood, neighbour := spawn(isle.Limits{}), spawn(isle.Limits{})
	for _, c := range []struct {
		p   *isle.Process
		tag uint32
	}{{flood, 2000}, {neighbour, 3}, {flood, 2000}} {
		if _, err := c.p.Call(ctx, isle.Message{Tag: c.tag}); err != nil {
			t.Fatal(err)
		}
	}
	close(h.gate)
	// Every record reaches the sink or is counted in a warning. Waiting for
	// the first warning alone was not enough: a sink slow to take its
	// first batch reports the drops of that batch while the neighbour's
	// records are still queued behind it.
	got, flooded := 0, 0
	testwasm.WaitFor(t, "the sink to be given or told of all 4,003 records", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		got, flooded = h.pids[strconv.FormatUint(neighbour.ID(), 10)], h.pids[strconv.FormatUint(flood.ID(), 10)]
		return got+flooded+h.dropped() >= 4003
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	t.Logf("the sink got %d of the flood's 4,000 records; %d were dropped", flooded, h.dropped())
	if got != 3 {
		t.Errorf("the sink got %d of the neighbour's 3 records beside a flood", got)
	}
	if flooded == 0 || flooded >= 4000 {
		t.Errorf("the sink got %d of the flood's 4,000 records", flooded)
	}
}
