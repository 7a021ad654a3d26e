package isle_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// BenchmarkRoundTrip measures one round trip between two C reactors
// trading a 4-byte message, all inside the node.
func BenchmarkRoundTrip(b *testing.B) { benchRoundTrip(b, isle.Config{}) }

// benchRoundTrip runs BenchmarkRoundTrip's workload on a node made with cfg.
func benchRoundTrip(b *testing.B, cfg isle.Config) {
	ctx := context.Background()
	node, err := isle.NewNode(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModuleFile(ctx, reactor(b, "testdata/c/pingpong.c"))
	if err != nil {
		b.Fatal(err)
	}
	p, err := node.Spawn(ctx, mod, isle.Grants{Spawn: map[string]*isle.Module{"pingpong": mod}}, isle.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	start := func(n int) {
		if _, err := p.Call(ctx, isle.Message{Tag: 1, Data: binary.LittleEndian.AppendUint32(nil, uint32(n))}); err != nil {
			b.Fatal(err)
		}
	}
	start(1000) // warm up: spawns the peer
	b.ResetTimer()
	start(b.N)
}

// BenchmarkSpawnReactor measures spawning a small C reactor from Go.
func BenchmarkSpawnReactor(b *testing.B) {
	ctx := context.Background()
	node, err := isle.NewNode(ctx, isle.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModuleFile(ctx, tinyReactor(b))
	if err != nil {
		b.Fatal(err)
	}
	// Spawn in batches of 1,000 live processes, killing each batch off the
	// clock, so the figure is a spawn into a node of modest size.
	const batch = 1000
	procs := make([]*isle.Process, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
		if len(procs) == batch || i == b.N-1 {
			b.StopTimer()
			for _, p := range procs {
				p.Kill()
			}
			for _, p := range procs {
				p.Wait(ctx)
			}
			procs = procs[:0]
			b.StartTimer()
		}
	}
}

// tinyReactor builds testdata/c/tiny.c as a one-page reactor without libc.
func tinyReactor(t testing.TB) string {
	return testwasm.C(t, "testdata/c/tiny.c", "-O2", "-mexec-model=reactor", "-nostdlib",
		"-Wl,--no-entry", "-Wl,-z,stack-size=4096", "-Wl,--initial-memory=65536")
}

// BenchmarkSpawnExitReactor measures the whole life of a small C reactor
// that never runs: spawn, kill and the teardown its exit does.
func BenchmarkSpawnExitReactor(b *testing.B) {
	ctx := context.Background()
	node, err := isle.NewNode(ctx, isle.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModuleFile(ctx, tinyReactor(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		p.Kill()
		if _, err := p.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
