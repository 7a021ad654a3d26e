package kernel

import (
	"runtime"
	"testing"
)

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// A service's linkers leave no room behind once they go: a set that held
// 100,000 and then keeps one holds next to nothing. A plain map kept all
// of it (2.3 MiB here), uncharged, for as long as the service lived.
func TestLinkersGiveBackTheirRoom(t *testing.T) {
	procs := make([]Process, 100_000)
	var s linkers
	before := heapInUse()
	for i := range procs {
		if s.add(&procs[i]) {
			t.Fatal("a new linker was reported as there already")
		}
	}
	full := heapInUse() - before
	for i := 1; i < len(procs); i++ {
		if !s.remove(&procs[i]) {
			t.Fatalf("linker %d was not there to remove", i)
		}
	}
	kept := heapInUse() - before
	if s.len() != 1 || s.remove(&procs[1]) || !s.add(&procs[0]) {
		t.Fatal("the set lost track of who is linked")
	}
	if full < 1<<20 || kept > full/16 {
		t.Errorf("100,000 linkers took %d KiB; one left keeps %d KiB", full>>10, kept>>10)
	}
	runtime.KeepAlive(procs)
}
