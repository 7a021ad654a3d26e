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

// A spawn bomb stops at the per-parent quota and the node's process limit;
// both are errors the guest sees and survives, and the node stays up.
func TestSpawnBombStopsAtLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node, err := isle.NewNode(ctx, isle.Config{MaxProcesses: 500, SpawnQuota: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	bomb := load(t, node, reactor(t, "testdata/c/bomb.c"))
	root, err := node.Spawn(ctx, bomb, isle.Grants{Spawn: map[string]*isle.Module{"bomb": bomb}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := root.Call(ctx, isle.Message{Tag: 1})
	if err != nil {
		t.Fatal(err)
	}
	count, code := int32(binary.LittleEndian.Uint32(r.Data)), int32(binary.LittleEndian.Uint32(r.Data[4:]))
	if count != 20 || code != -7 {
		t.Fatalf("root spawned %d and stopped with %d; want 20 and ELIMIT (-7)", count, code)
	}
	// The children explode in turn; the node limit holds them.
	deadline := time.Now().Add(10 * time.Second)
	for node.Processes() < 500 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := node.Processes(); n != 500 {
		t.Fatalf("%d processes alive; the limit is 500", n)
	}
	if _, err := node.Spawn(ctx, bomb, isle.Grants{}, isle.Limits{}); err == nil {
		t.Fatal("the host could spawn past the node limit")
	}
	// The root is still alive and answering: the error was recoverable.
	if _, err := root.Call(ctx, isle.Message{Tag: 1}); err != nil {
		t.Fatalf("root after the storm: %v", err)
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
