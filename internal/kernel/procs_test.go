package kernel

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

// The table agrees with a map by id through random registrations and
// exits, lists in id order, and keeps no page whose processes all ended.
func TestProcTableAgreesWithAMap(t *testing.T) {
	var tab procTable
	model := map[uint64]*Process{}
	r := rand.New(rand.NewPCG(1, 2))
	var next uint64
	for range 20000 {
		if len(model) == 0 || r.IntN(3) > 0 {
			next++
			p := &Process{ID: next}
			tab.put(p)
			model[p.ID] = p
		} else {
			id := r.Uint64N(next) + 1
			if p := model[id]; p != nil {
				tab.remove(p)
				delete(model, id)
			}
			tab.remove(&Process{ID: id}) // not the process under id: no effect
		}
		if id := r.Uint64N(next+10) + 1; tab.get(id) != model[id] {
			t.Fatalf("get(%d) = %v, want %v", id, tab.get(id), model[id])
		}
	}
	if tab.len() != len(model) {
		t.Fatalf("len %d, want %d", tab.len(), len(model))
	}
	var ids []uint64
	for p := range tab.all() {
		ids = append(ids, p.ID)
	}
	if !slices.IsSorted(ids) || len(ids) != len(model) {
		t.Fatalf("all listed %d ids (sorted: %v), want %d in order", len(ids), slices.IsSorted(ids), len(model))
	}
	for p := range tab.all() {
		tab.remove(p)
	}
	if tab.len() != 0 || len(tab.pages) != 0 {
		t.Fatalf("after removing all: len %d, %d pages kept", tab.len(), len(tab.pages))
	}
}

// A Process stays within Go's 768-byte size class. An object of over 512
// bytes that holds pointers carries an 8-byte header in its allocation,
// so that is 760 bytes of fields: at 888, every process was an 896-byte
// allocation, and at 896 and at 912 a 1,024-byte one.
func TestProcessFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Process{}); n > processClass-8 {
		t.Fatalf("Process is %d bytes, past the %d-byte size class with its 8-byte header: move what few processes use behind a pointer (extras)", n, processClass)
	}
	// Many, so that what the runtime allocates meanwhile is a rounding
	// error per process.
	keep := make([]*Process, 20000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = new(Process)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	if per := (after.TotalAlloc - before.TotalAlloc) / uint64(len(keep)); per > processClass {
		t.Fatalf("a Process allocation takes %d bytes, past the %d-byte size class", per, processClass)
	}
}

// processClass is the Go size class a Process allocation fits.
const processClass = 768

// A process removed while the table is listed is not listed after its
// removal, in the page being listed as in a later one: all says it copes
// with removal during the walk, and a caller must not be handed a process
// it already saw go.
func TestProcTableListsNoProcessRemovedDuringTheWalk(t *testing.T) {
	var tab procTable
	procs := make([]*Process, 3*procPageSlots)
	for i := range procs {
		procs[i] = &Process{ID: uint64(i + 1)}
		tab.put(procs[i])
	}
	removed := map[*Process]bool{}
	for p := range tab.all() {
		if removed[p] {
			t.Fatalf("process %d listed after it was removed", p.ID)
		}
		if p.ID%2 == 1 { // its neighbour in the same page, and one a page on
			for _, id := range []uint64{p.ID + 1, p.ID + procPageSlots} {
				if q := tab.get(id); q != nil {
					tab.remove(q)
					removed[q] = true
				}
			}
		}
	}
	if len(removed) == 0 {
		t.Fatal("nothing was removed: the test tests nothing")
	}
}
