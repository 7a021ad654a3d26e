package isle_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// awaitLog waits for a record with message msg in the node's log ring.
func awaitLog(t *testing.T, node *isle.Node, msg string) isle.LogRecord {
	t.Helper()
	ctx := testwasm.Context(t)
	var after uint64
	for {
		recs, more := node.Logs(after)
		for _, r := range recs {
			after = r.Seq
			if r.Message == msg {
				return r
			}
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for log record %q", msg)
		}
	}
}

// Snapshot and Inspect see a tree as its program set it up, and the log
// ring keeps the log capability's records whatever Config.Logger's level.
func TestSnapshotInspectLogs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	mod := load(t, node, testwasm.C(t, "testdata/c/observed.c", "-O2"))
	p, err := node.Spawn(ctx, mod, isle.Grants{Args: []string{"observed", "main"}, Spawn: map[string]*isle.Module{"observed": mod},
		Caps: map[string]isle.Capability{"log": isle.LogCap()}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ready := awaitLog(t, node, "ready")
	if ready.Level != "INFO" || ready.Attr("pid") != strconv.FormatUint(p.ID(), 10) || ready.Attr("name") != mod.Name() ||
		ready.Attr("cap") != "log" {
		t.Fatalf("record %+v", ready)
	}
	s := node.Snapshot()
	if len(s.Processes) != 3 || s.Processes[0].PID != p.ID() || s.Processes[0].Mailbox != 5 || s.Processes[0].State != "waiting" {
		t.Fatalf("snapshot %+v", s.Processes)
	}
	var mem uint64
	for _, q := range s.Processes {
		mem += q.Memory
	}
	if mem != s.Memory || p.Stats().Memory != s.Processes[0].Memory {
		t.Errorf("memory: processes add up to %d, node %d; main %d, its Stats %d", mem, s.Memory, s.Processes[0].Memory, p.Stats().Memory)
	}
	d, err := node.Inspect(p.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Handles) != 5 || len(d.Links) != 1 || len(d.Monitors) != 2 || !slices.Equal(d.Tags, []uint32{9, 9, 9, 9, 9}) {
		t.Fatalf("detail %+v", d)
	}
	watched := s.Processes[2].PID
	if err := node.Kill(watched, "test"); err != nil {
		t.Fatal(err)
	}
	awaitLog(t, node, "child down")
	exits := node.RecentExits()
	if len(exits) != 1 || exits[0].PID != watched || exits[0].Exit != "killed: test" || exits[0].Parent != p.ID() {
		t.Errorf("recent exits %+v", exits)
	}
	if err := node.Kill(watched, "again"); !errors.Is(err, isle.ErrNoProcess) {
		t.Errorf("killing an ended process: %v", err)
	}
	if _, err := node.Inspect(watched); !errors.Is(err, isle.ErrNoProcess) {
		t.Errorf("inspecting an ended process: %v", err)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// Snapshots and inspections race with spawns, messages and exits without
// a data race (run it with -race) and see only live processes.
func TestSnapshotWhileBusy(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, tinyReactor(t))
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var dying []*isle.Process
		for {
			var ps []*isle.Process
			for range 50 {
				p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
				if err != nil {
					t.Error(err)
					return
				}
				_ = p.Send(ctx, isle.Message{Tag: 1})
				ps = append(ps, p)
			}
			for _, p := range ps {
				p.Kill()
			}
			// The batch killed before this one ends before the next is
			// spawned: a spawner that never waited could outrun the
			// workers on a loaded machine and fill the node.
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			for _, p := range dying {
				if _, err := p.Wait(wctx); err != nil {
					t.Errorf("process %d, killed, has not ended within a minute: %v", p.ID(), err)
					cancel()
					return
				}
			}
			cancel()
			dying = ps
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	seen := 0
	for range 50 {
		s := node.Snapshot()
		for _, p := range s.Processes {
			if p.State == "" || p.Module != mod.Name() {
				t.Fatalf("process %+v", p)
			}
			if _, err := node.Inspect(p.PID); err != nil && !errors.Is(err, isle.ErrNoProcess) {
				t.Fatal(err)
			}
			seen++
		}
		node.RecentExits()
	}
	close(stop)
	wg.Wait()
	t.Logf("%d process views", seen)
}

// An idle reactor's fuel in a snapshot is what it has spent, although no
// turn settles it: with KeepInstances the reactor never sleeps (which
// would settle it), so the snapshot must read its counter. Once the
// process has ended, its Stats are exact, and the snapshot taken while it
// idled must match them.
func TestSnapshotShowsAnIdleReactorsFuel(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	node := dormantNode(t, true)
	mod := load(t, node, tinyReactor(t))
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := p.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var fuel int64
	testwasm.WaitFor(t, "the reactor to be idle after its calls", func() bool {
		for _, q := range node.Snapshot().Processes {
			if q.PID == p.ID() && q.State == "idle" {
				fuel = q.Fuel
				return true
			}
		}
		return false
	})
	p.Kill()
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if spent := p.Stats().Fuel; fuel == 0 || fuel != spent {
		t.Fatalf("an idle reactor showed %d fuel; it had spent %d", fuel, spent)
	}
}
