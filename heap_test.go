package isle_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/isle-run/isle"
)

// Bounds on what an idle reactor costs the garbage collector, per
// process, right after a turn: all of its Go heap (most of it wazero's
// 10 KiB call stack, which holds no pointers, and which the kernel takes
// back once the reactor has had no turn for a second: sweep.go), and
// the part of it the collector must scan. A tiny C reactor measured
// 15.8 KB and 4.9 KB in 30 objects, and 15.1 KB and 4.4 KB since issue
// 15's cuts to the kernel's own records.
const (
	maxLiveHeapPerProcess = 20 << 10
	maxScanHeapPerProcess = 6 << 10
)

// TestHeapPerProcess checks, through runtime/metrics, that an idle
// reactor that has handled a call keeps no more Go heap than it needs,
// and holds no goroutine: a node's every collection marks it.
func TestHeapPerProcess(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates on its own account")
	}
	ctx := context.Background()
	node, err := isle.NewNode(ctx, isle.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModuleFile(ctx, tinyReactor(t))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	procs := make([]*isle.Process, 0, n)
	defer func() {
		for _, p := range procs {
			p.Kill()
		}
	}()
	before := heapFigures()
	for range n {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for _, p := range procs { // a first turn makes its instance
		if _, err := p.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
	}
	after := heapFigures()
	live := float64(after.live-before.live) / n
	scan := float64(after.scan-before.scan) / n
	goroutines := float64(after.goroutines-before.goroutines) / n
	t.Logf("per idle process: %.0f B of live heap, %.0f B of it scannable, %.2f goroutines", live, scan, goroutines)
	if live > maxLiveHeapPerProcess {
		t.Errorf("an idle process keeps %.0f B of Go heap, more than %d", live, maxLiveHeapPerProcess)
	}
	if scan > maxScanHeapPerProcess {
		t.Errorf("an idle process keeps %.0f B of scannable Go heap, more than %d", scan, maxScanHeapPerProcess)
	}
	if goroutines >= 0.5 {
		t.Errorf("an idle process holds %.2f goroutines, want none", goroutines)
	}
	runtime.KeepAlive(procs)
}

type heapFigure struct{ live, scan, goroutines uint64 }

// heapFigures reads, after a full collection, the live heap, its
// scannable part and the goroutine count.
func heapFigures() heapFigure {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/heap:bytes"}, {Name: "/sched/goroutines:goroutines"}}
	metrics.Read(s)
	return heapFigure{s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()}
}

// maxCallAllocs bounds the heap allocations of a call from the Go host to
// a reactor: the reply slot and its channel, the interface value that
// carries the caller's context to the kernel, and (not every time) the
// reply's payload. The request and the reply come from the kernel's pool.
const maxCallAllocs = 4

// TestHostCallAllocations checks that a call from the Go host makes no
// garbage past maxCallAllocs: at a hundred thousand calls a second, what
// each leaves is what the next collection sweeps.
func TestHostCallAllocations(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates on its own account")
	}
	ctx := context.Background()
	node, err := isle.NewNode(ctx, isle.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModuleFile(ctx, tinyReactor(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	var callErr error
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := p.Call(ctx, isle.Message{Tag: 1}); err != nil {
			callErr = err
		}
	})
	if callErr != nil {
		t.Fatal(callErr)
	}
	t.Logf("%.1f allocations per call", allocs)
	if allocs > maxCallAllocs {
		t.Fatalf("a call from the host made %.1f allocations, more than %d", allocs, maxCallAllocs)
	}
}
