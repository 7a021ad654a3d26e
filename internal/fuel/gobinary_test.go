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
func goWasm(t testing.TB) []byte { return goWasmOf(t, helloGo) }

// goWasmOf builds the Go program src as goWasm does.
func goWasmOf(t testing.TB, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
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

// indirectGo calls through interfaces and closures, which Go's wasm port
// compiles to call_indirect, in a loop.
const indirectGo = `package main

import (
	"fmt"
	"sort"
)

type shape interface{ area() int }
type sq struct{ s int }
type rect struct{ w, h int }

func (q sq) area() int   { return q.s * q.s }
func (r rect) area() int { return r.w * r.h }

func main() {
	shapes := []shape{sq{3}, rect{2, 5}, sq{7}, rect{1, 1}}
	total := 0
	for i := 0; i < 2000000; i++ {
		total += shapes[i&3].area()
	}
	xs := make([]int, 30000)
	for i := range xs {
		xs[i] = (i * 7919) % 100003
	}
	sort.Slice(xs, func(a, b int) bool { return xs[a] < xs[b] })
	fmt.Println(total, xs[0])
}
`

// BenchmarkLazyTable measures what a lazy table costs a Go program that
// calls through it all the time, against the same program rewritten
// with its table filled at instantiation (LazyTableMin out of reach); and
// what it saves an instantiation. Each run instantiates the program and
// runs it to exit.
func BenchmarkLazyTable(b *testing.B) {
	orig := goWasmOf(b, indirectGo)
	lazy := instrument(b, orig)
	defer func(n int) { LazyTableMin = n }(LazyTableMin)
	LazyTableMin = 1 << 30
	eager := instrument(b, orig)
	for _, v := range []struct {
		name string
		wasm []byte
	}{{"eager", eager}, {"lazy", lazy}} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			r := newRuntime(b, ctx, &meter{slice: 1 << 40})
			wasi_snapshot_preview1.MustInstantiate(ctx, r)
			c, err := r.CompileModule(ctx, v.wasm)
			if err != nil {
				b.Fatal(err)
			}
			cfg := wazero.NewModuleConfig().WithName("")
			for b.Loop() {
				_, err := r.InstantiateModule(ctx, c, cfg)
				if err != nil && !strings.Contains(err.Error(), "exit_code(0)") {
					b.Fatal(err)
				}
			}
		})
	}
}
