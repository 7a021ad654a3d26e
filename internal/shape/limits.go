package shape

import (
	"fmt"

	isleapi "github.com/isle-run/isle/api"
)

// Limits bound the shape of a module. A zero field means the default from
// DefaultLimits; a negative one allows none. Counts and sizes are read
// from the binary exactly, and each is compared before anything is walked
// or allocated for it; the two work limits bound an estimate (see the
// package documentation).
type Limits struct {
	// ModuleBytes bounds the whole binary. It also bounds what wazero
	// allocates in proportion to the bytes (copies of custom sections, data
	// segments and bodies, and the compiled code).
	ModuleBytes int
	// CustomSections bounds the number of custom sections; wazero copies
	// each one into its own allocation.
	CustomSections int
	// Types bounds the entries of the type section.
	Types int
	// TypeArity bounds the params plus results of one function type. Every
	// call and every branch to a block of that type moves that many values
	// with a few bytes of code.
	TypeArity int
	// Imports bounds the entries of the import section.
	Imports int
	// Functions bounds the functions, imported and defined together.
	Functions int
	// Tables bounds the tables, imported and defined together.
	Tables int
	// TableMin bounds the declared minimum size of one table, in elements;
	// wazero allocates that many references for every instance.
	TableMin int
	// MemoryMinPages bounds the declared minimum size of the memory, in
	// 64 KiB pages; every instance starts with that much.
	MemoryMinPages int
	// Globals bounds the globals, imported and defined together.
	Globals int
	// Exports bounds the entries of the export section.
	Exports int
	// ElemSegments bounds the entries of the element section.
	ElemSegments int
	// ElemSegmentItems bounds the items of one element segment; wazero
	// allocates a constant expression for each.
	ElemSegmentItems int
	// DataSegments bounds the entries of the data section.
	DataSegments int
	// FunctionBytes bounds the body of one function, locals included.
	FunctionBytes int
	// Locals bounds the params plus declared locals of one function.
	// wazero allocates a byte for each before it validates the body.
	Locals int
	// Nesting bounds how deep block, loop and if nest in one function.
	// wazero's compile time grows with the square of it.
	Nesting int
	// BrTableTargets bounds the targets of one br_table, default included.
	BrTableTargets int
	// FunctionWork bounds the estimated compile work of one function, in
	// units of about a nanosecond of compile CPU (see fnCost). It bounds
	// what the shapes that compile in more than linear time (long chains
	// of blocks, many locals in nested loops) may cost, and the memory of
	// compiling one function.
	FunctionWork int
	// CompileWork bounds the estimated compile work of all functions
	// together, and so the compile time of the module.
	CompileWork int
}

// DefaultLimits returns the limits Check applies to zero fields. They admit
// every real program measured (see the package documentation) with a
// margin of four times or more, and hold the worst module they admit to
// about four times the compile time and memory of the largest (about 40 s
// of CPU and 0.8 GB on the machine measured).
func DefaultLimits() Limits {
	return Limits{
		ModuleBytes:      defaultModuleBytes,
		CustomSections:   defaultCustomSections,
		Types:            defaultTypes,
		TypeArity:        defaultTypeArity,
		Imports:          defaultImports,
		Functions:        defaultFunctions,
		Tables:           defaultTables,
		TableMin:         defaultTableMin,
		MemoryMinPages:   defaultMemoryMinPages,
		Globals:          defaultGlobals,
		Exports:          defaultExports,
		ElemSegments:     defaultElemSegments,
		ElemSegmentItems: defaultElemSegmentItems,
		DataSegments:     defaultDataSegments,
		FunctionBytes:    defaultFunctionBytes,
		Locals:           defaultLocals,
		Nesting:          defaultNesting,
		BrTableTargets:   defaultBrTableTargets,
		FunctionWork:     defaultFunctionWork,
		CompileWork:      defaultCompileWork,
	}
}

// The defaults; the package documentation gives the measurements behind
// each one.
const (
	defaultModuleBytes      = 64 << 20
	defaultCustomSections   = 256
	defaultTypes            = 4096
	defaultTypeArity        = 128
	defaultImports          = 1024
	defaultFunctions        = 65536
	defaultTables           = 8
	defaultTableMin         = 131072
	defaultMemoryMinPages   = 16384
	defaultGlobals          = 1024
	defaultExports          = 16384
	defaultElemSegments     = 1024
	defaultElemSegmentItems = 131072
	defaultDataSegments     = 524288
	defaultFunctionBytes    = 1 << 20
	defaultLocals           = 4096
	defaultNesting          = 4096
	defaultBrTableTargets   = 65536
	defaultFunctionWork     = 1_000_000_000
	defaultCompileWork      = 40_000_000_000
)

// fieldNames are the names of the Limits fields, in the order fields
// returns them; they are the LimitError.Limit values.
var fieldNames = [...]string{"ModuleBytes", "CustomSections", "Types", "TypeArity",
	"Imports", "Functions", "Tables", "TableMin", "MemoryMinPages", "Globals",
	"Exports", "ElemSegments", "ElemSegmentItems", "DataSegments",
	"FunctionBytes", "Locals", "Nesting", "BrTableTargets", "FunctionWork", "CompileWork"}

// fields points at every field of l, in the order of fieldNames.
func (l *Limits) fields() [len(fieldNames)]*int {
	return [...]*int{&l.ModuleBytes, &l.CustomSections, &l.Types, &l.TypeArity,
		&l.Imports, &l.Functions, &l.Tables, &l.TableMin, &l.MemoryMinPages, &l.Globals,
		&l.Exports, &l.ElemSegments, &l.ElemSegmentItems, &l.DataSegments,
		&l.FunctionBytes, &l.Locals, &l.Nesting, &l.BrTableTargets, &l.FunctionWork, &l.CompileWork}
}

// withDefaults fills the zero fields of l from DefaultLimits; a negative
// field admits nothing.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	df := d.fields()
	for i, f := range l.fields() {
		if *f == 0 {
			*f = *df[i]
		}
	}
	return l
}

// ErrShape is wrapped by every error Check returns: a limit exceeded
// (*LimitError) or a module too malformed to measure.
var ErrShape = isleapi.ErrModuleShape

// LimitError reports one limit a module exceeds.
type LimitError struct {
	// Limit is the name of the Limits field, such as "Nesting".
	Limit string
	// Where names the offending item: "module", "type 3", "table 0",
	// "element segment 2" or "function 12 (main.main)". Function numbers
	// are indices in the function index space, imports first.
	Where string
	// Value is what the module has; Max is the limit it exceeds.
	Value, Max uint64
}

// Error says what exceeds which limit, in one line.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: %s, over the limit of %d", ErrShape, e.describe(), e.Max)
}

// describe words the value for each limit.
func (e *LimitError) describe() string {
	w, v := e.Where, e.Value
	switch e.Limit {
	case "ModuleBytes":
		return fmt.Sprintf("%s is %d bytes", w, v)
	case "TypeArity":
		return fmt.Sprintf("%s has %d params and results", w, v)
	case "TableMin":
		return fmt.Sprintf("%s starts with %d elements", w, v)
	case "MemoryMinPages":
		return fmt.Sprintf("%s starts with %d pages", w, v)
	case "ElemSegmentItems":
		return fmt.Sprintf("%s has %d items", w, v)
	case "FunctionBytes":
		return fmt.Sprintf("%s has a body of %d bytes", w, v)
	case "Locals":
		return fmt.Sprintf("%s has %d params and locals", w, v)
	case "Nesting":
		return fmt.Sprintf("%s nests blocks %d deep", w, v)
	case "BrTableTargets":
		return fmt.Sprintf("%s has a br_table of %d targets", w, v)
	case "FunctionWork", "CompileWork":
		return fmt.Sprintf("%s needs an estimated %d units of compile work", w, v)
	}
	return fmt.Sprintf("%s has %d %s", w, v, countNoun(e.Limit))
}

// countNoun names what a count limit counts.
func countNoun(limit string) string {
	switch limit {
	case "CustomSections":
		return "custom sections"
	case "ElemSegments":
		return "element segments"
	case "DataSegments":
		return "data segments"
	}
	// Types, Imports, Functions, Tables, Globals, Exports.
	b := []byte(limit)
	if len(b) > 0 && b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}

// Unwrap makes errors.Is(err, ErrShape) hold.
func (e *LimitError) Unwrap() error { return ErrShape }
