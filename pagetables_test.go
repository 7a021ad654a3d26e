package isle_test

import (
	"fmt"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// Reactors that touched their memory and died give their page tables back
// to the host: measured from outside, in the node's VmPTE, which RSS does
// not count. (Before, 100,000 dead reactors left 200 MB of them.)
func TestDeadReactorsReturnPageTables(t *testing.T) {
	testwasm.NeedPTReclaim(t)
	node := newNode(t)
	mod := load(t, node, tinyReactor(t))
	ctx := testwasm.Context(t)
	const n = 10000
	start := testwasm.PageTables(t)
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
