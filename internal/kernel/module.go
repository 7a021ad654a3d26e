package kernel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fuel"
	"github.com/isle-run/isle/internal/shape"
	"github.com/isle-run/isle/internal/wasm"
)

// Module is compiled, fuel-instrumented code that processes are spawned
// from. It is immutable and shared by every process running it.
type Module struct {
	// Name is a label for traces and logs, such as the file name.
	Name string

	compiled wazero.CompiledModule
	// isGo marks modules built by the Go toolchain, whose runtime reports
	// fatal errors by printing and exiting with code 2.
	isGo bool
	// minMemory is the linear memory, in bytes, the module needs at start.
	minMemory uint64
	// hasMemory is true if the module defines a linear memory.
	hasMemory bool
	kind      moduleKind
	// usesWASI is true if the module imports anything from WASI.
	usesWASI bool
	// receivesHandles is true if processes of the module can be handed
	// capabilities in messages: reactors, and modules importing recv, call
	// or msg_handles.
	receivesHandles bool
	// hasInitialize is true if the module exports _initialize.
	hasInitialize bool
	// preloaded bounds the bytes of linear memory instantiation writes
	// (see preloadedBytes).
	preloaded uint64
	// fixedMemory is what every process of the module holds on the host
	// from its start beside its linear memory: its tables and its first
	// call stack budget.
	fixedMemory int64

	// sum is the hash of the module as loaded.
	sum [32]byte
	// rewritten is the instrumented module, kept for image candidates
	// (see imageCandidate): the images are made from it.
	rewritten []byte
	// images counts the images made or being made. Guarded by Kernel.mu.
	images int
	// goLoopFuel is, for a Go command, the fuel a clone of its image
	// spends that a run of its own does not (see goCut).
	goLoopFuel int64
	// startDormant and sleeps say when a reactor of the module may be
	// dormant (dormant.go); proven is set once an instance of it was made.
	startDormant, sleeps bool
	proven               atomic.Bool
	// globals names the exports of a reactor's mutable globals, in index
	// order (see exportGlobals).
	globals []string
	// wake is what a reactor put to sleep is woken with (dormant.go).
	wake wakeCode
	// imageCheck runs checkImageable once; imageRefusal is its verdict.
	imageCheck   sync.Once
	imageRefusal error
}

// tableElemBytes is what wazero holds per table element: one reference.
const tableElemBytes = 8

// tableBytes is what the tables a module declares take at start.
func tableBytes(bin []byte) (int64, error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return 0, err
	}
	s := mod.Section(wasm.SectionTable)
	if s == nil {
		return 0, nil
	}
	tables, err := wasm.DecodeTables(s.Payload)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range tables {
		n += int64(t.Limits.Min) * tableElemBytes
	}
	return n, nil
}

// initialMemory is the size, in bytes, of the linear memory the module
// defines at its start, exported or not: a spawn is charged for it before
// the instance exists (a reactor born dormant has none until its first
// turn). has reports whether it defines one at all.
func initialMemory(bin []byte) (size uint64, has bool, err error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return 0, false, err
	}
	s := mod.Section(wasm.SectionMemory)
	if s == nil {
		return 0, false, nil
	}
	mems, err := wasm.DecodeMemories(s.Payload)
	if err != nil || len(mems) == 0 {
		return 0, false, err
	}
	return uint64(mems[0].Min) * 65536, true, nil
}

// preloadedBytes bounds what instantiating the module writes into its
// linear memory: the end of its furthest active data segment, or all of it
// if it has a start function, whose code may write anywhere, or a segment
// whose offset is not a constant.
func preloadedBytes(bin []byte) (uint64, error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return 0, err
	}
	if mod.Section(wasm.SectionStart) != nil {
		return math.MaxUint64, nil
	}
	s := mod.Section(wasm.SectionData)
	if s == nil {
		return 0, nil
	}
	data, err := wasm.DecodeData(s.Payload)
	if err != nil {
		return 0, err
	}
	var end uint64
	for _, d := range data {
		if d.Flags == 1 { // passive: only guest code copies it in
			continue
		}
		off, ok := d.Offset.I32Const()
		if !ok {
			return math.MaxUint64, nil
		}
		end = max(end, uint64(off)+uint64(len(d.Init)))
	}
	return end, nil
}

type moduleKind uint8

const (
	kindNone    moduleKind = iota // nothing to run
	kindCommand                   // exports _start
	kindReactor                   // exports isle_handle and no _start
)

var wasmMagic = []byte{0, 'a', 's', 'm'}

// Load validates, instruments and compiles a module. Loading the same bytes
// twice returns the same Module. Compiling can take a while for a large
// module; when ctx ends first, Load returns at once with ctx's cause, and
// the compilation finishes in the background into the cache (its cost is
// bounded by the shape limits checked first).
//
// Safe from any goroutine.
func (k *Kernel) Load(ctx context.Context, name string, bin []byte) (*Module, error) {
	if !bytes.HasPrefix(bin, wasmMagic) {
		return nil, fmt.Errorf("%s: %w (it does not start with \\0asm)", name, isleapi.ErrNotWasm)
	}
	sum := sha256.Sum256(bin)
	k.mu.Lock()
	m, ok := k.modules[sum]
	k.mu.Unlock()
	if ok {
		return m, nil
	}
	if !k.startCompile() {
		return nil, fmt.Errorf("%s: %w", name, ErrNodeClosed)
	}
	if ctx.Done() == nil {
		defer k.compiles.Done()
		return k.compile(ctx, name, bin, sum)
	}
	type result struct {
		m   *Module
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer k.compiles.Done()
		m, err := k.compile(context.WithoutCancel(ctx), name, bin, sum)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		return r.m, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: loading stopped: %w", name, context.Cause(ctx))
	}
}

// startCompile counts a compilation in, unless the kernel is closed.
func (k *Kernel) startCompile() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false
	}
	k.compiles.Add(1)
	return true
}

// compile does the work of Load for a module not loaded before. The shape
// check comes first: wazero's compile time and memory grow faster than
// linearly in some shapes, and nothing else bounds them.
func (k *Kernel) compile(ctx context.Context, name string, bin []byte, sum [32]byte) (*Module, error) {
	if err := shape.Check(bin, k.shape); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, isleapi.ErrInvalidModule, err)
	}
	rewritten, err := k.instrument(sum, bin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, isleapi.ErrInvalidModule, err)
	}
	cut := withGoCut(rewritten)
	if cut != nil {
		rewritten = cut.bin
	}
	compiled, err := k.rt.CompileModule(ctx, rewritten)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, isleapi.ErrInvalidModule, err)
	}
	if missing := k.missingImports(compiled); len(missing) > 0 {
		_ = compiled.Close(ctx)
		return nil, fmt.Errorf("%s: %w", name, &isleapi.MissingImportsError{Missing: missing})
	}
	tables, err := tableBytes(bin)
	if err != nil {
		_ = compiled.Close(ctx)
		return nil, fmt.Errorf("%s: %w: %w", name, isleapi.ErrInvalidModule, err)
	}
	preloaded, err := preloadedBytes(rewritten)
	if err != nil {
		_ = compiled.Close(ctx)
		return nil, fmt.Errorf("%s: %w: %w", name, isleapi.ErrInvalidModule, err)
	}
	m := &Module{Name: name, compiled: compiled, isGo: hasCustomSection(compiled, "go:buildid"),
		fixedMemory: tables + fuel.StackInitial, preloaded: preloaded, sum: sum}
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch {
		case mod == wasiModule:
			m.usesWASI = true
		case mod == isleModule && (name == "recv" || name == "call" || name == "msg_handles"):
			m.receivesHandles = true
		}
	}
	exports := compiled.ExportedFunctions()
	_, m.hasInitialize = exports[initializeExport]
	if _, ok := exports[entryPoint]; ok {
		m.kind = kindCommand
	} else if _, ok := exports[handlerExport]; ok {
		m.kind = kindReactor
		m.receivesHandles = true
	}
	if m.minMemory, m.hasMemory, err = initialMemory(rewritten); err != nil {
		_ = compiled.Close(ctx)
		return nil, fmt.Errorf("%s: %w: %w", name, isleapi.ErrInvalidModule, err)
	}
	if m.kind == kindReactor {
		if m.startDormant, m.sleeps, err = dormancyRules(rewritten); err == nil {
			m.globals, err = globalExports(rewritten)
		}
		if m.sleeps && preloaded == 0 {
			m.wake.compiled = compiled
			m.wake.ready.Store(true)
		} else if m.sleeps {
			m.wake.src = rewritten
		}
		if err != nil {
			_ = compiled.Close(ctx)
			return nil, fmt.Errorf("%s: %w: %w", name, isleapi.ErrInvalidModule, err)
		}
	}
	if m.kind == kindReactor && m.hasInitialize || m.kind == kindCommand && cut != nil {
		m.rewritten = rewritten
	}
	if cut != nil {
		m.goLoopFuel = cut.loopFuel
	}
	k.mu.Lock()
	prev, lost := k.modules[sum]
	if !lost {
		k.modules[sum] = m
	}
	k.mu.Unlock()
	if lost { // to another loader: keep one copy, and one hold on the code
		_ = compiled.Close(ctx)
		return prev, nil
	}
	return m, nil
}

// LoadFile reads and loads a module from disk.
//
// Safe from any goroutine.
func (k *Kernel) LoadFile(ctx context.Context, path string) (*Module, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return k.Load(ctx, path, bin)
}

// missingImports lists the imports the host does not provide. isle provides
// functions only; a module importing a memory, table or global cannot link.
func (k *Kernel) missingImports(c wazero.CompiledModule) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var missing []string
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		if !k.hostFuncs[mod+"."+name] {
			missing = append(missing, mod+"."+name)
		}
	}
	for _, m := range c.ImportedMemories() {
		mod, name, _ := m.Import()
		missing = append(missing, mod+"."+name+" (memory)")
	}
	return missing
}

func hasCustomSection(c wazero.CompiledModule, name string) bool {
	for _, s := range c.CustomSections() {
		if s.Name() == name {
			return true
		}
	}
	return false
}

const (
	wasiModule = "wasi_snapshot_preview1"
	isleModule = "isle" // internal/abi's ModuleName
)

// entryPoint is the export a command runs.
const entryPoint = "_start"

// IsReactor reports whether processes of this module are reactors.
func (m *Module) IsReactor() bool { return m.kind == kindReactor }
