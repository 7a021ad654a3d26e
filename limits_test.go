package isle_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// A spawn bomb stops at its tree's process quota, however deep it
// recurses; the quota is an error the guests see and survive. Bombs in
// many trees stop at the node's process limit. The node stays up.
func TestSpawnBombStopsAtLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	node, err := isle.NewNode(ctx, isle.Config{MaxProcesses: 500, SpawnQuota: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	bomb := load(t, node, reactor(t, "testdata/c/bomb.c"))
	spawnBomb := func() *isle.Process {
		t.Helper()
		root, err := node.Spawn(ctx, bomb, isle.Grants{Spawn: map[string]*isle.Module{"bomb": bomb}}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
		return root
	}
	root := spawnBomb()
	// Every descendant explodes in turn; the tree fills to its quota.
	waitFor(t, ctx, "the first bomb's tree to reach its quota of 50", func() bool { return root.Stats().Tree.Processes == 50 })
	if s := root.Stats().Tree; s.PeakProcesses != 50 {
		t.Fatalf("the tree peaked at %d processes; its quota is 50", s.PeakProcesses)
	}
	// Ten more trees would make 550: the node's limit of 500 holds them.
	for range 10 {
		r, err := node.Spawn(ctx, bomb, isle.Grants{Spawn: map[string]*isle.Module{"bomb": bomb}}, isle.Limits{})
		if err != nil {
			break // the node is full: the next trees cannot even start
		}
		if _, err := r.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "the node to reach its limit of 500 processes", func() bool { return node.Processes() == 500 })
	if _, err := node.Spawn(ctx, bomb, isle.Grants{}, isle.Limits{}); err == nil {
		t.Fatal("the host could spawn past the node limit")
	}
	// The first root is still alive and answering: the error was recoverable.
	if _, err := root.Call(ctx, isle.Message{Tag: 1}); err != nil {
		t.Fatalf("root after the storm: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test with what it waited
// for if ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// A flooding sender is held back by the receiver's bounded mailbox, not by
// the node's memory.
func TestFloodIsThrottledByBackpressure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := newNode(t)
	victim, err := node.Spawn(ctx, load(t, node, testwasm.WAT(t, "testdata/wat/victim.wat")), isle.Grants{}, isle.Limits{Mailbox: 256})
	if err != nil {
		t.Fatal(err)
	}
	flood := load(t, node, reactor(t, "testdata/c/flood.c"))
	sender, err := node.Spawn(ctx, flood, isle.Grants{Processes: map[string]*isle.Process{"victim": victim}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := sender.Call(ctx, isle.Message{Tag: 1})
	if err != nil {
		t.Fatal(err)
	}
	accepted, code := binary.LittleEndian.Uint32(r.Data), int32(binary.LittleEndian.Uint32(r.Data[4:]))
	if accepted != 256 || code != -3 {
		t.Fatalf("non-blocking sends: %d accepted, then %d; want 256 then EFULL (-3)", accepted, code)
	}
	// Now the sender is blocked in a send. Give it time to prove it stays
	// blocked: the mailbox holds its bound and memory does not grow.
	time.Sleep(300 * time.Millisecond)
	if q := victim.Stats().Queued; q != 256 {
		t.Fatalf("victim holds %d messages; the bound is 256", q)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 16<<20 {
		t.Fatalf("heap grew by %d bytes while the sender was held back", grown)
	}
	// Killing the victim releases the sender with ErrGone; it then spins
	// on sends to a dead peer, which fail at once, until killed.
	victim.Kill()
	sender.Kill()
	if exit, _ := sender.Wait(ctx); exit.Killed != "killed" {
		t.Fatalf("sender: %v", exit)
	}
}

// The mailbox bound holds in bytes as well as in messages: big messages
// fill it long before 1,024 of them have arrived.
func TestMailboxIsBoundedInBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := newNode(t)
	victim, err := node.Spawn(ctx, load(t, node, testwasm.WAT(t, "testdata/wat/victim.wat")), isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	sent := 0
	for ; sent < 100; sent++ {
		sctx, stop := context.WithTimeout(ctx, 200*time.Millisecond)
		err := victim.Send(sctx, isle.Message{Tag: 1, Data: big})
		stop()
		if err != nil {
			break
		}
	}
	if sent != 16 {
		t.Fatalf("a mailbox took %d one-MiB messages; the byte bound is 16 MiB", sent)
	}
	if q := victim.Stats().Queued; q != 16 {
		t.Fatalf("%d queued", q)
	}
}
