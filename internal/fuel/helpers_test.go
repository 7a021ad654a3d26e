package fuel

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// spectestDir finds the converted spec tests.
func spectestDir(t testing.TB) string { return testwasm.SpecTests(t) }

// wat compiles testdata/name.wat with wat2wasm into a temporary directory.
func wat(t testing.TB, name string, flags ...string) []byte {
	t.Helper()
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm (Debian package wabt) is needed: %v", err)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	args := append([]string{"--debug-names", "-o", out, filepath.Join("testdata", name+".wat")}, flags...)
	cmd := exec.Command(tool, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func instrument(t testing.TB, b []byte) []byte {
	t.Helper()
	res, err := Instrument(b)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return res.Wasm
}

// meter is a host yield that refills the caller's counter with fixed
// slices and counts its calls. Refills add up to the fuel used.
type meter struct {
	slice   int64
	yields  atomic.Int64
	refills atomic.Int64
	limit   int64 // kill the guest after this many yields; 0 means never
}

var errOutOfFuel = errors.New("out of fuel")

// yield is a GoModuleFunc, not a function wazero calls by reflection:
// some tests yield millions of times.
func (m *meter) yield(_ context.Context, mod api.Module, _ []uint64) {
	n := m.yields.Add(1)
	if m.limit > 0 && n > m.limit {
		panic(errOutOfFuel)
	}
	g := mod.ExportedGlobal(GlobalExport).(api.MutableGlobal)
	m.refills.Add(m.slice - int64(g.Get()))
	g.Set(uint64(m.slice))
}

// used is the fuel the guest consumed: every unit refilled, minus what is
// left in the counter.
func (m *meter) used(mod api.Module) int64 {
	return m.refills.Load() - int64(mod.ExportedGlobal(GlobalExport).Get())
}

// newRuntime makes a compiler runtime with the isle:fuel host module.
func newRuntime(t testing.TB, ctx context.Context, m *meter, features ...api.CoreFeatures) wazero.Runtime {
	t.Helper()
	return newRuntimeWithCache(t, ctx, m, "", features...)
}

// newRuntimeWithCache is newRuntime with a compilation cache in dir, or
// none if dir is empty.
func newRuntimeWithCache(t testing.TB, ctx context.Context, m *meter, dir string, features ...api.CoreFeatures) wazero.Runtime {
	t.Helper()
	f := api.CoreFeaturesV2
	for _, x := range features {
		f |= x
	}
	cfg := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(f)
	if dir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cache.Close(ctx) })
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	_, err := withStubs(r.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(m.yield), nil, nil).Export(ImportName)).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// firstLine is the first line of an error, without wazero's stack trace.
func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// eachCodeInstr calls f for every instruction of every body of a code
// section payload, with the body's index and the instruction's offset in
// the payload.
func eachCodeInstr(t testing.TB, code []byte, f func(body int, at uint64, in *wasm.Instr)) {
	t.Helper()
	bodies, err := wasm.DecodeCode(code)
	if err != nil {
		t.Fatal(err)
	}
	var r wasm.Reader
	var in wasm.Instr
	for i, c := range bodies {
		_, start, err := wasm.Locals(c.Body)
		if err != nil {
			t.Fatal(err)
		}
		r.Reset(c.Body)
		r.Seek(start)
		for r.Next(&in) == nil {
			f(i, uint64(c.Offset+in.Pos), &in)
		}
	}
}

// checkMapsBack checks that every instruction of orig maps forward
// through res.Offsets to the same opcode, and back to itself. It returns
// how many it checked.
func checkMapsBack(t *testing.T, orig []byte, res *Result) int {
	t.Helper()
	oldCode, newCode := codePayload(t, orig), codePayload(t, res.Wasm)
	n := 0
	eachCodeInstr(t, oldCode, func(body int, a uint64, in *wasm.Instr) {
		n++
		b := res.Offsets.rewritten(a)
		if back, ok := res.Offsets.Original(b); !ok || back != a {
			t.Errorf("body %d: %v at %#x maps to %#x, which maps back to %#x, %v", body, in.Op, a, b, back, ok)
		} else if newCode[b] != oldCode[a] {
			t.Errorf("body %d: opcode %#x at %#x became %#x at %#x", body, oldCode[a], a, newCode[b], b)
		}
	})
	return n
}
