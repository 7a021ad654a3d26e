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
