package isle_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// BenchmarkStartup spawns a small C command and waits for it to exit,
// beside fork+exec of the same C source built natively, in one run. It
// reports both and their ratio: the anchor is an OS process.
func BenchmarkStartup(b *testing.B) {
	ctx := context.Background()
	wasm := testwasm.C(b, "testdata/c/true.c", "-O2")
	native := filepath.Join(b.TempDir(), "true")
	if out, err := exec.Command("cc", "-O2", "-o", native, testwasm.Path("testdata/c/true.c")).CombinedOutput(); err != nil {
		b.Fatalf("build native twin: %v\n%s", err, out)
	}
	node, err := isle.NewNode(ctx, isle.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModule(ctx, "true.wasm", testwasm.Read(b, wasm))
	if err != nil {
		b.Fatal(err)
	}

	isleRun := func() {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if exit, err := p.Wait(ctx); err != nil || !exit.Normal() {
			b.Fatalf("exit %v, %v", exit, err)
		}
	}
	forkRun := func() {
		if err := exec.Command(native).Run(); err != nil {
			b.Fatal(err)
		}
	}
	isleRun() // warm up both
	forkRun()

	b.ResetTimer()
	start := time.Now()
	for range b.N {
		isleRun()
	}
	isleNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.StopTimer()
	start = time.Now()
	for range b.N {
		forkRun()
	}
	forkNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)

	b.ReportMetric(isleNs/1e3, "isle-µs/run")
	b.ReportMetric(forkNs/1e3, "fork+exec-µs/run")
	b.ReportMetric(forkNs/isleNs, "x-faster-than-fork+exec")
}
