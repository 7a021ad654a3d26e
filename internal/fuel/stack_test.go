package fuel

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// TestStackExits checks, for every way out of a function that calls, that
// results are those of the original and that the stack budget is back
// where it was, with no grant asked for.
func TestStackExits(t *testing.T) {
	orig := wat(t, "exits", "--enable-tail-call")
	ctx := context.Background()
	features := api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall
	plain := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features))
	defer plain.Close(ctx)
	o, err := plain.Instantiate(ctx, orig)
	if err != nil {
		t.Fatal(err)
	}
	hs := &hostStack{}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features))
	defer r.Close(ctx)
	m := &meter{slice: 1 << 40}
	if _, err := withHosts(r.NewHostModuleBuilder(ImportModule).NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(m.yield), nil, nil).Export(ImportName),
		hs, &hostTableGrow{}).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := r.Instantiate(ctx, instrument(t, orig))
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		fn   string
		args []uint64
	}{
		{"nested_return", []uint64{0}}, {"nested_return", []uint64{1}}, {"nested_return", []uint64{2}},
		{"br_function", []uint64{0}}, {"br_function", []uint64{1}}, {"br_function", []uint64{2}}, {"br_function", []uint64{3}},
		{"multi", []uint64{0}}, {"multi", []uint64{1}},
		{"tail", []uint64{0}}, {"tail", []uint64{100_000}},
		{"tail_indirect", []uint64{0}}, {"tail_indirect", []uint64{100_000}},
		{"trap", []uint64{0}},
	}
	for _, c := range calls {
		want, werr := o.ExportedFunction(c.fn).Call(ctx, c.args...)
		got, gerr := n.ExportedFunction(c.fn).Call(ctx, c.args...)
		if fmt.Sprint(want, firstLine(werr)) != fmt.Sprint(got, firstLine(gerr)) {
			t.Errorf("%s%v: original %v %v, instrumented %v %v", c.fn, c.args, want, werr, got, gerr)
		}
		if b := stackBudget(n); b != StackInitial {
			t.Errorf("%s%v left the stack budget at %d, want %d", c.fn, c.args, b, StackInitial)
		}
	}
	if k := hs.calls.Load(); k != 0 {
		t.Errorf("stack import called %d times by calls at most 3 deep", k)
	}
	// A trap leaves the frames it charged: the process dies with them.
	if _, err := n.ExportedFunction("trap").Call(ctx, 1); err == nil {
		t.Fatal("trap(1) did not trap")
	}
	if b := stackBudget(n); b >= StackInitial {
		t.Errorf("a trap left the budget at %d", b)
	}
}

// TestStackNameReserved checks that a module exporting the stack
// budget's name is refused, as one exporting the counter's is.
func TestStackNameReserved(t *testing.T) {
	for _, src := range []string{
		`(module (global (export "isle:stack") (mut i32) (i32.const 0)))`,
		`(module (func (export "isle:stack")))`,
	} {
		_, err := Instrument(watSource(t, src))
		if err == nil || !strings.Contains(err.Error(), `named "isle:stack": that export name is reserved`) {
			t.Errorf("%s: got %v, want the reserved name refused", src, err)
		}
	}
}
