package shape

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/testwasm"
)

// realModules builds real programs from the repository's sources: Go
// guests (the largest uses net/http, crypto/tls and encoding/json) and C
// guests, some at -O0, where clang keeps every variable in a local.
func realModules(t *testing.T) map[string][]byte {
	if testing.Short() {
		t.Skip("builds Go and C programs")
	}
	mods := map[string][]byte{}
	for _, dir := range []string{"testdata/go/cat", "testdata/go/httpclient", "testdata/kernels/json",
		"internal/shape/testdata/bigguest"} {
		mods[dir] = testwasm.Read(t, testwasm.Go(t, dir))
	}
	mods["testdata/go/reactor"] = testwasm.Read(t, testwasm.Go(t, "testdata/go/reactor", "-buildmode=c-shared"))
	for _, c := range []struct {
		src   string
		flags []string
	}{
		{"testdata/c/hello.c", []string{"-O2"}},
		{"testdata/c/httpfn.c", []string{"-O0", "-mexec-model=reactor"}},
		{"testdata/kernels/nbody.c", []string{"-O2"}},
		{"testdata/kernels/fannkuch.c", []string{"-O0", "-g"}},
	} {
		mods[c.src+" "+c.flags[0]] = testwasm.Read(t, testwasm.C(t, c.src, c.flags...))
	}
	return mods
}

// TestRealModules checks that the defaults admit real programs.
func TestRealModules(t *testing.T) {
	for name, bin := range realModules(t) {
		start := time.Now()
		err := Check(bin, Limits{})
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m, _ := Measure(bin)
		t.Logf("%s: %d bytes checked in %v: %+v", name, len(bin), took.Round(time.Microsecond), m)
	}
}

// BenchmarkCheckGo checks a real Go program of about 2.6 MB.
func BenchmarkCheckGo(b *testing.B) {
	bin := testwasm.Read(b, testwasm.Go(b, "testdata/go/cat"))
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(bin, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSpecModules checks every spec test module: Check must not panic on
// any, and must admit every one that wazero compiles.
func TestSpecModules(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every spec test module")
	}
	files, err := filepath.Glob(filepath.Join(testwasm.SpecTests(t), "*.wasm"))
	if err != nil || len(files) < 1000 {
		t.Fatalf("expected over 1000 spec test modules, found %d (%v)", len(files), err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	valid := 0
	for _, f := range files {
		bin, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		shapeErr := Check(bin, Limits{})
		compiled, err := rt.CompileModule(ctx, bin)
		if err != nil {
			continue
		}
		_ = compiled.Close(ctx)
		valid++
		if shapeErr != nil {
			t.Errorf("%s: wazero compiles it, but %v", filepath.Base(f), shapeErr)
		}
	}
	t.Logf("%d of %d spec modules compile, and the defaults admit them", valid, len(files))
}
