package kernel

import (
	"errors"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/fuel"
	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// instrumented returns a fixture as the kernel keeps it: fuel-rewritten.
func instrumented(t *testing.T, path string) []byte {
	t.Helper()
	res, err := fuel.Instrument(testwasm.Read(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return res.Wasm
}

// The cut is made only where Go's layout is there to rely on; anything
// else is refused with errNotGoCut and a reason, never guessed at, and
// loads as it is.
func TestGoCutRefusals(t *testing.T) {
	hello := instrumented(t, testwasm.Go(t, "testdata/go/hello"))
	cut := withGoCut(hello)
	if cut == nil {
		t.Fatal("a Go hello gets no cut")
	}
	if cut.loopFuel <= 0 {
		t.Fatalf("the loop's entry fuel read as %d", cut.loopFuel)
	}
	mod, err := wasm.Decode(cut.bin)
	if err != nil {
		t.Fatal(err)
	}
	exports, err := wasm.DecodeExports(mod.Section(wasm.SectionExport).Payload)
	if err != nil || !strings.Contains(exportNames(exports), goResumeExport) || !strings.Contains(exportNames(exports), goCutExport) {
		t.Fatalf("the cut module exports %s (%v)", exportNames(exports), err)
	}

	stripped, _ := wasm.Decode(hello)
	secs := stripped.Sections[:0]
	for _, s := range stripped.Sections {
		if s.ID != wasm.SectionCustom || s.Name != "name" {
			secs = append(secs, s)
		}
	}
	stripped.Sections = secs
	for name, bin := range map[string][]byte{
		"a Go hello linked with -s":       stripped.Encode(),
		"a C command":                     instrumented(t, testwasm.C(t, "testdata/c/hello.c")),
		"names without Go's table layout": instrumented(t, testwasm.WAT(t, "testdata/wat/gofake.wat", "--debug-names")),
	} {
		mod, err := wasm.Decode(bin)
		if err != nil {
			t.Fatal(err)
		}
		if withGoCut(bin) != nil {
			t.Errorf("%s: cut at load", name)
		}
		if _, err = goCutModule(mod); !errors.Is(err, errNotGoCut) {
			t.Errorf("%s: %v, want errNotGoCut", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

func exportNames(exports []wasm.Export) string {
	var names []string
	for _, e := range exports {
		names = append(names, e.Name)
	}
	return strings.Join(names, " ")
}
