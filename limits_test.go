package isle_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// A spawn bomb stops at the per-parent quota and the node's process limit;
// both are errors the guest sees and survives, and the node stays up.
func TestSpawnBombStopsAtLimits(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t), MaxProcesses: 500, SpawnQuota: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(context.Background())
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
	// The children explode in turn, and each reports to the root when its
	// spawns stop. Once all 499 the limit leaves room for have reported,
	// the storm is over: no process is left that could still spawn.
	var reports, spawned, limited int32
	testwasm.WaitFor(t, "the 499 children to report", func() bool {
		r, err := root.Call(ctx, isle.Message{Tag: 4})
		if err != nil {
			t.Fatalf("root during the storm: %v", err)
		}
		reports = int32(binary.LittleEndian.Uint32(r.Data))
		spawned = int32(binary.LittleEndian.Uint32(r.Data[4:]))
		limited = int32(binary.LittleEndian.Uint32(r.Data[8:]))
		return reports >= 499
	})
	if reports != 499 || count+spawned != 499 || limited != 499 {
		t.Fatalf("%d children reported, %d spawned in all, %d stopped by ELIMIT; want 499 of each", reports, count+spawned, limited)
	}
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
	t.Parallel()
	ctx := testwasm.Context(t)
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
	r, err := sender.Call(ctx, isle.Message{Tag: 1})
	if err != nil {
		t.Fatal(err)
	}
	accepted, code := binary.LittleEndian.Uint32(r.Data), int32(binary.LittleEndian.Uint32(r.Data[4:]))
	if accepted != 256 || code != -3 {
		t.Fatalf("non-blocking sends: %d accepted, then %d; want 256 then EFULL (-3)", accepted, code)
	}
	if q := victim.Stats().Queued; q != 256 {
		t.Fatalf("victim holds %d messages; the bound is 256", q)
	}
	// The mailbox holds its bound against every sender: a host send that
	// may not wait (its context is done) finds no room.
	if err := victim.Send(doneContext(), isle.Message{Tag: 1, Data: []byte("x")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a send to the full mailbox: %v, want it refused for want of room", err)
	}
	// The sender has gone on to blocking sends. Nothing ever drains the
	// victim's mailbox, so none can go through; killing the victim ends
	// the one waiting with EGONE, and the sender exits with the number
	// that went through.
	victim.Kill()
	exit, err := sender.Wait(ctx)
	if err != nil || !exit.Normal() {
		t.Fatalf("sender: %v, %v; want exit code 0: no blocking send went through to a full mailbox", exit, err)
	}
}

// doneContext is a context that is already done: a send with it delivers
// if there is room and fails at once if there is none.
func doneContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// The mailbox bound holds in bytes as well as in messages: big messages
// fill it long before 1,024 of them have arrived.
func TestMailboxIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	node := newNode(t)
	victim, err := node.Spawn(ctx, load(t, node, testwasm.WAT(t, "testdata/wat/victim.wat")), isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	sent := 0
	for ; sent < 100; sent++ {
		if err := victim.Send(doneContext(), isle.Message{Tag: 1, Data: big}); errors.Is(err, context.Canceled) {
			break // no room
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if sent != 16 {
		t.Fatalf("a mailbox took %d one-MiB messages; the byte bound is 16 MiB", sent)
	}
	if q := victim.Stats().Queued; q != 16 {
		t.Fatalf("%d queued", q)
	}
}
