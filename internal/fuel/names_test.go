package fuel

import (
	"reflect"
	"testing"

	"github.com/isle-run/isle/internal/wasm"
)

// nameSubsections returns a module's name subsections by id.
func nameSubsections(t *testing.T, b []byte) map[byte][]byte {
	t.Helper()
	m, err := wasm.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := wasm.DecodeNameSubsections(m.Custom("name").Payload)
	if err != nil {
		t.Fatal(err)
	}
	out := map[byte][]byte{}
	for _, s := range subs {
		out[s.ID] = s.Payload
	}
	return out
}

func TestNamesRenumbered(t *testing.T) {
	t.Parallel()
	orig := wat(t, "tamper_exports") // one imported function, then defined ones
	// Add a global-names subsection, which stays, and an unknown one, which
	// goes.
	m, err := wasm.Decode(orig)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Custom("name")
	globals := wasm.AppendNameMap(nil, []wasm.NameAssoc{{Index: 1, Name: "g1"}})
	s.Payload = append(append([]byte{}, s.Payload...), wasm.EncodeNameSubsections([]wasm.NameSubsection{
		{ID: wasm.NameGlobal, Payload: globals}, {ID: 99, Payload: []byte{1, 2, 3}}})...)
	orig = m.Encode()

	before, after := nameSubsections(t, orig), nameSubsections(t, instrument(t, orig))
	fb, _ := wasm.DecodeNameMap(before[wasm.NameFunction])
	fa, _ := wasm.DecodeNameMap(after[wasm.NameFunction])
	if len(fb) < 5 || len(fa) != len(fb) {
		t.Fatalf("function names: %v before, %v after", fb, fa)
	}
	for i := range fb {
		want := fb[i]
		if want.Index >= 1 { // defined functions move past the injected imports
			want.Index += injectedImports
		}
		if fa[i] != want {
			t.Errorf("function name %v became %v, want %v", fb[i], fa[i], want)
		}
	}
	lb, _ := wasm.DecodeIndirectNameMap(before[wasm.NameLocal])
	la, _ := wasm.DecodeIndirectNameMap(after[wasm.NameLocal])
	if len(lb) == 0 || len(la) != len(lb) {
		t.Fatalf("local names: %v before, %v after", lb, la)
	}
	for i := range lb {
		want := lb[i].Index
		if want >= 1 {
			want += injectedImports
		}
		if la[i].Index != want || !reflect.DeepEqual(la[i].Names, lb[i].Names) {
			t.Errorf("locals of function %d became %v", lb[i].Index, la[i])
		}
	}
	if !reflect.DeepEqual(after[wasm.NameGlobal], globals) {
		t.Errorf("global names changed: %x", after[wasm.NameGlobal])
	}
	if _, ok := after[99]; ok {
		t.Error("an unknown name subsection was kept")
	}
}
