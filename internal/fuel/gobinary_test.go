package fuel

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/isle-run/isle/internal/testwasm"
)

const helloGo = `package main

import (
	"fmt"
	"sort"
)

func main() {
	xs := []int{5, 3, 9, 1}
	sort.Ints(xs)
	fmt.Println("hello from isle", xs)
}
`

// goWasm builds a hello-world Go program for GOOS=wasip1 in a temporary
// directory, with -trimpath so that the module is the same from run to run
// and its compiled code can be cached.
func goWasm(t testing.TB) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(helloGo), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoBinary rewrites a real Go program and runs it with a yield that
// fires often.
func TestGoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles a Go program")
	}
	t.Parallel()
	orig := goWasm(t)
	start := time.Now()
	res, err := Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %d bytes into %d in %v", len(orig), len(res.Wasm), time.Since(start))
	ctx := context.Background()
	m := &meter{slice: 10_000}
	// Compiling a Go program takes wazero several times longer under the
	// race detector; a helper without it fills the cache instead.
	if testwasm.RaceEnabled() {
		path := filepath.Join(t.TempDir(), "hello-fuel.wasm")
		if err := os.WriteFile(path, res.Wasm, 0o644); err != nil {
			t.Fatal(err)
		}
		testwasm.PrecompileWazero(t, path)
	}
	r := newRuntimeWithCache(t, ctx, m, testwasm.WazeroCache(t))
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var stdout bytes.Buffer
	_, err = r.InstantiateWithConfig(ctx, res.Wasm, wazero.NewModuleConfig().WithStdout(&stdout).WithStderr(os.Stderr))
	if err != nil && !strings.Contains(err.Error(), "exit_code(0)") {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "hello from isle [1 3 5 9]\n" {
		t.Fatalf("stdout %q", got)
	}
	if m.yields.Load() < 10 {
		t.Fatalf("yield called %d times", m.yields.Load())
	}
	t.Logf("yield called %d times", m.yields.Load())
}

// BenchmarkInstrumentGo measures the rewrite of a Go wasip1 binary.
func BenchmarkInstrumentGo(b *testing.B) {
	orig := goWasm(b)
	b.SetBytes(int64(len(orig)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Instrument(orig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTightLoop measures what metering costs a loop without calls:
// count(n) of testdata/metering.wat, before and after the rewrite, with a
// slice large enough that yield almost never runs.
func BenchmarkTightLoop(b *testing.B) {
	orig := wat(b, "metering")
	for _, v := range []struct {
		name string
		wasm []byte
	}{{"original", orig}, {"instrumented", instrument(b, orig)}} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			m := &meter{slice: 1 << 62}
			r := newRuntime(b, ctx, m)
			mod, err := r.Instantiate(ctx, v.wasm)
			if err != nil {
				b.Fatal(err)
			}
			fn := mod.ExportedFunction("count")
			const n = 10_000_000
			for b.Loop() {
				if _, err := fn.Call(ctx, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iter")
		})
	}
}
