package isle_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
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
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/logflood.wat"))
	ctx := testwasm.Context(t)
	g := isle.Grants{Caps: map[string]isle.Capability{"log": isle.LogCap()}}
	// Far longer than any of this takes (milliseconds), far shorter than
	// for ever.
	bounded := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 20*time.Second) }

	flood, err := node.Spawn(ctx, mod, g, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := flood.Send(ctx, isle.Message{Tag: 1 << 30}); err != nil { // 16 TiB of records: for ever
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the flood to pass what the pipe holds", func() bool {
		recs, _ := node.Logs(0)
		return len(recs) > 64
	})
	neighbour, err := node.Spawn(ctx, mod, g, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
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
