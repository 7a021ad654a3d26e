package isle_test

import (
	"fmt"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// spawnWritten spawns n reactors of mod and has each write its memory in
// a turn.
func spawnWritten(t *testing.T, node *isle.Node, mod *isle.Module, n int) []*isle.Process {
	t.Helper()
	ctx := testwasm.Context(t)
	procs := make([]*isle.Process, n)
	for i := range procs {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Call(ctx, isle.Message{Tag: 1}); err != nil { // its turn writes its memory
			t.Fatal(err)
		}
		procs[i] = p
	}
	return procs
}

// Reactors that touched their memory and died give their page tables back
// to the host: measured from outside, in the node's VmPTE, which RSS does
// not count. (Before, 100,000 dead reactors left 200 MB of them.) Nothing
// asks for them: the pages dead processes left warm for reuse go back by
// themselves within about 3 s, and their page tables with them. Their
// memory starts at 320 KiB, too big to start small: each has a 1 MiB
// region, two to a page-table page.
func TestDeadReactorsReturnPageTables(t *testing.T) {
	testwasm.NeedPTReclaim(t)
	node := newNode(t)
	wasm := testwasm.C(t, "testdata/c/tiny.c", "-O2", "-mexec-model=reactor", "-nostdlib",
		"-Wl,--no-entry", "-Wl,-z,stack-size=4096", "-Wl,--initial-memory=327680")
	mod := load(t, node, wasm)
	ctx := testwasm.Context(t)
	const n = 10000
	isle.FreeOSMemory() // no warm pages from earlier tests in the baseline
	start := testwasm.PageTables(t)
	procs := spawnWritten(t, node, mod, n)
	live := testwasm.PageTables(t)
	if live-start < n*2/4 { // 1 MiB regions: one 4 KiB page table per two
		t.Fatalf("page tables grew only %d KiB for %d reactors that wrote their memory: the test measures nothing", live-start, n)
	}
	for _, p := range procs {
		p.Kill()
	}
	for _, p := range procs {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var dead int64
	testwasm.WaitFor(t, fmt.Sprintf("the page tables of %d dead reactors (%d KiB at start, %d live) to go back", n, start, live), func() bool {
		dead = testwasm.PageTables(t)
		return dead-start <= (live-start)/8
	})
	t.Logf("page tables: %d KiB at start, %d with %d reactors live, %d after they died", start, live, n, dead)
}

// One-page reactors start in one-page regions, 32 to a page-table page:
// 10,000 that wrote their memory add a quarter of the page tables they
// would in 1 MiB regions (which added 20 MB).
func TestSmallReactorsSharePageTables(t *testing.T) {
	node := newNode(t)
	mod := load(t, node, tinyReactor(t))
	const n = 10000
	isle.FreeOSMemory() // no warm pages from earlier tests to take up
	start := testwasm.PageTables(t)
	spawnWritten(t, node, mod, n)
	live := testwasm.PageTables(t)
	if grew := live - start; grew > n/2 { // KiB: 512 bytes a reactor; 1 MiB regions took 2 KiB
		t.Fatalf("page tables grew %d KiB for %d one-page reactors: more than 512 bytes each", grew, n)
	} else if grew < n/32 { // one 4 KiB page table for every 32 at least
		t.Fatalf("page tables grew only %d KiB for %d reactors that wrote their memory: the test measures nothing", grew, n)
	}
	t.Logf("page tables: %d KiB at start, %d with %d one-page reactors live", start, live, n)
}
