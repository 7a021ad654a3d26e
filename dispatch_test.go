package isle_test

import (
	"runtime"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// A reactor keeps no call stack between its turns: its handler runs on its
// worker's (internal/kernel, dispatch.go). Measured from outside, in the
// Go heap: what 2,000 reactors hold after one call each, over what they
// held before it, is their instances, not an instance and a 10 KiB stack
// each (when each kept its own engine, this test measured 13.7 KiB a
// reactor; now 2.6).
func TestReactorsKeepNoStackBetweenTurns(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates on its own account")
	}
	ctx := testwasm.Context(t)
	node := newNode(t)
	mod := load(t, node, tinyReactor(t))
	const n = 2000
	procs := make([]*isle.Process, n)
	for i := range procs {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := heap()
	for _, p := range procs {
		if _, err := p.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
	}
	per := float64(heap()-before) / n / 1024
	t.Logf("%.1f KiB of Go heap a reactor after one call", per)
	if per > 8 {
		t.Fatalf("each reactor holds %.1f KiB of Go heap after one call: more than its instance", per)
	}
	runtime.KeepAlive(procs)
}
