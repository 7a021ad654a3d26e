package shape

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/fuel"
	"github.com/isle-run/isle/internal/wasm"
)

// TestCalibrate measures the weights in weights.go: what wazero's compiler
// spends on each instruction, repeated in one function, and on the shapes
// behind the block, phi and value terms. It takes several minutes, so it
// runs only when ISLE_SHAPE_CALIBRATE names the file to write:
//
//	ISLE_SHAPE_CALIBRATE=/tmp/weights.go go test -run TestCalibrate -timeout 1h ./internal/shape
//
// The figures are CPU time, so they hold up on a loaded machine better
// than wall time, but they vary by machine; only their ratios matter.
func TestCalibrate(t *testing.T) {
	out := os.Getenv("ISLE_SHAPE_CALIBRATE")
	if out == "" {
		t.Skip("set ISLE_SHAPE_CALIBRATE to the weights file to write")
	}
	cal := newCalibrator(t)
	// Two passes, keeping the larger of each figure: a weight measured low
	// by chance would let a hostile module cost more than its estimate.
	var w weightTables
	var k calConsts
	for pass := 0; pass < calPasses; pass++ {
		w.max(cal.ops())
		k.max(cal.shapes())
	}
	if err := os.WriteFile(out, w.source(k), 0o644); err != nil {
		t.Fatal(err)
	}
}

const calPasses = 2

// ops measures each instruction's weight.
func (c *calibrator) ops() weightTables {
	pair := c.perRep([]byte{byte(wasm.OpLocalGet), 0, byte(wasm.OpDrop)}, calReps)
	c.t.Logf("local.get+drop: %.0f ns", pair)
	var w weightTables
	for _, op := range calOpcodes() {
		snip, operands, results, ok := c.snippet(op)
		if !ok {
			c.t.Logf("%v: no operand pattern validates; weight 0", op)
			continue
		}
		reps := calReps
		if op == opMemoryFill || op == opTableFill {
			reps = 200 // their loops' blocks belong to the block term
		}
		ns := c.perRep(snip, reps) - float64(operands+results)*pair/2
		w.set(op, max(ns, 1))
	}
	w.set(wasm.OpLocalGet, pair/2)
	w.set(wasm.OpDrop, pair/2)
	return w
}

const calReps = 4000

type calibrator struct {
	t  *testing.T
	rt wazero.Runtime
}

func newCalibrator(t *testing.T) *calibrator {
	ctx := context.Background()
	rc := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	return &calibrator{t: t, rt: rt}
}

// calLocals are the locals of the calibration function: one of each type,
// so that an operand of type calTypes[i] is local.get i.
var calTypes = []wasm.ValType{wasm.I32, wasm.I64, wasm.F32, wasm.F64, wasm.V128, wasm.FuncRef}

// calModule is a module with everything an instruction may name: type 0
// () -> (), function 0 (the one measured), a memory, a table, a mutable i32
// global, a passive data segment and a passive element segment naming
// function 0.
func calModule(code []byte) []byte {
	b := []byte{byte(len(calTypes))}
	for _, t := range calTypes {
		b = append(b, 1, byte(t))
	}
	m := &modBuilder{
		types:   []wasm.FuncType{{}},
		mems:    []wasm.Limits{{Min: 1}},
		tables:  []wasm.TableType{{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 1}}},
		globals: []wasm.Global{{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true}, Init: wasm.Expr{byte(wasm.OpI32Const), 0, byte(wasm.OpEnd)}}},
		elems:   []wasm.Element{{Flags: 1, Type: wasm.FuncRef, Funcs: []uint32{0}}},
		data:    []wasm.Data{{Flags: 1, Init: []byte("x")}},
	}
	m.dataCount = true
	m.fn(append(append(b, code...), byte(wasm.OpEnd)))
	return m.bytes()
}

// calOpcodes lists every instruction the reader knows except those that
// end or open control flow, which the shapes measure.
func calOpcodes() []wasm.Opcode {
	skip := map[wasm.Opcode]bool{wasm.OpUnreachable: true, wasm.OpBlock: true, wasm.OpLoop: true,
		wasm.OpIf: true, wasm.OpElse: true, wasm.OpEnd: true, wasm.OpBr: true, wasm.OpBrIf: true,
		wasm.OpBrTable: true, wasm.OpReturn: true, wasm.OpReturnCall: true, wasm.OpReturnCallIndirect: true}
	var ops []wasm.Opcode
	for prefix, n := range map[wasm.Opcode]int{0: 256, wasm.PrefixMisc: 18, wasm.PrefixSIMD: 256} {
		for sub := 0; sub < n; sub++ {
			op := prefix<<16 | wasm.Opcode(sub)
			if _, ok := wasm.Info(op); ok && !skip[op] {
				ops = append(ops, op)
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i] < ops[j] })
	return ops
}

// snippet finds operands that make op valid: local.gets of up to three
// locals, then op, then a drop if it leaves a value.
func (c *calibrator) snippet(op wasm.Opcode) (snip []byte, operands, results int, ok bool) {
	in := wasm.Instr{Op: op, RefType: wasm.FuncRef, Types: []wasm.ValType{wasm.I32}}
	code := wasm.AppendInstr(nil, &in)
	for _, pat := range operandPatterns() {
		for drops := 0; drops <= 1; drops++ {
			var s []byte
			for _, l := range pat {
				s = append(s, byte(wasm.OpLocalGet), byte(l))
			}
			s = append(s, code...)
			s = append(s, bytes.Repeat([]byte{byte(wasm.OpDrop)}, drops)...)
			compiled, err := c.rt.CompileModule(context.Background(), calModule(s))
			if err == nil {
				_ = compiled.Close(context.Background())
				return s, len(pat), drops, true
			}
		}
	}
	return nil, 0, 0, false
}

// operandPatterns lists the operand local sequences, shortest first.
func operandPatterns() [][]int {
	pats := [][]int{{}}
	level := [][]int{{}}
	for n := 1; n <= 3; n++ {
		var next [][]int
		for _, p := range level {
			for l := range calTypes {
				next = append(next, append(append([]int(nil), p...), l))
			}
		}
		pats = append(pats, next...)
		level = next
	}
	return pats
}

// perRep is the compile CPU, in ns, of one repetition of snip in a
// function of reps repetitions: the least of three runs, less an empty
// function's.
func (c *calibrator) perRep(snip []byte, reps int) float64 {
	full := c.cpu(calModule(bytes.Repeat(snip, reps)), false)
	empty := c.cpu(calModule(nil), false)
	return float64(full-empty) / float64(reps)
}

// cpu is the least process CPU time of three compiles of bin, fuel
// instrumented first if asked.
func (c *calibrator) cpu(bin []byte, instrument bool) time.Duration {
	c.t.Helper()
	if instrument {
		res, err := fuel.Instrument(bin)
		if err != nil {
			c.t.Fatal(err)
		}
		bin = res.Wasm
	}
	best := time.Duration(1<<63 - 1)
	for i := 0; i < 3; i++ {
		runtime.GC()
		before := processCPU()
		compiled, err := c.rt.CompileModule(context.Background(), bin)
		d := processCPU() - before
		if err != nil {
			c.t.Fatalf("compile: %v", err)
		}
		_ = compiled.Close(context.Background())
		best = min(best, d)
	}
	return best
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// weightTables collects the measured weights.
type weightTables struct {
	mvp  [256]uint32
	misc [18]uint32
	simd [256]uint32
}

func (w *weightTables) max(v weightTables) {
	for i := range w.mvp {
		w.mvp[i] = max(w.mvp[i], v.mvp[i])
	}
	for i := range w.misc {
		w.misc[i] = max(w.misc[i], v.misc[i])
	}
	for i := range w.simd {
		w.simd[i] = max(w.simd[i], v.simd[i])
	}
}

func (w *weightTables) set(op wasm.Opcode, ns float64) {
	v := uint32(ns + 0.5)
	switch sub := op.Sub(); op.Prefix() {
	case 0:
		w.mvp[sub] = v
	case wasm.PrefixMisc:
		w.misc[sub] = v
	case wasm.PrefixSIMD:
		w.simd[sub] = v
	}
}

// source writes weights.go.
func (w *weightTables) source(k calConsts) []byte {
	var b strings.Builder
	b.WriteString("// Code generated by TestCalibrate; DO NOT EDIT.\n\npackage shape\n\n")
	b.WriteString("// Compile CPU in ns of one instruction, measured in a function of\n")
	fmt.Fprintf(&b, "// %d repetitions of it, less its operands and result drops; the larger\n", calReps)
	fmt.Fprintf(&b, "// of %d passes.\n", calPasses)
	table := func(name string, v []uint32) {
		fmt.Fprintf(&b, "var %s = [%d]uint32{", name, len(v))
		for i, x := range v {
			if i%8 == 0 {
				b.WriteString("\n\t")
			} else {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%d,", x)
		}
		b.WriteString("\n}\n\n")
	}
	table("weightMVP", w.mvp[:])
	table("weightMisc", w.misc[:])
	table("weightSIMD", w.simd[:])
	fmt.Fprintf(&b, `// Compile CPU in ns per unit of the terms of fnCost: per function, per
// br_table target (and one per costTargetSqDiv of a br_table's targets
// squared), per value moved, per block walked over and per label parameter
// squared.
const (
	costFunction    = %d
	costTarget      = %d
	costTargetSqDiv = %d
	costValue       = %d
	costBlock       = %d
	costPhi         = %d
)
`, up(k.function), up(k.target), max(1, int(1/max(k.targetSq, 1e-9))), up(k.value), up(k.block), up(k.phi))
	return []byte(b.String())
}

// estimate is the cost Check computes for the last function of bin.
func estimate(t testing.TB, bin []byte) fnCost {
	t.Helper()
	s := scanner{bin: bin}
	for i := range s.lim {
		s.lim[i] = 1<<63 - 1
	}
	if err := s.module(); err != nil {
		t.Fatal(err)
	}
	return s.code.cost
}

// calShape is a function whose compile time one term of fnCost dominates.
type calShape struct {
	name string
	bin  []byte
	fuel bool // compile it instrumented, as isle does
}

// calConsts are the constants of fnCost's terms other than instructions.
type calConsts struct{ function, target, targetSq, value, block, phi float64 }

func (k *calConsts) max(v calConsts) {
	k.function, k.target, k.value = max(k.function, v.function), max(k.target, v.target), max(k.value, v.value)
	k.targetSq = max(k.targetSq, v.targetSq)
	k.block, k.phi = max(k.block, v.block), max(k.phi, v.phi)
}

// shapes measures the constants: for each term, the most any shape costs
// per unit of it, once the other terms are taken off.
func (c *calibrator) shapes() calConsts {
	blocks := []calShape{
		{"nested blocks", calModule(nest(wasm.OpBlock, 6000)), false},
		{"blocks in a row", calModule(bytes.Repeat([]byte{0x02, 0x40, 0x0b}, 6000)), false},
		{"ifs in a row", calModule(bytes.Repeat([]byte{0x41, 0, 0x04, 0x40, 0x0b}, 3000)), false},
		{"br_ifs in a row", calModule(append(append([]byte{0x02, 0x40}, bytes.Repeat([]byte{0x41, 0, 0x0d, 0}, 6000)...), 0x0b)), false},
		{"nested loops, instrumented", calModule(nest(wasm.OpLoop, 2000)), true},
		{"memory.fills in a row", calModule(bytes.Repeat([]byte{0x20, 0, 0x20, 0, 0x20, 0, 0xfc, 0x0b, 0}, 2000)), false},
		{"br_table of 6000 targets after 3000 blocks", calModule(append(bytes.Repeat([]byte{0x02, 0x40, 0x0b}, 3000), brTable(6000)...)), false},
	}
	kFunction := c.worst("function", []calShape{{"4096 empty functions, instrumented", manyFunctions(4096), true}},
		func(f fnCost, ns float64) float64 { return ns / 4096 })
	// A target costs more in a larger br_table: a fixed part, measured on
	// small br_tables, and a part that grows with the br_table, measured on
	// the largest the defaults admit.
	const small, large = 1024, defaultBrTableTargets
	kTarget := c.worst("target", []calShape{{"64 br_tables of 1024 targets", calModule(bytes.Repeat(brTable(small), 64)), false}},
		func(f fnCost, ns float64) float64 { return (ns - kFunction) / (64 * small) })
	kTargetSq := c.worst("target squared", []calShape{{"br_table at the default limit", calModule(brTable(large)), false}},
		func(f fnCost, ns float64) float64 { return (ns - kFunction - kTarget*large) / (large * large) })
	// The constants measured so far stand in for the generated ones.
	linear := func(f fnCost) float64 {
		return float64(f.linear) + (kFunction - costFunction) + float64(f.targets)*(kTarget-costTarget) +
			float64(f.targetSq)*(kTargetSq-1/float64(costTargetSqDiv))
	}
	kBlock := c.worst("block", blocks, func(f fnCost, ns float64) float64 {
		return (ns - linear(f)) / float64(f.dom)
	})
	phis := []calShape{
		{"locals read in nested loops", loopsLocals(64, 4096), true},
		{"locals set in nested ifs", ifsLocals(64, 4096), false},
	}
	kPhi := c.worst("phi", phis, func(f fnCost, ns float64) float64 {
		return (ns - linear(f) - kBlock*float64(f.dom)) / float64(f.phiSq)
	})
	values := []calShape{
		{"chained calls of 16 values", chainedCalls(8000, 16), false},
		{"br_ifs carrying 16 values", brIfValues(1000, 16), false},
	}
	kValue := c.worst("value", values, func(f fnCost, ns float64) float64 {
		return (ns - linear(f) - kBlock*float64(f.dom) - kPhi*float64(f.phiSq)) / float64(f.values)
	})
	return calConsts{function: kFunction, target: kTarget, targetSq: kTargetSq, value: kValue, block: kBlock, phi: kPhi}
}

func up(x float64) int { return int(math.Ceil(x)) }

// worst measures each shape and returns the largest constant per reports.
func (c *calibrator) worst(term string, shapes []calShape, per func(fnCost, float64) float64) float64 {
	var most float64
	for _, s := range shapes {
		ns := float64(c.cpu(s.bin, s.fuel) - c.cpu(calModule(nil), s.fuel))
		k := per(estimate(c.t, s.bin), ns)
		c.t.Logf("%s: %s: %.0f ms, %.2f ns per unit", term, s.name, ns/1e6, k)
		most = max(most, k)
	}
	return most
}
