package fuel

import (
	"fmt"
	"strings"

	"github.com/isle-run/isle/internal/wasm"
)

// Reserved names the rewriter adds. A module that already uses them is refused.
const (
	// ImportModule is the module name of the injected host imports.
	ImportModule = "isle:fuel"
	// ImportName is the injected import's field name: a func () -> () that
	// instrumented code calls when the counter goes negative, and after
	// every chunk of a long bulk operation. The host refills the counter,
	// or traps to kill the process.
	ImportName = "yield"
	// StackImportName is the import a func () -> () that instrumented code
	// calls when the stack budget goes negative. The host grants whole
	// StackChunk until the budget is not negative, charging the process's
	// memory, or traps when the process may not have more.
	StackImportName = "stack"
	// TableGrowImportName is the import a func (n i32) -> i32 that
	// instrumented code calls before every table.grow of n entries. A
	// nonzero result lets the grow go ahead (the host has charged for it);
	// zero makes it fail as a grow beyond the table's maximum does.
	TableGrowImportName = "table_grow"
	// GlobalExport names the injected mutable i64 counter. It is exported
	// only so that the host can read and refill it; no guest code can name it.
	GlobalExport = "isle:fuel"
	// StackGlobalExport names the injected mutable i32 stack budget: the
	// bytes of call stack the guest may still use before it calls the
	// stack import. Exported for the host alone, like the counter.
	StackGlobalExport = "isle:stack"
)

// The ABI's sizes. See the package documentation for why these values.
const (
	// StackInitial is the stack budget an instance starts with, about the
	// call stack wazero allocates for a first call. The host accounts it
	// when the instance is created.
	StackInitial = 8 << 10
	// StackChunk is what the host should add to the stack budget per
	// grant: large enough that recursion calls the host rarely.
	StackChunk = 64 << 10
	// HostCallFuel is what a direct call of an imported function costs:
	// what compiled code spends in 3 to 5 ns, a fraction of the tens of
	// nanoseconds the call's transition takes. Enough that a loop of cheap
	// host calls reaches the end of its slice within a millisecond or so;
	// few enough that loops of sends do not end their slices much sooner
	// (512 halved throughput). Charged statically, it costs nothing at run
	// time. What the call then does in proportion to what was asked, the
	// host charges itself (HostBytes).
	HostCallFuel = 64
	// MemoryChunk is the most bytes one native memory.fill, memory.copy or
	// memory.init handles before control returns to the host.
	MemoryChunk = 64 << 10
	// MemoryBytesPerFuel is how many bytes of a memory bulk operation cost
	// one unit of fuel.
	MemoryBytesPerFuel = 1 << memoryFuelShift
	// MemoryChargeFloor is the length below which a memory bulk operation
	// is charged as if it were this long: it then runs inline, with no
	// test of the counter.
	MemoryChargeFloor = 256
	// TableChunk is the most entries one native table.fill, table.copy or
	// table.init handles; it costs the same fuel as a MemoryChunk.
	TableChunk = MemoryChunk / MemoryBytesPerFuel
	// TableChargeFloor is MemoryChargeFloor for table bulk operations.
	TableChargeFloor = MemoryChargeFloor / MemoryBytesPerFuel
	// TableEntriesPerFuel is how many table entries cost one unit of fuel,
	// in bulk operations and in table.grow.
	TableEntriesPerFuel = 1 << tableFuelShift
	// MaxFrame caps the estimated frame of one function, so that stack
	// arithmetic never overflows the i32 budget.
	MaxFrame = 1 << 24
)

// HostBytes is the fuel of a host function's work over n bytes of the
// guest's (copied, filled, written out): a bulk memory operation's rate,
// so that a guest pays the same for a megabyte whether its own code or a
// host call moves it.
func HostBytes(n int) int64 { return int64(n) >> memoryFuelShift }

// Fuel shifts: a bulk operation of n bytes or entries costs n>>shift.
const (
	memoryFuelShift = 4
	tableFuelShift  = 0
)

// Result is an instrumented module.
type Result struct {
	// Wasm is the rewritten module.
	Wasm []byte
	// Offsets maps code-section offsets in Wasm back to offsets in the
	// original. Both are relative to the start of the code section payload,
	// the convention of DWARF for WebAssembly.
	Offsets *OffsetMap
}

// Instrument validates a module's indices and rewrites it to charge fuel at
// every function entry and loop header, calling the injected yield import
// whenever the counter goes negative; to account for call stack use; and
// to split and charge bulk memory and table operations. See the package
// documentation.
func Instrument(original []byte) (*Result, error) { return rewrite(original, false) }

// rewrite is Instrument; inPlace keeps every loop's yield call in its
// check (hoist.go), for tests to compare.
func rewrite(original []byte, inPlace bool) (*Result, error) {
	mod, err := decodeModule(original)
	if err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
	}
	mod.inPlace = inPlace
	if err := mod.checkReserved(); err != nil {
		return nil, err
	}
	if err := mod.validate(); err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
	}
	mod.plan()
	mod.planLazy()

	code, offsets, err := mod.rewriteCode()
	if err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
	}
	mod.rewriteSections(code)
	if err := mod.rewriteCustom(offsets); err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
	}
	if len(mod.lazy) > 0 {
		mod.m.Sections = append(mod.m.Sections,
			wasm.Section{ID: wasm.SectionCustom, Name: LazyTablesSection, Payload: mod.lazySection()})
	}
	return &Result{Wasm: mod.m.Encode(), Offsets: offsets}, nil
}

// checkReserved refuses modules that already use the names the rewriter
// adds, so that the host never mistakes a guest's own import or export for
// the injected ones.
func (mod *module) checkReserved() error {
	for _, im := range mod.imports {
		if im.Module == ImportModule {
			return fmt.Errorf("module imports %q.%q: the import module %q is reserved for fuel metering",
				im.Module, im.Name, ImportModule)
		}
	}
	if mod.m.Custom(LazyTablesSection) != nil {
		return fmt.Errorf("module has a custom section named %q: that name is reserved for the rewrite", LazyTablesSection)
	}
	for _, e := range mod.exports {
		if e.Name == GlobalExport || e.Name == StackGlobalExport {
			return fmt.Errorf("module exports a %s named %q: that export name is reserved for fuel metering",
				e.Kind, e.Name)
		}
	}
	return nil
}

// injectedImports is how many function imports the rewrite adds.
const injectedImports = 3

// injected is what the rewrite adds: the indices of the imports, globals
// and types, and the helper functions its code calls.
type injected struct {
	yieldType, tableGrowType            uint32 // the imports' types
	yieldFunc, stackFunc, tableGrowFunc uint32
	fuelGlobal, stackGlobal             uint32
	typeIndex                           map[string]uint32 // interned signatures
	helpers                             []helper
	helperIndex                         map[helperKey]uint32
	helperBase                          uint32 // function index of the first helper
}

// plan picks the indices of the injected imports, types and globals.
func (mod *module) plan() {
	c := &mod.counts
	in := &mod.inj
	in.yieldType = mod.typeOf(nil, nil)
	in.tableGrowType = mod.typeOf([]wasm.ValType{wasm.I32}, []wasm.ValType{wasm.I32})
	// The imports come after the module's own, so the defined functions
	// move up by injectedImports; the helpers come after all of them.
	in.yieldFunc = c.ImportedFuncs
	in.stackFunc = c.ImportedFuncs + 1
	in.tableGrowFunc = c.ImportedFuncs + 2
	in.helperBase = c.Funcs + injectedImports
	in.fuelGlobal = c.Globals // appended after all globals
	in.stackGlobal = c.Globals + 1
}

// typeOf returns the index of a signature, appending it to the types if
// the module has none equal. Appended types are out of the guest's reach:
// every type index in the original was checked against the original count.
func (mod *module) typeOf(params, results []wasm.ValType) uint32 {
	in := &mod.inj
	key := string(params) + "\x00" + string(results) // value types are never 0
	if in.typeIndex == nil {
		in.typeIndex = make(map[string]uint32, len(mod.types)+4)
		for i := len(mod.types) - 1; i >= 0; i-- { // the first of equal types wins
			t := mod.types[i]
			in.typeIndex[string(t.Params)+"\x00"+string(t.Results)] = uint32(i)
		}
	}
	if i, ok := in.typeIndex[key]; ok {
		return i
	}
	i := uint32(len(mod.types))
	mod.types = append(mod.types, wasm.FuncType{Params: params, Results: results})
	in.typeIndex[key] = i
	return i
}

// funcType is the signature of a validated function index.
func (mod *module) funcType(f uint32) wasm.FuncType {
	if f < mod.counts.ImportedFuncs {
		return mod.types[mod.importTypes[f]]
	}
	return mod.types[mod.funcs[f-mod.counts.ImportedFuncs]]
}

// funcIndex renumbers a function index of the original module: the
// injected imports take the place of the first defined functions.
func (mod *module) funcIndex(i uint32) uint32 {
	if i >= mod.counts.ImportedFuncs {
		return i + injectedImports
	}
	return i
}

// rewriteSections adds the imports, types, globals, exports and helper
// functions, and renumbers every function index outside the code section.
func (mod *module) rewriteSections(code []byte) {
	m := mod.m
	in := &mod.inj
	if len(mod.types) > int(mod.counts.Types) {
		m.Put(wasm.SectionType, wasm.EncodeTypes(mod.types))
	}
	imports := append(mod.imports,
		wasm.Import{Module: ImportModule, Name: ImportName, Kind: wasm.KindFunc, Func: in.yieldType},
		wasm.Import{Module: ImportModule, Name: StackImportName, Kind: wasm.KindFunc, Func: in.yieldType},
		wasm.Import{Module: ImportModule, Name: TableGrowImportName, Kind: wasm.KindFunc, Func: in.tableGrowType})
	m.Put(wasm.SectionImport, wasm.EncodeImports(imports))
	if len(in.helpers) > 0 {
		funcs := mod.funcs
		for _, h := range in.helpers {
			funcs = append(funcs, h.typ)
		}
		m.Put(wasm.SectionFunction, wasm.EncodeIndices(funcs))
	}

	globals := make([]wasm.Global, 0, len(mod.globals)+2)
	for _, g := range mod.globals {
		g.Init = mod.renumberExpr(g.Init)
		globals = append(globals, g)
	}
	globals = append(globals,
		wasm.Global{Type: wasm.GlobalType{Type: wasm.I64, Mutable: true},
			Init: wasm.Expr{byte(wasm.OpI64Const), 0, byte(wasm.OpEnd)}},
		wasm.Global{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true},
			Init: append(wasm.AppendS64([]byte{byte(wasm.OpI32Const)}, StackInitial), byte(wasm.OpEnd))})
	m.Put(wasm.SectionGlobal, wasm.EncodeGlobals(globals))

	exports := make([]wasm.Export, 0, len(mod.exports)+2)
	for _, e := range mod.exports {
		if e.Kind == wasm.KindFunc {
			e.Index = mod.funcIndex(e.Index)
		}
		exports = append(exports, e)
	}
	exports = append(exports,
		wasm.Export{Name: GlobalExport, Kind: wasm.KindGlobal, Index: in.fuelGlobal},
		wasm.Export{Name: StackGlobalExport, Kind: wasm.KindGlobal, Index: in.stackGlobal})
	m.Put(wasm.SectionExport, wasm.EncodeExports(exports))

	if mod.start != nil {
		m.Put(wasm.SectionStart, wasm.AppendU32(nil, mod.funcIndex(*mod.start)))
	}
	if len(mod.elems) > 0 {
		for i := range mod.elems {
			e := &mod.elems[i]
			for j, f := range e.Funcs {
				e.Funcs[j] = mod.funcIndex(f)
			}
			for j, x := range e.Exprs {
				e.Exprs[j] = mod.renumberExpr(x)
			}
		}
		m.Put(wasm.SectionElement, wasm.EncodeElements(mod.elems))
	}
	if code != nil {
		m.Put(wasm.SectionCode, code)
	}
}

// renumberExpr rewrites the ref.func indices of a validated constant
// expression.
func (mod *module) renumberExpr(e wasm.Expr) wasm.Expr {
	var r wasm.Reader
	var in wasm.Instr
	r.Reset(e)
	out := make(wasm.Expr, 0, len(e)+1)
	last := 0
	for r.Next(&in) == nil {
		if in.Op == wasm.OpRefFunc && in.Index >= mod.counts.ImportedFuncs {
			out = append(out, e[last:in.IdxPos]...)
			out = wasm.AppendU32Width(out, mod.funcIndex(in.Index), in.End-in.IdxPos)
			last = in.End
		}
	}
	return append(out, e[last:]...)
}

// rewriteCustom renumbers the name section, rebuilds DWARF for the new
// code offsets, and drops custom sections whose contents would now lie.
func (mod *module) rewriteCustom(offsets *OffsetMap) error {
	secs := make([]wasm.Section, 0, len(mod.m.Sections)+4)
	dwarfDone := false
	for _, s := range mod.m.Sections {
		if s.ID == wasm.SectionCustom {
			switch {
			case s.Name == "name":
				p, err := mod.renumberNames(s.Payload)
				if err != nil {
					return err
				}
				s.Payload = p
			case strings.HasPrefix(s.Name, ".debug_"):
				// Replaced as a whole by the DWARF rebuilt below, where
				// the first debug section was.
				if dwarfDone {
					continue
				}
				dwarfDone = true
				secs = append(secs, mod.rebuildDWARF(offsets)...)
				continue
			case staleCustom(s.Name):
				continue
			}
		}
		secs = append(secs, s)
	}
	mod.m.Sections = secs
	return nil
}

// staleCustom reports custom sections that describe code offsets or
// relocations of the original and would be wrong after rewriting.
func staleCustom(name string) bool {
	return name == "sourceMappingURL" || name == "external_debug_info" ||
		name == "linking" || strings.HasPrefix(name, "reloc.")
}
