package kernel

import (
	"context"
	"errors"
	"testing"

	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/wasm"
)

// A stale handle never names a new right: a slot reused until its
// generations run out is retired, and a closed number is not given again.
func TestHandleNumbersNeverRepeat(t *testing.T) {
	var tab HandleTable
	first, err := tab.Insert(Cap{Kind: capkind.Revoker})
	if err != nil {
		t.Fatal(err)
	}
	tab.Remove(first)
	seen := map[Handle]bool{first: true}
	for i := range 3 * maxGeneration {
		h, err := tab.Insert(Cap{Kind: capkind.Revoker})
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		if seen[h] {
			t.Fatalf("insert %d gave %#x again", i, h)
		}
		seen[h] = true
		if _, ok := tab.Get(first); ok {
			t.Fatalf("insert %d: the first, closed handle names a right again", i)
		}
		tab.Remove(h)
	}
	if tab.Len() != 0 {
		t.Fatalf("%d handles left", tab.Len())
	}
}

// A full table refuses more, and a handle of another table, or 0, is not
// in it.
func TestHandleTableBounds(t *testing.T) {
	var tab HandleTable
	for i := range MaxHandles - 1 {
		if _, err := tab.Insert(Cap{Kind: capkind.Revoker}); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	if _, err := tab.Insert(Cap{Kind: capkind.Revoker}); err != ErrTableFull {
		t.Fatalf("insert into the slot kept for self: %v", err)
	}
	if _, err := tab.insertSelf(Cap{Kind: capkind.Process}); err != nil {
		t.Fatalf("self into the last slot: %v", err)
	}
	if _, err := tab.insertSelf(Cap{Kind: capkind.Process}); err != ErrTableFull {
		t.Fatalf("insert past MaxHandles: %v", err)
	}
	if _, ok := tab.Get(0); ok {
		t.Fatal("handle 0 is in the table")
	}
	var small HandleTable
	h, _ := small.Insert(Cap{Kind: capkind.Revoker})
	if _, ok := small.Get(makeHandle(h.index()+5, 1)); ok {
		t.Fatal("an index past the table is in it")
	}
}

// A reply slot is answered at most once; an abandoned one refuses the
// answer, and an answered one ignores the abandon.
func TestReplySlot(t *testing.T) {
	a := newReplySlot()
	m := NewMessage(1, nil)
	if !a.answer(m) || a.answer(NewMessage(2, nil)) {
		t.Fatal("a slot took no answer, or two")
	}
	a.abandon()
	if a.result() != m {
		t.Fatal("abandon after the answer lost it")
	}
	b := newReplySlot()
	b.abandon()
	if b.answer(m) || b.result() != nil {
		t.Fatal("an abandoned slot took an answer")
	}
	select {
	case <-b.done:
	default:
		t.Fatal("abandon did not wake the caller")
	}
}

// Memory charges walk up to the node and fail whole at any level's limit;
// fuel is reserved from a tree's budget and the unused part returned.
func TestGroupBudgets(t *testing.T) {
	node := &Group{memLimit: 100}
	a := &Group{parent: node, memLimit: 60}
	b := &Group{parent: node}
	if a.charge(50) != nil || b.charge(40) != nil {
		t.Fatal("charges within the limits failed")
	}
	if full := a.charge(20); full != a {
		t.Fatalf("a charge past the tree's limit: %v", full)
	}
	if full := b.charge(20); full != node {
		t.Fatalf("a charge past the node's ceiling: %v", full)
	}
	if now, _ := node.Memory(); now != 90 {
		t.Fatalf("a refused charge left %d charged, want 90", now)
	}
	a.uncharge(50)
	if b.charge(20) != nil {
		t.Fatal("memory given back was not reusable")
	}

	g := &Group{fuelLimit: 1000}
	g.fuel.Store(1000)
	got, ok := g.takeFuel(600)
	if !ok || got != 600 {
		t.Fatalf("took %d, %v", got, ok)
	}
	g.settleFuel(600, 100) // used 100 of 600
	if got, _ := g.takeFuel(2000); got != 900 {
		t.Fatalf("took %d of what was left; want 900", got)
	}
	g.settleFuel(900, 900)
	if _, ok := g.takeFuel(1); ok {
		t.Fatal("fuel from a spent budget")
	}
	if g.FuelSpent() != 1000 {
		t.Fatalf("spent %d, want 1000", g.FuelSpent())
	}
}

// A Load given up on its context leaves its compilation running; closing
// the kernel then must wait for it rather than close wazero's runtime
// under it, which panics and takes the node (seen as isle run's
// "--timeout expired while loading" crashing).
func TestCloseWaitsForACompilationLoadGaveUp(t *testing.T) {
	k, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.Load(ctx, "big", bigModule(1000)); !errors.Is(err, context.Canceled) {
		t.Fatalf("load with a cancelled context: %v", err)
	}
	if err := k.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Load(context.Background(), "after", bigModule(1)); !errors.Is(err, ErrNodeClosed) {
		t.Fatalf("load after close: %v", err)
	}
}

// bigModule is a module of n functions, each a chain of additions, so
// that compiling it takes a while.
func bigModule(n int) []byte {
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{{Params: []wasm.ValType{wasm.I32}, Results: []wasm.ValType{wasm.I32}}}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices(make([]uint32, n)))
	body := []byte{0x00, 0x20, 0x00} // no locals; local.get 0
	for range 200 {
		body = append(body, 0x20, 0x00, 0x6a) // local.get 0; i32.add
	}
	body = append(body, 0x0b)
	code := make([]wasm.Code, n)
	for i := range code {
		code[i] = wasm.Code{Body: body}
	}
	m.Put(wasm.SectionCode, wasm.EncodeCode(code))
	return m.Encode()
}
