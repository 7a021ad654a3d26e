package fuel

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// frameShape is a module whose function $f (the first defined) recurses
// without end, counting its depth in the exported global "depth".
type frameShape struct {
	name string
	src  string
}

// recursion builds a shape: $f takes params and returns results of type
// typ, keeps locals of that type and operands values on the operand
// stack across its recursive call, and redefines every local redefs times
// around as many more calls.
func recursion(params, results int, typ string, locals, operands, redefs int) frameShape {
	var b strings.Builder
	fmt.Fprintf(&b, "(module (global $d (export \"depth\") (mut i32) (i32.const 0))\n(func $f (param%s) (result%s)",
		strings.Repeat(" "+typ, params), strings.Repeat(" "+typ, results))
	if locals > 0 {
		fmt.Fprintf(&b, " (local%s)", strings.Repeat(" "+typ, locals))
	}
	b.WriteString("\n global.get $d i32.const 1 i32.add global.set $d\n")
	for i := range locals {
		fmt.Fprintf(&b, " global.get $d i32.const %d i32.add %s local.set %d\n", i, fromI32(typ), params+i)
	}
	for range operands {
		fmt.Fprintf(&b, " global.get $d %s\n", fromI32(typ))
	}
	for r := 0; r <= redefs; r++ {
		for i := range params {
			fmt.Fprintf(&b, " local.get %d\n", i)
		}
		b.WriteString(" call $f\n")
		b.WriteString(strings.Repeat(" "+addOf(typ)+"\n", max(results-1, 0)))
		if r < redefs && results > 0 {
			for i := range locals {
				fmt.Fprintf(&b, " local.get %d %s %s local.set %d\n", params+i, constOf(typ, 1), addOf(typ), params+i)
			}
			b.WriteString(" drop\n")
		}
	}
	if results == 0 {
		b.WriteString(" " + constOf(typ, 0) + "\n")
	}
	b.WriteString(strings.Repeat(" "+addOf(typ)+"\n", operands))
	for i := range locals {
		fmt.Fprintf(&b, " local.get %d %s\n", params+i, addOf(typ))
	}
	if results == 0 {
		b.WriteString(" drop\n")
	}
	b.WriteString(strings.Repeat(" local.get 0\n", max(results-1, 0)))
	b.WriteString(")\n(func (export \"run\")")
	for i := range params {
		b.WriteString(" " + constOf(typ, i))
	}
	b.WriteString(" call $f" + strings.Repeat(" drop", results) + "))\n")
	name := fmt.Sprintf("%d %s params, %d results, %d locals, %d operands, %d redefinitions",
		params, typ, results, locals, operands, redefs)
	return frameShape{name: name, src: b.String()}
}

func fromI32(typ string) string {
	return map[string]string{"i32": "", "i64": "i64.extend_i32_u", "f64": "f64.convert_i32_u", "v128": "i32x4.splat"}[typ]
}

func constOf(typ string, v int) string {
	if typ == "v128" {
		return fmt.Sprintf("v128.const i32x4 %d 1 2 3", v)
	}
	return fmt.Sprintf("%s.const %d", typ, v)
}

func addOf(typ string) string {
	if typ == "v128" {
		return "i32x4.add"
	}
	return typ + ".add"
}

// recursive builds a $f that counts its depth, runs body, recurses, and
// reads its n i64 locals after the call, so that every local defined in
// body lives across it. With counter, $f has an i32 local $i ahead of
// them. body gets the index of the first i64 local.
func recursive(n int, counter bool, body func(b *strings.Builder, first int)) string {
	var b strings.Builder
	first, i := 1, ""
	if counter {
		first, i = 2, "(local $i i32)"
	}
	fmt.Fprintf(&b, "(module (global $d (export \"depth\") (mut i32) (i32.const 0))\n(func $f (param i32) (result i64) %s(local%s)\n",
		i, strings.Repeat(" i64", n))
	b.WriteString(" global.get $d i32.const 1 i32.add global.set $d\n")
	body(&b, first)
	b.WriteString(" local.get 0 call $f\n")
	for l := range n {
		fmt.Fprintf(&b, " local.get %d i64.add\n", l+first)
	}
	b.WriteString(")\n(func $g)\n(func (export \"run\") i32.const 1 call $f drop))\n")
	return b.String()
}

// nestedMerges builds the shape that makes the most merge values of a
// small body: n locals defined inside d nested ifs, each if followed by a
// call, all read after the recursive call. Every local gets a merge value
// at every level, live across the calls after it.
func nestedMerges(n, d int) frameShape {
	src := recursive(n, false, func(b *strings.Builder, first int) {
		b.WriteString(strings.Repeat(" local.get 0 if\n", d))
		for i := range n {
			fmt.Fprintf(b, " global.get $d i64.extend_i32_u i64.const %d i64.add local.set %d\n", i, i+first)
		}
		b.WriteString(strings.Repeat(" end call $g\n", d))
	})
	return frameShape{name: fmt.Sprintf("%d locals defined in %d nested ifs", n, d), src: src}
}

// redefine writes the redefinition of n i64 locals from first on.
func redefine(b *strings.Builder, n, first int) {
	for i := range n {
		fmt.Fprintf(b, " local.get %d i64.const %d i64.add local.set %d\n", i+first, i, i+first)
	}
}

// loopCalls builds a loop that calls once per iteration and redefines n
// locals, then recurses.
func loopCalls(n int) frameShape {
	src := recursive(n, true, func(b *strings.Builder, first int) {
		b.WriteString(" (loop $l call $g\n")
		redefine(b, n, first)
		b.WriteString(" (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 3))))\n")
	})
	return frameShape{name: fmt.Sprintf("loop with a call redefining %d locals", n), src: src}
}

// loopNest builds k nested loops, each with a result, that call and
// redefine n locals in the innermost, then recurses: the loops' yields
// are hoisted, which adds constructs where the locals merge.
func loopNest(k, n int) frameShape {
	src := recursive(n, true, func(b *strings.Builder, first int) {
		b.WriteString(strings.Repeat(" (drop (loop (result i32)\n", k))
		b.WriteString(" call $g\n")
		redefine(b, n, first)
		b.WriteString(" (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 3))) (local.get $i)\n")
		b.WriteString(" ))" + strings.Repeat(" (local.get $i) ))", k-1))
	})
	return frameShape{name: fmt.Sprintf("%d nested loops with results, a call redefining %d locals", k, n), src: src}
}

// indirect recurses through call_indirect with many arguments.
func indirect(params int) frameShape {
	var b strings.Builder
	p := strings.Repeat(" i64", params)
	fmt.Fprintf(&b, "(module (global $d (export \"depth\") (mut i32) (i32.const 0))\n(type $t (func (param%s) (result i64)))\n(table 1 funcref)\n(elem (i32.const 0) $f)\n", p)
	fmt.Fprintf(&b, "(func $f (type $t)\n global.get $d i32.const 1 i32.add global.set $d\n")
	for i := range params {
		fmt.Fprintf(&b, " local.get %d\n", i)
	}
	b.WriteString(" i32.const 0 call_indirect (type $t)\n")
	for i := range params {
		fmt.Fprintf(&b, " local.get %d i64.add\n", i)
	}
	b.WriteString(")\n(func (export \"run\")" + strings.Repeat(" i64.const 1", params) + " call $f drop))\n")
	return frameShape{name: fmt.Sprintf("call_indirect with %d i64 params", params), src: b.String()}
}

func frameShapes() []frameShape {
	return []frameShape{
		recursion(0, 0, "i32", 0, 0, 0),
		recursion(1, 1, "i32", 0, 0, 0),
		recursion(8, 1, "i64", 0, 0, 0),
		recursion(20, 1, "i64", 0, 0, 0),
		recursion(50, 1, "i64", 0, 0, 0),
		recursion(1, 20, "i64", 0, 0, 0),
		recursion(1, 1, "i64", 10, 0, 0),
		recursion(1, 1, "i64", 50, 0, 0),
		recursion(1, 1, "i64", 200, 0, 0),
		recursion(1, 1, "f64", 50, 0, 0),
		recursion(1, 1, "v128", 50, 0, 0),
		recursion(1, 1, "i64", 0, 50, 0),
		recursion(1, 1, "i64", 0, 200, 0),
		recursion(1, 1, "v128", 0, 50, 0),
		recursion(1, 1, "i64", 20, 0, 10),
		recursion(1, 1, "i64", 50, 0, 20),
		recursion(1, 1, "v128", 20, 0, 10),
		nestedMerges(10, 10),
		nestedMerges(30, 30),
		loopCalls(40),
		loopNest(8, 40),
		indirect(30),
	}
}

// wazeroStackAtOverflow is the length of wazero's call stack when it
// refuses to grow it further, for a function whose prologue asks for
// required bytes. It follows wazero v1.12.0's callEngine: a first stack of
// 10240 bytes, grown to 2×len+required+16 while len <= 50,000,000.
func wazeroStackAtOverflow(required int64) int64 {
	l := int64(10240)
	for l <= 50_000_000 {
		l = 2*l + required + 16
	}
	return l
}

// realFrame measures the bytes of wazero call stack one activation of a
// shape's $f takes: the stack length at wazero's overflow over the depth
// reached. The stack also holds the first call's frames, so this errs
// above the truth, by less than a byte.
//
// With instrumented, it measures the module's rewrite, which is what
// runs: the fuel host refills without end and the stack import grants
// whatever is asked, so only wazero's own overflow stops the recursion.
func realFrame(t *testing.T, wasm []byte, instrumented bool) (int64, int64) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	defer r.Close(ctx)
	if instrumented {
		wasm = instrument(t, wasm)
		m := &meter{slice: 1 << 50}
		_, err := r.NewHostModuleBuilder(ImportModule).
			NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(m.yield), nil, nil).Export(ImportName).
			NewFunctionBuilder().WithFunc(func(_ context.Context, mod api.Module) {
			mod.ExportedGlobal(StackGlobalExport).(api.MutableGlobal).Set(1 << 30)
		}).Export(StackImportName).
			NewFunctionBuilder().WithFunc(func(context.Context, uint32) uint32 { return 1 }).Export(TableGrowImportName).
			Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	mod, err := r.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mod.ExportedFunction("run").Call(ctx)
	if err == nil || !strings.Contains(err.Error(), "stack overflow") {
		t.Fatalf("endless recursion ended with %v, want wazero's stack overflow", err)
	}
	depth := int64(uint32(mod.ExportedGlobal("depth").Get()))
	// The function's prologue asks for its frame and a little more.
	frame := wazeroStackAtOverflow(0) / depth
	for range 4 {
		frame = (wazeroStackAtOverflow(frame+32) + depth - 1) / depth
	}
	return frame, depth
}

// rewritten returns the module state after the rewrite of b's code.
func rewritten(t testing.TB, b []byte) *module {
	t.Helper()
	mod, err := decodeModule(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := mod.validate(); err != nil {
		t.Fatal(err)
	}
	mod.plan()
	if _, _, err := mod.rewriteCode(); err != nil {
		t.Fatal(err)
	}
	return mod
}

// TestFrameEstimateCoversWazero checks the frame estimate against the
// frames wazero really makes, for shapes chosen to stress what grows
// them: parameters, results, locals, operands and redefinitions live
// across a call, v128 values, and merges.
func TestFrameEstimateCoversWazero(t *testing.T) {
	if testing.Short() {
		t.Skip("recurses until wazero's stack overflow, some 100 MB, for every shape")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the estimate is calibrated on wazero's amd64 backend")
	}
	for _, s := range frameShapes() {
		b := watSource(t, s.src)
		est := rewritten(t, b).frames[0]
		for _, instrumented := range []bool{false, true} {
			real, depth := realFrame(t, b, instrumented)
			t.Logf("%-60s rewritten %-5v depth %8d  wazero %6d bytes  estimate %6d bytes (%.1f×)",
				s.name, instrumented, depth, real, est, float64(est)/float64(real))
			if est < real {
				t.Errorf("%s (rewritten %v): estimate %d bytes, wazero takes %d", s.name, instrumented, est, real)
			}
			runtime.GC() // return the 100 MB stack before the next shape
		}
	}
}

// TestStackImportDepth checks when a recursion calls the stack import:
// first when its frames pass StackInitial, then every StackChunk, and that
// every frame is given back on return.
func TestStackImportDepth(t *testing.T) {
	src := `(module
  (global $d (export "depth") (mut i32) (i32.const 0))
  (func $f (export "f") (param i32) (result i32)
    (global.set $d (i32.add (global.get $d) (i32.const 1)))
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $f (i32.sub (local.get 0) (i32.const 1))))))))`
	orig := watSource(t, src)
	frame := rewritten(t, orig).frames[0]
	if frame <= 0 || frame > StackInitial {
		t.Fatalf("frame estimate %d", frame)
	}
	var depths []int64
	hs := &hostStack{}
	r := hostRuntime(t, func(ctx context.Context, caller api.Module) {
		depths = append(depths, int64(uint32(caller.ExportedGlobal("depth").Get())))
		hs.stack(ctx, caller)
	})
	ctx := context.Background()
	mod, err := r.Instantiate(ctx, instrument(t, orig))
	if err != nil {
		t.Fatal(err)
	}
	if got := stackBudget(mod); got != StackInitial {
		t.Fatalf("budget starts at %d, want %d", got, StackInitial)
	}
	const n = 10_000 // frames: f(n) recurses n+1 deep
	res, err := mod.ExportedFunction("f").Call(ctx, n)
	if err != nil || res[0] != n {
		t.Fatalf("f(%d) = %v, %v", n, res, err)
	}
	// The k-th call comes on entering the first frame that exceeds what
	// was granted before it, before the guest counts that frame.
	var want []int64
	granted := int64(StackInitial)
	for d := int64(1); d <= n+1; d++ {
		if d*frame > granted {
			want = append(want, d-1)
			granted += StackChunk
		}
	}
	if fmt.Sprint(depths) != fmt.Sprint(want) {
		t.Errorf("stack called at depths %v, want %v (frame %d)", depths, want, frame)
	}
	if got, want := stackBudget(mod), int32(StackInitial+hs.granted.Load()); got != want {
		t.Errorf("budget is %d after f returned, want all %d bytes back", got, want)
	}
}

// TestStackLimitStopsRecursion checks that a host refusing more stack
// stops an endless recursion long before wazero's own limit.
func TestStackLimitStopsRecursion(t *testing.T) {
	orig := recursion(1, 1, "i32", 0, 0, 0).src2wasm(t)
	hs := &hostStack{limit: 1 << 20}
	ctx := context.Background()
	mod, err := hostRuntime(t, hs.stack).Instantiate(ctx, instrument(t, orig))
	if err != nil {
		t.Fatal(err)
	}
	_, err = mod.ExportedFunction("run").Call(ctx)
	if !errors.Is(err, errStackLimit) {
		t.Fatalf("endless recursion ended with %v, want the host's limit", err)
	}
	depth := int64(uint32(mod.ExportedGlobal("depth").Get()))
	// run takes its frame, then every frame of $f counts itself once the
	// budget is charged for it.
	frames := rewritten(t, orig).frames
	if want := (StackInitial + hs.limit - frames[1]) / frames[0]; depth != want {
		t.Errorf("stopped at depth %d, want %d: the budget over the frame estimate %d", depth, want, frames[0])
	}
}

// hostRuntime makes a runtime whose isle:fuel module has a yield that
// never runs out, the given stack import, and grows that always succeed.
func hostRuntime(t *testing.T, stack func(context.Context, api.Module)) wazero.Runtime {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { r.Close(ctx) })
	m := &meter{slice: 1 << 40}
	tg := &hostTableGrow{}
	tg.allowed.Store(1 << 62)
	_, err := r.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(m.yield), nil, nil).Export(ImportName).
		NewFunctionBuilder().WithFunc(stack).Export(StackImportName).
		NewFunctionBuilder().WithFunc(tg.tableGrow).Export(TableGrowImportName).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s frameShape) src2wasm(t testing.TB) []byte { return watSource(t, s.src) }

// TestFrameEstimateCountsScratchLocals checks that the locals the rewrite
// adds for a bulk operation of unknown length are in the estimate of the
// frame that holds them: before, the estimate was taken before they were
// declared.
func TestFrameEstimateCountsScratchLocals(t *testing.T) {
	const shape = `(module (memory 1)
  (func $f (export "f") (param i32) (result i32)
    %s
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (call $f (i32.sub (local.get 0) (i32.const 1)))))))`
	plain := rewritten(t, watSource(t, fmt.Sprintf(shape, `(memory.fill (i32.const 0) (i32.const 1) (i32.const 8))`))).frames[0]
	bulk := rewritten(t, watSource(t, fmt.Sprintf(shape, `(memory.fill (i32.const 0) (i32.const 1) (local.get 0))`))).frames[0]
	// The fill of unknown length adds 5 scratch locals of 8 bytes; its
	// length is a local.get, which defines no value, where the constant
	// length is an i32.const, which defines one.
	if bulk-plain != 5*8-8 {
		t.Fatalf("frame estimate %d with a fill of unknown length, %d with a constant one: want 32 bytes more", bulk, plain)
	}
}
