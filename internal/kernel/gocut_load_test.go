package kernel

import (
	"context"
	"testing"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// withBuildID returns a fixture with a go:buildid section, as Go's linker
// writes one.
func withBuildID(t *testing.T, path string) []byte {
	t.Helper()
	mod, err := wasm.Decode(testwasm.Read(t, path))
	if err != nil {
		t.Fatal(err)
	}
	mod.Sections = append(mod.Sections, wasm.Section{ID: wasm.SectionCustom, Name: "go:buildid", Payload: []byte("x/y")})
	return mod.Encode()
}

// The cut never makes a module that loaded before it fail to load: a
// Go-looking command with no linear memory (the hook's store needs one)
// runs to exit 0 as it did; one that imports a global (the hook's global
// indices and its own are then off by one) loads as it did, and fails
// only where it always did, at linking.
func TestGoCutKeepsLoadableModulesLoadable(t *testing.T) {
	t.Parallel()
	k := newKernel(t)
	ctx := context.Background()

	nomem := withBuildID(t, testwasm.WAT(t, "testdata/wat/gonomem.wat", "--debug-names"))
	m, err := k.Load(ctx, "gonomem", nomem)
	if err != nil {
		t.Fatalf("a Go-looking command without memory no longer loads: %v", err)
	}
	p, err := k.Spawn(ctx, m, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	exit, err := p.Wait(testwasm.Context(t))
	if err != nil || exit.Kind != api.ExitNormal || exit.Code != 0 {
		t.Fatalf("gonomem: exit %+v, %v", exit, err)
	}

	imp := withBuildID(t, testwasm.WAT(t, "testdata/wat/goimportglobal.wat", "--debug-names"))
	if _, err := k.Load(ctx, "goimportglobal", imp); err != nil {
		t.Fatalf("a Go-looking command that imports a global no longer loads: %v", err)
	}
}

// The cut's hook and export name the globals by their index in the whole
// index space, imports first.
func TestGoCutGlobalIndicesCountImports(t *testing.T) {
	t.Parallel()
	bin := instrumented(t, testwasm.WAT(t, "testdata/wat/goimportglobal.wat", "--debug-names"))
	mod, err := wasm.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	mod.Sections = append(mod.Sections, wasm.Section{ID: wasm.SectionCustom, Name: "go:buildid", Payload: []byte("x/y")})
	cut := withGoCut(mod.Encode())
	if cut == nil {
		return // refusing it is right too
	}
	out, err := wasm.Decode(cut.bin)
	if err != nil {
		t.Fatal(err)
	}
	globals, err := wasm.DecodeGlobals(out.Section(wasm.SectionGlobal).Payload)
	if err != nil {
		t.Fatal(err)
	}
	exports, err := wasm.DecodeExports(out.Section(wasm.SectionExport).Payload)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exports {
		if e.Name == goCutExport && e.Index != uint32(len(globals)) { // one imported global
			t.Fatalf("%s exports global %d; the hook's global is %d (one imported, %d defined)",
				goCutExport, e.Index, len(globals), len(globals))
		}
	}
}

// A Go command that already exports either of the cut's names is left as
// it is (it runs without an image).
func TestGoCutRefusesTakenNames(t *testing.T) {
	t.Parallel()
	hello := instrumented(t, testwasm.Go(t, "testdata/go/hello"))
	for _, add := range []wasm.Export{{Name: goResumeExport, Kind: wasm.KindFunc}, {Name: goCutExport, Kind: wasm.KindGlobal}} {
		mod, err := wasm.Decode(hello)
		if err != nil {
			t.Fatal(err)
		}
		exports, err := wasm.DecodeExports(mod.Section(wasm.SectionExport).Payload)
		if err != nil {
			t.Fatal(err)
		}
		mod.Put(wasm.SectionExport, wasm.EncodeExports(append(exports, add)))
		bin := mod.Encode()
		if withGoCut(bin) != nil {
			t.Errorf("a Go command exporting %s was cut", add.Name)
		}
	}
}
