package linmem

import (
	"math/rand/v2"
	"testing"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/isle-run/isle/internal/testwasm"
)

// Processes that touched their memory and died leave no page tables:
// for a region of its own PMD or more, and for small regions that share
// one, once all of its regions are free.
func TestDeadMemoriesReturnPageTables(t *testing.T) {
	testwasm.NeedPTReclaim(t)
	for _, limit := range []uint64{64 << 10, 1 << 20, 0} { // 32 and 2 per PMD; 64 MiB regions
		checkPageTablesReturned(t, "memories", limit, func(int) experimental.LinearMemory {
			m := (&Allocator{Limit: limit}).Allocate(0, 1<<32)
			m.Reallocate(65536)[0] = 1
			return m
		})
	}
}

// checkPageTablesReturned makes 4096 memories with newMem, each of which
// has touched its memory, and checks that the page tables they grew are
// almost all gone once they are freed.
func checkPageTablesReturned(t *testing.T, what string, limit uint64, newMem func(i int) experimental.LinearMemory) {
	t.Helper()
	const n = 4096
	start := testwasm.PageTables(t)
	mems := make([]experimental.LinearMemory, n)
	for i := range mems {
		mems[i] = newMem(i)
	}
	live := testwasm.PageTables(t)
	for _, m := range mems {
		m.Free()
	}
	Release() // the warm regions' pages, which would go in warmFor
	dead := testwasm.PageTables(t)
	t.Logf("limit %d: %d %s: page tables %d KiB at start, %d live, %d after they were freed", limit, n, what, start, live, dead)
	if grew := live - start; grew < n*int64(pageSize>>10)/64 || dead-start > grew/8 {
		t.Errorf("limit %d: page tables grew %d KiB for %d %s and %d KiB of it stayed after they were freed", limit, grew, n, what, dead-start)
	}
}

// Dropping a whole PMD never touches a region still in use: random
// memories that share PMDs keep their bytes while their neighbours come
// and go, and every recycled one reads zero.
func TestSharedPMDDropKeepsNeighbours(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type live struct {
		m    experimental.LinearMemory
		b    []byte
		mark byte
	}
	var mems []live
	for i := range 20000 {
		if len(mems) > 0 && rng.IntN(2) == 0 {
			j := rng.IntN(len(mems))
			l := mems[j]
			for k := 0; k < len(l.b); k += 4096 {
				if l.b[k] != l.mark {
					t.Fatalf("step %d: a live memory's page %d reads %#x, not its %#x", i, k/4096, l.b[k], l.mark)
				}
			}
			l.m.Free()
			mems[j] = mems[len(mems)-1]
			mems = mems[:len(mems)-1]
			continue
		}
		m := (&Allocator{Limit: 64 << 10}).Allocate(0, 1<<32)
		b := m.Reallocate(65536)
		for k := 0; k < len(b); k += 4096 {
			if b[k] != 0 {
				t.Fatalf("step %d: a recycled memory's page %d reads %#x", i, k/4096, b[k])
			}
			b[k] = byte(i) | 1
		}
		mems = append(mems, live{m, b, byte(i) | 1})
	}
	for _, l := range mems {
		l.m.Free()
	}
}
