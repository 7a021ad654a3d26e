package shape

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/fuel"
	"github.com/isle-run/isle/internal/wasm"
)

// TestWorstCase builds, for each shape of code that makes wazero slow, the
// largest module the default limits admit, and compiles it the way the
// kernel does (fuel-instrumented, compiler engine, WebAssembly 2.0) in a
// child process, reporting compile CPU, wall time and peak RSS. It takes
// many minutes, so it runs only when ISLE_SHAPE_WORSTCASE is set (to a
// regular expression of shape names, or "." for all). It fails only if a
// module is refused or does not compile: how fast is for the report.
//
//	ISLE_SHAPE_WORSTCASE=. go test -run TestWorstCase -v -timeout 2h ./internal/shape
func TestWorstCase(t *testing.T) {
	pattern := os.Getenv("ISLE_SHAPE_WORSTCASE")
	if pattern == "" {
		t.Skip("set ISLE_SHAPE_WORSTCASE to run")
	}
	for _, s := range worstShapes() {
		t.Run(s.name, func(t *testing.T) {
			if !strings.Contains(s.name, pattern) && pattern != "." {
				t.Skip("not selected by ISLE_SHAPE_WORSTCASE")
			}
			bin, funcs, w := fillBudget(t, s)
			start := time.Now()
			if err := Check(bin, Limits{}); err != nil {
				t.Fatalf("the defaults refuse it: %v", err)
			}
			checked := time.Since(start)
			m, _ := Measure(bin)
			r := compileInChild(t, bin)
			t.Logf("%s: %d functions, %.1f MB, checked in %v, estimated %.1fs (function %.2fs): compile %s",
				s.name, funcs, float64(len(bin))/1e6, checked.Round(time.Millisecond), float64(m.CompileWork)/1e9, float64(w)/1e9, r)
		})
	}
}

// worstShape is a function body growing with k, in a module template.
type worstShape struct {
	name string
	body func(k int) []byte
	// module wraps the functions; nil means modBuilder's plain template.
	module func(bodies [][]byte) []byte
	// fills is set when module pads itself to the size limit.
	fills bool
}

func worstShapes() []worstShape {
	rep := func(unit []byte) func(int) []byte {
		return func(k int) []byte { return body(bytes.Repeat(unit, k)) }
	}
	lg := []byte{byte(wasm.OpLocalGet), 0}
	return []worstShape{
		{"nested blocks", func(k int) []byte { return body(nest(wasm.OpBlock, min(k, defaultNesting))) }, nil, false},
		{"nested loops", func(k int) []byte { return body(nest(wasm.OpLoop, min(k, defaultNesting))) }, nil, false},
		{"br_ifs in a row", func(k int) []byte {
			return body([]byte{byte(wasm.OpBlock), 0x40}, bytes.Repeat([]byte{byte(wasm.OpI32Const), 0, byte(wasm.OpBrIf), 0}, k), []byte{byte(wasm.OpEnd)})
		}, nil, false},
		{"ifs in a row", rep([]byte{byte(wasm.OpI32Const), 0, byte(wasm.OpIf), 0x40, byte(wasm.OpEnd)}), nil, false},
		{"locals in nested loops", func(k int) []byte { return onlyBody(loopsLocals(16, k)) }, nil, false},
		{"locals in nested ifs", func(k int) []byte { return onlyBody(ifsLocals(16, k)) }, nil, false},
		{"br_table", func(k int) []byte { return body(brTable(min(k, defaultBrTableTargets))) }, nil, false},
		{"chained calls", func(k int) []byte { return onlyBody(chainedCalls(k, 16)) }, calTemplate, false},
		{"call_indirect", func(k int) []byte { return calBody(bytes.Repeat(append(lg, 0x11, 0, 0), k)) }, calTemplate, false},
		{"memory.copy", func(k int) []byte {
			return calBody(bytes.Repeat(append(append(lg, lg...), append(lg, 0xfc, 10, 0, 0)...), k))
		}, calTemplate, false},
		{"memory.fill", func(k int) []byte {
			return calBody(bytes.Repeat(append(append(lg, lg...), append(lg, 0xfc, 11, 0)...), k))
		}, calTemplate, false},
		{"div", func(k int) []byte { return calBody(bytes.Repeat(append(append(lg, lg...), 0x6d, 0x1a), k)) }, calTemplate, false},
		{"empty functions", func(k int) []byte { return body() }, nil, false},
		{"everything at once", func(k int) []byte {
			return body([]byte{byte(wasm.OpBlock), 0x40}, bytes.Repeat([]byte{byte(wasm.OpI32Const), 0, byte(wasm.OpBrIf), 0}, k), []byte{byte(wasm.OpEnd)})
		}, everythingTemplate, true},
	}
}

// onlyBody is the last function body of a module built by a generator.
func onlyBody(bin []byte) []byte {
	m, err := wasm.Decode(bin)
	if err != nil {
		panic(err)
	}
	code, err := wasm.DecodeCode(m.Section(wasm.SectionCode).Payload)
	if err != nil {
		panic(err)
	}
	return code[len(code)-1].Body
}

// calBody is code with calModule's locals, one of each type.
func calBody(code []byte) []byte {
	b := []byte{byte(len(calTypes))}
	for _, t := range calTypes {
		b = append(b, 1, byte(t))
	}
	return append(append(b, code...), byte(wasm.OpEnd))
}

// calTemplate is calModule's setting (memory, table, data, elements, a
// callee [16 i32] -> [16 i32] as function 0) around the bodies, all of
// type 0.
func calTemplate(bodies [][]byte) []byte {
	callee := []byte{0}
	for j := 0; j < 16; j++ {
		callee = append(callee, byte(wasm.OpLocalGet), byte(j))
	}
	m := &modBuilder{
		types:     []wasm.FuncType{{}, funcType(16, 16)},
		mems:      []wasm.Limits{{Min: 1}},
		tables:    []wasm.TableType{{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 1}}},
		elems:     []wasm.Element{{Flags: 1, Type: wasm.FuncRef, Funcs: []uint32{0}}},
		data:      []wasm.Data{{Flags: 1, Init: []byte("x")}},
		funcs:     []uint32{1},
		bodies:    [][]byte{append(callee, byte(wasm.OpEnd))},
		dataCount: true,
	}
	for _, b := range bodies {
		m.fn(b)
	}
	return m.bytes()
}

// everythingTemplate puts every count at its default limit around the
// bodies, and fills the module to its size limit.
func everythingTemplate(bodies [][]byte) []byte {
	m := &modBuilder{customs: []wasm.Section{}}
	for n := 0; len(m.types) < defaultTypes; n++ { // all distinct: n values in all
		for p := 0; p <= n && len(m.types) < defaultTypes; p++ {
			m.types = append(m.types, funcType(p, n-p))
		}
	}
	for i := 0; i < defaultImports; i++ {
		m.imports = append(m.imports, wasm.Import{Module: "env", Name: fmt.Sprint("f", i), Kind: wasm.KindFunc, Func: uint32(i % defaultTypes)})
	}
	for i := 0; i < defaultTables; i++ {
		m.tables = append(m.tables, wasm.TableType{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: defaultTableMin}})
	}
	m.mems = []wasm.Limits{{Min: defaultMemoryMinPages}}
	i32 := wasm.Expr{byte(wasm.OpI32Const), 0, byte(wasm.OpEnd)}
	for i := 0; i < defaultGlobals; i++ {
		m.globals = append(m.globals, wasm.Global{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true}, Init: i32})
	}
	for i := 0; i < defaultExports; i++ {
		m.exports = append(m.exports, wasm.Export{Name: fmt.Sprint("g", i), Kind: wasm.KindGlobal, Index: uint32(i % defaultGlobals)})
	}
	items := make([]uint32, defaultElemSegmentItems)
	for i := 0; i < defaultElemSegments; i++ {
		seg := wasm.Element{Flags: 1, Type: wasm.FuncRef, Funcs: items[:16]}
		if i < defaultTables {
			seg = wasm.Element{Offset: i32, Flags: 2, Table: uint32(i), Type: wasm.FuncRef, Funcs: items}
		}
		m.elems = append(m.elems, seg)
	}
	for i := 0; i < defaultDataSegments-1; i++ {
		m.data = append(m.data, wasm.Data{Offset: i32, Init: []byte{byte(i)}})
	}
	for i := 0; i < defaultCustomSections; i++ {
		m.customs = append(m.customs, wasm.Section{Name: fmt.Sprint("c", i), Payload: make([]byte, 1024)})
	}
	for _, b := range bodies {
		m.fn(b)
	}
	// One more data segment fills the module to its size limit.
	m.data = append(m.data, wasm.Data{Flags: 1})
	bin := m.bytes()
	m.data[len(m.data)-1].Init = make([]byte, max(defaultModuleBytes-len(bin)-16, 0))
	return m.bytes()
}

// fillBudget grows one function until it reaches FunctionWork, then
// repeats it until the module reaches CompileWork, Functions or
// ModuleBytes. It returns the module, its function count and one
// function's estimated work.
func fillBudget(t *testing.T, s worstShape) ([]byte, int, uint64) {
	t.Helper()
	template := s.module
	if template == nil {
		template = func(bodies [][]byte) []byte {
			m := &modBuilder{}
			for _, b := range bodies {
				m.fn(b)
			}
			return m.bytes()
		}
	}
	fits := func(k int) (uint64, bool) {
		b := s.body(k)
		if len(b) > defaultFunctionBytes {
			return 0, false
		}
		c := estimate(t, template([][]byte{b}))
		w := c.work()
		return w, w <= defaultFunctionWork && c.locals <= defaultLocals
	}
	k := 1
	for _, ok := fits(2 * k); ok && k < 1<<30; _, ok = fits(2 * k) {
		k *= 2
	}
	for step := k / 2; step > 0; step /= 2 {
		if _, ok := fits(k + step); ok {
			k += step
		}
	}
	w, _ := fits(k)
	fn := s.body(k)
	room := defaultModuleBytes - len(template(nil))
	if s.fills {
		room = defaultModuleBytes / 2
	}
	n := int(min(defaultCompileWork/max(w, 1), uint64(defaultFunctions-defaultImports-1),
		uint64(room/(len(fn)+5))))
	for ; n > 0; n = n * 15 / 16 {
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = fn
		}
		bin := template(bodies)
		if Check(bin, Limits{}) == nil {
			return bin, n, w
		}
	}
	t.Fatal("no module of this shape fits the defaults")
	return nil, 0, 0
}

// compileInChild compiles bin in a child process and describes its cost.
func compileInChild(t *testing.T, bin []byte) string {
	f := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(f, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorstCaseChild$", "-test.v")
	cmd.Env = append(os.Environ(), "ISLE_SHAPE_CHILD="+f)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil || !bytes.Contains(out, []byte("compiled")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// Not ru.Maxrss: Linux starts a vforked child's peak at its parent's,
	// and this test's parent is large. The child reads its own.
	_, hwm, _ := bytes.Cut(out, []byte("compiled, VmHWM:"))
	hwm, _, _ = bytes.Cut(hwm, []byte("\n"))
	return fmt.Sprintf("%v CPU, %v wall, %s peak RSS", cpu.Round(time.Millisecond*10), wall.Round(time.Millisecond*10), bytes.TrimSpace(hwm))
}

// TestWorstCaseChild is the child of compileInChild.
func TestWorstCaseChild(t *testing.T) {
	f := os.Getenv("ISLE_SHAPE_CHILD")
	if f == "" {
		t.Skip("run by TestWorstCase")
	}
	bin, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fuel.Instrument(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rc := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2).WithCustomSections(true)
	if _, err := wazero.NewRuntimeWithConfig(ctx, rc).CompileModule(ctx, res.Wasm); err != nil {
		t.Fatal(err)
	}
	status, _ := os.ReadFile("/proc/self/status")
	_, hwm, _ := bytes.Cut(status, []byte("VmHWM:"))
	hwm, _, _ = bytes.Cut(hwm, []byte("\n"))
	fmt.Printf("compiled, VmHWM: %s\n", bytes.TrimSpace(hwm))
}
