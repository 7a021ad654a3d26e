package shape

import (
	"errors"
	"testing"

	"github.com/isle-run/isle/internal/wasm"
)

// FuzzCheck checks that Check and Measure never panic, and that they
// agree: when Measure walks a module without error, Check with some
// limits fails exactly when a field of Measure's result exceeds them, and
// names such a field.
func FuzzCheck(f *testing.F) {
	f.Add(richModule())
	f.Add((&modBuilder{}).fn(body(nest(wasm.OpLoop, 20), brTable(30))).bytes())
	f.Add(loopsLocals(3, 40))
	f.Add(chainedCalls(5, 3))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	small := Limits{ModuleBytes: 4096, CustomSections: 2, Types: 4, TypeArity: 4, Imports: 4,
		Functions: 6, Tables: 2, TableMin: 8, MemoryMinPages: 4, Globals: 2, Exports: 3,
		ElemSegments: 2, ElemSegmentItems: 4, DataSegments: 2, FunctionBytes: 64, Locals: 8,
		Nesting: 4, BrTableTargets: 8, FunctionWork: 200_000, CompileWork: 400_000}
	f.Fuzz(func(t *testing.T, bin []byte) {
		err := Check(bin, small)
		if err != nil && !errors.Is(err, ErrShape) {
			t.Fatalf("error does not wrap ErrShape: %v", err)
		}
		m, merr := Measure(bin)
		if merr != nil {
			if err == nil {
				t.Fatalf("Measure failed (%v) but Check passed", merr)
			}
			return
		}
		var le *LimitError
		over := ""
		mf, sf := m.fields(), small.fields()
		for i := range mf {
			if *mf[i] > *sf[i] {
				over = fieldNames[i]
			}
		}
		switch {
		case err == nil && over != "":
			t.Fatalf("Check passed, but %s is %d, over %d", over, *mf[indexOf(over)], *sf[indexOf(over)])
		case err != nil && (!errors.As(err, &le) || *mf[indexOf(le.Limit)] <= *sf[indexOf(le.Limit)]):
			t.Fatalf("Check failed with %v, but Measure gives %+v", err, m)
		}
	})
}

func indexOf(limit string) int {
	for i, n := range fieldNames {
		if n == limit {
			return i
		}
	}
	return -1
}
