package fuel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/wasm"
)

// counterRun is what one call of an export did, as the host saw it.
type counterRun struct {
	results []uint64
	err     string
	used    int64
	yields  int64
	peeks   []int64 // the counter at each call of env.peek
}

// runCounter instantiates b beside a meter of the given slice and env's
// peek and charge, and calls fn(arg).
func runCounter(t *testing.T, b []byte, slice int64, fn string, arg uint64) counterRun {
	t.Helper()
	ctx := context.Background()
	m := &meter{slice: slice, limit: 1 << 20}
	r := newRuntime(t, ctx, m)
	var run counterRun
	counter := func(mod api.Module) api.MutableGlobal {
		return mod.ExportedGlobal(GlobalExport).(api.MutableGlobal)
	}
	_, err := r.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, mod api.Module, _ []uint64) {
		run.peeks = append(run.peeks, int64(counter(mod).Get()))
	}), nil, nil).Export("peek").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, mod api.Module, s []uint64) {
		c := counter(mod)
		c.Set(uint64(int64(c.Get()) - int64(s[0])))
	}), []api.ValueType{api.ValueTypeI64}, nil).Export("charge").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, b, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	run.results, err = mod.ExportedFunction(fn).Call(ctx, arg)
	run.err = firstLine(err)
	run.used, run.yields = m.used(mod), m.yields.Load()
	return run
}

// TestHoistedYieldSpendsTheSame checks that loops whose yield is
// hoisted out of them spend exactly the fuel of checks that call yield in
// place, yield at the same points, show the host the same counter at
// every call and compute the same, whichever way they are left and
// entered again: fallthrough, return, branches and br_tables to labels
// outside them and to the function's own, after host calls that charge,
// calls of functions and tables, bulk helpers, table.grow and traps; and
// a loop with parameters and the loops of a nest deeper than maxHoisted,
// which keep their call in place.
func TestHoistedYieldSpendsTheSame(t *testing.T) {
	t.Parallel()
	hoisted, inPlace := bothRewrites(t, wat(t, "hoist"))
	if slices.Equal(hoisted.Wasm, inPlace.Wasm) {
		t.Fatal("the two rewrites are the same module")
	}
	calls := []struct {
		fn  string
		arg uint64
	}{{"sum", 0}, {"sum", 5000}, {"hosts", 300}, {"early", 0}, {"early", 2000},
		{"branch", 1}, {"branch", 500}, {"branch", 5000}, {"fills", 7}, {"grows", 40}, {"nested", 60},
		{"results", 1}, {"results", 3000}, {"params", 5000}, {"deep", 1}, {"deep", 20000}, {"traps", 3000}}
	for _, c := range calls {
		for _, slice := range []int64{1, 7, 1000, 1 << 40} {
			t.Run(fmt.Sprintf("%s(%d)/slice=%d", c.fn, c.arg, slice), func(t *testing.T) {
				want := runCounter(t, inPlace.Wasm, slice, c.fn, c.arg)
				got := runCounter(t, hoisted.Wasm, slice, c.fn, c.arg)
				if (want.err != "") != (c.fn == "traps") || want.used <= 0 {
					t.Fatalf("with yield in place: %+v", want)
				}
				if !slices.Equal(got.results, want.results) || got.err != want.err {
					t.Errorf("results %v, %q; want %v, %q", got.results, got.err, want.results, want.err)
				}
				if got.used != want.used || got.yields != want.yields {
					t.Errorf("used %d fuel in %d yields; want %d in %d", got.used, got.yields, want.used, want.yields)
				}
				if !slices.Equal(got.peeks, want.peeks) {
					t.Errorf("the host saw the counter at %v; want %v", head(got.peeks), head(want.peeks))
				}
			})
		}
	}
}

// bothRewrites rewrites src with loops' yields hoisted, as Instrument
// does, and with them in place.
func bothRewrites(t testing.TB, src []byte) (hoisted, inPlace *Result) {
	t.Helper()
	hoisted, err := Instrument(src)
	if err != nil {
		t.Fatal(err)
	}
	if inPlace, err = rewrite(src, true); err != nil {
		t.Fatal(err)
	}
	return hoisted, inPlace
}

// head is the start of a long list, for messages.
func head(v []int64) []int64 { return v[:min(len(v), 8)] }

// TestHoistingNestStaysShallow checks that a nest of many loops grows
// only by the constructs of its outermost maxHoisted loops: wazero's
// compile time grows with the square of the nesting.
func TestHoistingNestStaysShallow(t *testing.T) {
	t.Parallel()
	const loops = 200
	src := "(module (func (export \"f\") (param i32)" + strings.Repeat("(loop ", loops) +
		"(br_if 0 (local.get 0))" + strings.Repeat(")", loops) + "))"
	orig := watSource(t, src)
	res, err := Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	// The innermost loop's check, with its call in place, opens an if.
	before, after := maxNesting(t, orig), maxNesting(t, res.Wasm)
	if want := before + hoistDepth*maxHoisted + 1; after != want {
		t.Fatalf("nesting %d before the rewrite, %d after: want %d", before, after, want)
	}
}

// maxNesting is the deepest nesting of blocks in a module's first body.
func maxNesting(t *testing.T, b []byte) int {
	t.Helper()
	depth, deepest := 0, 0
	eachInstr(t, b, func(in *wasm.Instr) {
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf:
			depth++
			deepest = max(deepest, depth)
		case wasm.OpEnd:
			depth--
		}
	})
	return deepest
}

// loopKernels are the loops BenchmarkLoopCheck times: one that carries
// five values and calls nothing, one of three iterations inside another,
// and one that calls a function every iteration.
const loopKernels = `(module
  (memory 1)
  (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "carried") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $e i32)
    (local.set $a (i32.const 1)) (local.set $b (i32.const 2)) (local.set $c (i32.const 3)) (local.set $d (i32.const 4))
    (loop $l
      (local.set $a (i32.add (local.get $a) (i32.mul (local.get $b) (i32.const 31))))
      (local.set $b (i32.xor (local.get $b) (i32.shr_u (local.get $c) (i32.const 3))))
      (local.set $c (i32.add (local.get $c) (i32.rotl (local.get $d) (i32.const 5))))
      (local.set $d (i32.sub (local.get $d) (local.get $a)))
      (local.set $e (i32.add (local.get $e) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $e) (local.get $n))))
    (i32.add (i32.add (local.get $a) (local.get $b)) (i32.add (local.get $c) (local.get $d))))
  (func (export "short") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $s i32)
    (loop $o
      (local.set $j (i32.const 0))
      (loop $in
        (local.set $s (i32.add (local.get $s) (i32.load (i32.and (local.get $j) (i32.const 60)))))
        (i32.store (i32.and (local.get $s) (i32.const 60)) (local.get $j))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $in (i32.lt_u (local.get $j) (i32.const 3))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $o (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $s))
  (func (export "calling") (param $n i32) (result i32)
    (local $i i32) (local $s i32) (local $a i32) (local $b i32)
    (loop $o
      (local.set $s (i32.add (local.get $s) (call $g (local.get $i))))
      (local.set $a (i32.xor (local.get $a) (local.get $s)))
      (local.set $b (i32.add (local.get $b) (local.get $a)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $o (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (local.get $s) (local.get $b))))`

// BenchmarkLoopCheck times an iteration of each of loopKernels' loops
// three ways: under bare wazero without metering (the anchor), with the
// check calling yield in place, and with its yield hoisted out of the
// loop. go test -bench LoopCheck -count 5 ./internal/fuel
func BenchmarkLoopCheck(b *testing.B) {
	ctx := context.Background()
	src := watSource(b, loopKernels)
	hoisted, inPlace := bothRewrites(b, src)
	r := newRuntime(b, ctx, &meter{slice: 1_000_000})
	ways := []struct {
		name string
		wasm []byte
	}{{"wazero", src}, {"in-place", inPlace.Wasm}, {"hoisted", hoisted.Wasm}}
	for _, fn := range []string{"carried", "short", "calling"} {
		for i, w := range ways {
			mod, err := r.InstantiateWithConfig(ctx, w.wasm, wazero.NewModuleConfig().WithName(fmt.Sprint(fn, i)))
			if err != nil {
				b.Fatal(err)
			}
			f := mod.ExportedFunction(fn)
			b.Run(fn+"/"+w.name, func(b *testing.B) {
				if _, err := f.Call(ctx, uint64(b.N)); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// TestHoistingSiblingsStaysBounded checks that a function of many loops
// side by side hoists only the yields of its first maxHoistedPerFunction:
// wazero's compile time grows faster than the loops of a function.
func TestHoistingSiblingsStaysBounded(t *testing.T) {
	t.Parallel()
	const loops = 200
	src := "(module (func (export \"f\") (param i32)" +
		strings.Repeat("(loop (br_if 0 (local.get 0)))", loops) + "))"
	orig := watSource(t, src)
	res, err := Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	before, after := countOp(t, orig, wasm.OpLoop), countOp(t, res.Wasm, wasm.OpLoop)
	if after != before+maxHoistedPerFunction {
		t.Fatalf("%d loops before the rewrite, %d after: want %d more (one for each hoisted yield)", before, after, maxHoistedPerFunction)
	}
}

// countOp counts an opcode in a module's first body.
func countOp(t *testing.T, b []byte, op wasm.Opcode) int {
	t.Helper()
	n := 0
	eachInstr(t, b, func(in *wasm.Instr) {
		if in.Op == op {
			n++
		}
	})
	return n
}

// eachInstr calls f for every instruction of a module's first body.
func eachInstr(t *testing.T, b []byte, f func(*wasm.Instr)) {
	t.Helper()
	eachCodeInstr(t, codePayload(t, b), func(body int, _ uint64, in *wasm.Instr) {
		if body == 0 {
			f(in)
		}
	})
}
