package control

import (
	"context"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// BenchmarkSnapshot100k measures what `isle ps` and `isle top` cost the
// node with 100,000 live processes (idle one-page C reactors): a
// Node.Snapshot, and a top frame (snapshot, rates, sort, top 20 and the
// rest added up). As an anchor it reports what spawning those processes
// cost, per process (spawn-ns/proc) and in all (spawn-ms).
//
//	go test -run XXX -bench Snapshot100k -benchtime 20x ./internal/control
func BenchmarkSnapshot100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close(ctx)
	wasm := testwasm.C(b, "testdata/c/tiny.c", "-O2", "-mexec-model=reactor", "-nostdlib",
		"-Wl,--no-entry", "-Wl,-z,stack-size=4096", "-Wl,--initial-memory=65536")
	mod, err := node.LoadModuleFile(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for range n {
		if _, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20}); err != nil {
			b.Fatal(err)
		}
	}
	spawn := time.Since(start)
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s := node.Snapshot(); len(s.Processes) != n {
				b.Fatalf("%d processes", len(s.Processes))
			}
		}
		b.ReportMetric(float64(spawn.Nanoseconds())/n, "spawn-ns/proc")
		b.ReportMetric(float64(spawn.Milliseconds()), "spawn-ms")
	})
	b.Run("top", func(b *testing.B) {
		var t topState
		b.ReportAllocs()
		for b.Loop() {
			if v := t.frame(node, Request{Op: OpTop, Sort: SortFuel}); v.All.Processes != n || len(v.Rows) != DefaultTopN {
				b.Fatalf("%d processes, %d rows", v.All.Processes, len(v.Rows))
			}
		}
	})
}
