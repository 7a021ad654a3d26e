package isle_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// A spawn bomb stops at its tree's process quota, however deep it
// recurses; the quota is an error the guests see and survive. Bombs in
// many trees stop at the node's process limit. The node stays up.
func TestSpawnBombStopsAtLimits(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t), MaxProcesses: 500, SpawnQuota: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(context.Background())
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
	testwasm.WaitFor(t, "the first bomb's tree to reach its quota of 50", func() bool { return root.Stats().Tree.Processes == 50 })
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
	testwasm.WaitFor(t, "the node to reach its limit of 500 processes", func() bool { return node.Processes() == 500 })
	if _, err := node.Spawn(ctx, bomb, isle.Grants{}, isle.Limits{}); err == nil {
		t.Fatal("the host could spawn past the node limit")
	}
	// The first root is still alive and answering: the error was recoverable.
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

// A peer that fills a reactor's handle table, 16 copies of a handle per
// message, cannot take its self handle from it: the table keeps its last
// slot for self. (From an outside review: once self was made at the first
// call rather than at spawn, self returned 0 here.)
func TestSelfWithAFullTable(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	node := newNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/selffull.wat"))
	victim, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	filler, err := node.Spawn(ctx, mod, isle.Grants{Processes: map[string]*isle.Process{"victim": victim}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := filler.Call(ctx, isle.Message{Tag: 1}); err != nil {
		exit, _ := filler.Wait(ctx)
		t.Fatalf("the filler: %v (%v)", err, exit)
	}
	// Queued after the whole flood: the victim's table is full by then.
	if err := victim.Send(ctx, isle.Message{Tag: 2}); err != nil {
		t.Fatal(err)
	}
	exit, err := victim.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case exit.Kind == api.ExitNormal && exit.Code == 41:
		t.Fatal("the victim's table was not full after the flood: the test proves nothing")
	case exit.Kind != api.ExitNormal || exit.Code != 42:
		t.Fatalf("the victim %v; want exit code 42: self gave a handle that reached it", exit)
	}
}

// self keeps ABI.md's promise, checked from inside a reactor: the same
// handle each call until it is closed or sent away, then a new one.
func TestSelfContract(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	node := newNode(t)
	p, err := node.Spawn(ctx, load(t, node, testwasm.WAT(t, "testdata/wat/selfcontract.wat")), isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, isle.Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	exit, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Kind != api.ExitNormal || exit.Code != 42 {
		t.Fatalf("the reactor %v; want exit code 42 (codes 1 to 5 name the promise broken: testdata/wat/selfcontract.wat)", exit)
	}
}
