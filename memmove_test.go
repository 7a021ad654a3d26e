package isle_test

import (
	"testing"

	isle "github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// A guest's memory moves twice as it grows out of a one-page start (to
// its first region, then past 64 MiB to one of its whole limit): compiled
// code keeps reading what it wrote, new memory reads zero, and processes
// that reuse the regions, concurrently and after, start from zero.
func TestGrowingGuestKeepsItsBytesAcrossMoves(t *testing.T) {
	t.Parallel()
	node := sharedNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/growmove.wat"))
	ctx := testwasm.Context(t)
	for round := range 3 {
		procs := make([]*isle.Process, 4)
		for i := range procs {
			p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 128 << 20})
			if err != nil {
				t.Fatal(err)
			}
			procs[i] = p
		}
		for _, p := range procs {
			exit, err := p.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !exit.Normal() {
				t.Fatalf("round %d: exit %v (its code names the failed check: see growmove.wat)", round, exit)
			}
		}
	}
}

// A small process that ends leaves its pages warm for the next one
// (docs/RATIONALE.md, "Warm pages"): each of a run of processes that
// write all of their memory finds every byte of it zero. Not parallel, so
// that each takes up the pages of the one before it.
func TestWarmPagesCarryNoBytes(t *testing.T) {
	node := sharedNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/scribble.wat"))
	for i := range 50 {
		exit := run(t, node, mod, isle.Grants{}, isle.Limits{})
		if !exit.Normal() {
			t.Fatalf("process %d: %v: exit code 1 is a byte of a process before it", i, exit)
		}
	}
}

// A node whose ceiling is small keeps at most a sixteenth of it warm,
// however much its dead processes wrote: 40 reactors that each wrote 256
// KiB end on a node of 16 MiB, which keeps at most 1 MiB of their pages.
// Not parallel: it counts the host's warm pages.
func TestSmallNodeKeepsLittleWarm(t *testing.T) {
	ctx := testwasm.Context(t)
	node, err := isle.NewNode(ctx, isle.Config{MaxMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/fillreactor.wat"))
	isle.FreeOSMemory()
	var procs []*isle.Process
	for range 40 {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		p.Kill()
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if warm := isle.WarmMemory(); warm > 1<<20 {
		t.Fatalf("%d KiB of dead processes' pages kept warm on a node of 16 MiB; want at most 1 MiB", warm>>10)
	}
}
