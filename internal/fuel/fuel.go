package fuel

import (
	"fmt"
	"strings"

	"github.com/isle-run/isle/internal/wasm"
)

// Reserved names the rewriter adds. A module that already uses them is refused.
const (
	// ImportModule is the module name of the injected host import.
	ImportModule = "isle:fuel"
	// ImportName is the injected import's field name: a func () -> () that
	// instrumented code calls when the counter goes negative. The host
	// refills the counter, or traps to kill the process.
	ImportName = "yield"
	// GlobalExport names the injected mutable i64 counter. It is exported
	// only so that the host can read and refill it; no guest code can name it.
	GlobalExport = "isle:fuel"
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
// whenever the counter goes negative. See the package documentation.
func Instrument(original []byte) (*Result, error) {
	mod, err := decodeModule(original)
	if err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
	}
	if err := mod.checkReserved(); err != nil {
		return nil, err
	}
	if err := mod.validate(); err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
	}
	mod.plan()

	code, offsets, err := mod.rewriteCode()
	if err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
	}
	mod.rewriteSections(code)
	if err := mod.rewriteCustom(offsets); err != nil {
		return nil, fmt.Errorf("invalid module: %w", err)
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
	for _, e := range mod.exports {
		if e.Name == GlobalExport {
			return fmt.Errorf("module exports a %s named %q: that export name is reserved for fuel metering",
				e.Kind, GlobalExport)
		}
	}
	return nil
}

// plan picks the indices of the injected import, type and global.
func (mod *module) plan() {
	mod.yieldType = uint32(len(mod.types))
	for i, t := range mod.types {
		if len(t.Params) == 0 && len(t.Results) == 0 {
			mod.yieldType = uint32(i)
			break
		}
	}
	mod.yieldFunc = mod.counts.ImportedFuncs // appended after the imports
	mod.fuelGlobal = mod.counts.Globals      // appended after all globals
}

// funcIndex renumbers a function index of the original module: the yield
// import takes the place of the first defined function.
func (mod *module) funcIndex(i uint32) uint32 {
	if i >= mod.counts.ImportedFuncs {
		return i + 1
	}
	return i
}

// rewriteSections adds the import, type, global and export, and renumbers
// every function index outside the code section.
func (mod *module) rewriteSections(code []byte) {
	m := mod.m
	if mod.yieldType == uint32(len(mod.types)) {
		m.Put(wasm.SectionType, wasm.EncodeTypes(append(mod.types, wasm.FuncType{})))
	}
	imports := append(mod.imports, wasm.Import{
		Module: ImportModule, Name: ImportName, Kind: wasm.KindFunc, Func: mod.yieldType})
	m.Put(wasm.SectionImport, wasm.EncodeImports(imports))

	globals := make([]wasm.Global, 0, len(mod.globals)+1)
	for _, g := range mod.globals {
		g.Init = mod.renumberExpr(g.Init)
		globals = append(globals, g)
	}
	globals = append(globals, wasm.Global{
		Type: wasm.GlobalType{Type: wasm.I64, Mutable: true},
		Init: wasm.Expr{byte(wasm.OpI64Const), 0, byte(wasm.OpEnd)}})
	m.Put(wasm.SectionGlobal, wasm.EncodeGlobals(globals))

	exports := make([]wasm.Export, 0, len(mod.exports)+1)
	for _, e := range mod.exports {
		if e.Kind == wasm.KindFunc {
			e.Index = mod.funcIndex(e.Index)
		}
		exports = append(exports, e)
	}
	exports = append(exports, wasm.Export{Name: GlobalExport, Kind: wasm.KindGlobal, Index: mod.fuelGlobal})
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
			out = wasm.AppendU32Width(out, in.Index+1, in.End-in.IdxPos)
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
