package dist

import (
	"context"
	"strings"
	"testing"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/testwasm"
)

func loadMod(t *testing.T, s side, name, wasm string) *kernel.Module {
	t.Helper()
	m, err := s.k.Load(context.Background(), name, testwasm.Read(t, wasm))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A member that sends past its window to a full mailbox has its excess
// dropped, and logged once, instead of held without bound.
func TestPeerPastItsWindowIsCut(t *testing.T) {
	_, b := pair(t)
	m := loadMod(t, b, "victim", testwasm.WAT(t, "testdata/wat/victim.wat"))
	victim, err := b.k.Spawn(context.Background(), m, kernel.Spec{Mailbox: 1})
	if err != nil {
		t.Fatal(err)
	}
	pb := b.d.peer("a")
	e, err := pb.export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: victim})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10)
	for range 200 { // 20,000 frames of 64 KiB: 5 windows, 80 window bytes
		var fs [][]byte
		for range 100 {
			w := wireMsg{tag: 1, data: big}
			fs = append(fs, putMsg(putUvarint([]byte{fSend}, e.id), &w))
		}
		b.d.Deliver("a", 1, batch(fs...))
	}
	pb.inMu.Lock()
	held, bytes := pb.heldData, pb.heldBytes
	pb.inMu.Unlock()
	if held > 2*DefaultWindow || bytes > 2*DefaultWindowBytes+(64<<10)+64 {
		t.Fatalf("%d frames, %d bytes held from a member past its window; want at most twice the window", held, bytes)
	}
	if !strings.Contains(b.logged(), "past its flow-control window") {
		t.Errorf("the overrun was not logged:\n%s", b.logged())
	}
}

// A spawner export named on the wire as a process handle resolves to
// nothing: a member cannot turn a spawner into another kind.
func TestSpawnerIsNotAProcess(t *testing.T) {
	a, b := pair(t)
	m := loadMod(t, b, "remote", testwasm.C(t, "testdata/c/remote.c", "-O2", "-mexec-model=reactor"))
	b.d.Publish("workers", kernel.Cap{Kind: capkind.Spawner, Rights: isleapi.RightUse,
		Object: &kernel.Spawner{Modules: map[string]*kernel.Module{"remote": m}}}, nil)
	c, err := a.d.Lookup(testwasm.Context(t), "b", "workers")
	if err != nil {
		t.Fatal(err)
	}
	id := c.Object.(*kernel.RemoteSpawner).ID
	if got, ok := b.d.peer("a").resolve(capRef{kind: capkind.Process, rights: 1, owner: "b", export: id}); ok {
		t.Fatalf("a spawner export named as a process resolved to a %s capability", got.Kind)
	}
}

// A member's frames that no window bounds are bounded while its traffic
// waits: a member past that has its session ended, and nothing it sent
// after is kept. Kills are not held at all: one lands on a process whose
// full mailbox holds up the member's sends, which never reads.
func TestHeldFramesAreBounded(t *testing.T) {
	a, b := pair(t)
	m := loadMod(t, b, "victim", testwasm.WAT(t, "testdata/wat/victim.wat"))
	ctx := testwasm.Context(t)
	spawnHeld := func() (*kernel.Process, *export) {
		victim, err := b.k.Spawn(ctx, m, kernel.Spec{Mailbox: 1})
		if err != nil {
			t.Fatal(err)
		}
		e, err := b.d.peer("a").export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend | isleapi.RightKill, Object: victim})
		if err != nil {
			t.Fatal(err)
		}
		// One send fills the mailbox of 1; the next two wait, and all after.
		b.d.Deliver("a", 1, batch(sendFrame(e.id, 1), sendFrame(e.id, 1), sendFrame(e.id, 1)))
		return victim, e
	}
	victim, e := spawnHeld()
	pb := b.d.peer("a")
	r := a.d.peer("b").remote(e.id)
	for range 1000 {
		r.Kill("again")
	}
	if _, err := victim.Wait(ctx); err != nil {
		t.Fatalf("a kill behind sends to a full mailbox: %v", err)
	}
	if b.d.peer("a") != pb {
		t.Fatal("the session ended over a guest's kills")
	}
	// A member that sends releases of an id it never got, past the bound.
	spawnHeld()
	b.d.Deliver("a", 1, ReleaseBatch(12345, maxHeldControl+1))
	if b.d.peer("a") != nil {
		t.Fatal("a member past the bound on held frames kept its session")
	}
	if !strings.Contains(b.logged(), "broke the protocol") {
		t.Errorf("the session's end was not logged:\n%s", b.logged())
	}
	pb.inMu.Lock()
	n := len(pb.held)
	pb.inMu.Unlock()
	if n != 0 {
		t.Fatalf("%d frames still held from an ended session", n)
	}
}
