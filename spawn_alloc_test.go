package isle_test

import (
	"context"
	"testing"

	"github.com/isle-run/isle"
)

// maxSpawnAllocs bounds the heap allocations of spawning a small reactor
// that is granted nothing. main before issue 15's spawn work made 45. A
// reactor born dormant makes isle's 3: the Process and its API handle, and
// its tree (its context lives in the Process; its done and kill channels
// are made only when waited on, and its handle table at its first handle:
// the self handle is made at the first self call). One instantiated in its
// spawn (Config.KeepInstances) adds wazero's instantiation, 5 of whose
// allocations are the system context it builds for every instance (see
// docs/upstream/wazero.md, section 1), and 5 more the global that holds
// a reference to its handler for the dispatcher (internal/kernel,
// dispatch.go).
const (
	maxSpawnAllocs     = 3
	maxKeptSpawnAllocs = 30
)

// TestSpawnAllocations checks that a spawn allocates no more than it
// needs: a regression past maxSpawnAllocs fails here.
func TestSpawnAllocations(t *testing.T) {
	spawnAllocations(t, isle.Config{}, maxSpawnAllocs)
}

// TestSpawnAllocationsKeepInstances does the same for spawns that make
// the instance.
func TestSpawnAllocationsKeepInstances(t *testing.T) {
	spawnAllocations(t, isle.Config{KeepInstances: true}, maxKeptSpawnAllocs)
}

func spawnAllocations(t *testing.T, cfg isle.Config, limit int) {
	if raceDetector {
		t.Skip("the race detector allocates on its own account")
	}
	ctx := context.Background()
	node, err := isle.NewNode(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModuleFile(ctx, tinyReactor(t))
	if err != nil {
		t.Fatal(err)
	}
	const runs = 200
	procs := make([]*isle.Process, 0, runs+1)
	defer func() {
		for _, p := range procs {
			p.Kill()
		}
		for _, p := range procs {
			if _, err := p.Wait(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	var spawnErr error
	allocs := testing.AllocsPerRun(runs, func() {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
		if err != nil {
			spawnErr = err
			return
		}
		procs = append(procs, p)
	})
	if spawnErr != nil {
		t.Fatal(spawnErr)
	}
	t.Logf("%.0f allocations per spawn", allocs)
	if allocs > float64(limit) {
		t.Fatalf("a spawn made %.0f allocations, more than %d", allocs, limit)
	}
}
