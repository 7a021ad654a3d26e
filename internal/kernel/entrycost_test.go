package kernel

import (
	"runtime"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// heapAlloc is the live heap after a full collection.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestEntryCostsCoverTheHeap checks the per-entry charges of handles,
// monitors and links against what the Go heap holds for them, measured
// at sizes from a few hundred entries to the most a process may hold:
// a charge below the heap's would let a process hoard uncharged.
func TestEntryCostsCoverTheHeap(t *testing.T) {
	if testwasm.RaceEnabled() {
		t.Skip("the race detector allocates on its own account")
	}
	const slack = 16 << 10 // what else the heap may do meanwhile
	targets := make([]*Service, MaxLinks)
	for i := range targets {
		targets[i] = new(Service)
	}
	for _, n := range []int{300, 5000, 40000, MaxMonitors} {
		var tab HandleTable
		h0 := heapAlloc()
		for range min(n, MaxHandles-1) {
			if _, err := tab.Insert(Cap{}); err != nil {
				t.Fatal(err)
			}
		}
		if held, charged := heapAlloc()-h0, int64(cap(tab.entries))*tableEntrySize; held > charged+slack {
			t.Errorf("%d handles: the heap holds %d bytes, a table of %d slots is charged %d", n, held, cap(tab.entries), charged)
		}
		runtime.KeepAlive(&tab)

		h0 = heapAlloc()
		watching := map[uint32]*watch{}
		for i := range n {
			watching[uint32(i+1)] = &watch{ref: uint32(i + 1)}
		}
		if held := heapAlloc() - h0; held > int64(n)*monitorCost+slack {
			t.Errorf("%d monitors: the heap holds %d bytes, %.0f each; they are charged %d each", n, held, float64(held)/float64(n), monitorCost)
		}
		runtime.KeepAlive(watching)

		h0 = heapAlloc()
		links := map[Target]struct{}{}
		for _, q := range targets[:n] {
			links[q] = struct{}{}
		}
		if held := heapAlloc() - h0; held > int64(n)*linkCost+slack {
			t.Errorf("%d links: the heap holds %d bytes, %.0f each; they are charged %d each", n, held, float64(held)/float64(n), linkCost)
		}
		runtime.KeepAlive(links)
	}
}

// A process's own table finds it as its owner, to charge it; a table of
// its own charges no one.
func TestHandleTableOwner(t *testing.T) {
	p := &Process{}
	p.handles.owned = true
	if got := p.handles.owner(); got != p {
		t.Fatalf("the table's owner is %p, want its process %p", got, p)
	}
	var tab HandleTable
	if got := tab.owner(); got != nil {
		t.Fatalf("a table no process holds has owner %p", got)
	}
}
