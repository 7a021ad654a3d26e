package kernel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/wasm"
)

// An idle reactor needs its linear memory and its globals, nothing else of
// its wazero instance: about 2 KiB of Go heap per process (the instance,
// its globals, tables, module engine, and a WASI system context wazero
// makes for every instance) that BEAM's processes do without. So a reactor
// is dormant while it has no work, in two cases:
//
//   - From its spawn until its first turn, if nothing has to run at spawn
//     (no start function, no _initialize to run) and its module has been
//     instantiated before, so that instantiating it later can fail only as
//     any allocation can. Its initial memory is charged at spawn, as for
//     any process. Spawn then costs a process record, not an instance; the
//     first turn pays for the instance.
//   - After it has gone a whole sweep period without a turn (sweep.go),
//     if its module keeps no state but its memory and its number globals:
//     no start function, no instruction that changes a table or uses a
//     passive segment (the rules images follow, see checkImageable). Its
//     memory stays mapped, written and charged (linmem.Allocator.Retain);
//     its mutable globals are saved.
//
// A dormant reactor wakes at its next turn: a new instance of the same
// code without its data segments (wakeCode) takes its memory up again,
// grown to the size it had, and gets its globals back. Nothing the guest
// can observe differs.

// dormancy is what a dormant reactor keeps of its instance.
type dormancy struct {
	// size is its linear memory's size in bytes; zero for a reactor that
	// was never instantiated.
	size uint64
	// globals are its mutable globals' values, in index order.
	globals []uint64
}

// unborn is the dormancy of a reactor not instantiated yet.
var unborn = &dormancy{}

// dormancyRules reports, for a reactor's instrumented module, whether it
// may start dormant (it has no start function) and whether it may go
// dormant after it has run (see above).
func dormancyRules(bin []byte) (startDormant, sleeps bool, err error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return false, false, err
	}
	if mod.Section(wasm.SectionStart) != nil {
		return false, false, nil
	}
	return true, checkImageable(bin) == nil, nil
}

// wakeCode is the code a reactor put to sleep is woken with. It is the
// module itself when it has no data segment. Otherwise it is the module
// without them (the woken reactor's memory holds what they wrote, and
// more), compiled in the background the first time one of its reactors
// could sleep: none sleeps before it is ready.
type wakeCode struct {
	once     sync.Once
	src      []byte // the module to strip, until it is compiled
	ready    atomic.Bool
	failed   atomic.Bool           // it could not be made: the reactors stay awake
	compiled wazero.CompiledModule // set before ready
}

// wakeReady reports whether m's reactors can be woken, starting the wake
// module's compilation if it is not. Safe from any goroutine.
func (k *Kernel) wakeReady(m *Module) bool {
	w := &m.wake
	if w.ready.Load() {
		return true
	}
	w.once.Do(func() {
		if !k.startCompile() {
			w.failed.Store(true)
			return
		}
		src := w.src
		go func() {
			defer k.compiles.Done()
			c, err := k.compileWake(src)
			if err != nil {
				k.log.Debug("module's reactors stay awake", "module", m.Name, "reason", err)
				w.failed.Store(true)
				return
			}
			w.compiled = c
			w.src = nil
			w.ready.Store(true)
		}()
	})
	return false
}

// compileWake compiles bin without its data segments.
func (k *Kernel) compileWake(bin []byte) (wazero.CompiledModule, error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return nil, err
	}
	dropData(mod)
	return k.rt.CompileModule(context.Background(), mod.Encode())
}

// dropData removes mod's data segments and their count.
func dropData(mod *wasm.Module) {
	secs := mod.Sections[:0]
	for _, sec := range mod.Sections {
		if sec.ID != wasm.SectionData && sec.ID != wasm.SectionDataCount {
			secs = append(secs, sec)
		}
	}
	mod.Sections = secs
}

// startsDormant reports whether a new process of m is left uninstantiated
// until its first turn. Safe from any goroutine.
func (p *Process) startsDormant() bool {
	m := p.code()
	return p.reactor && p.initialized && m.startDormant && m.proven.Load() && !p.k.keepInstances
}

// code is the module the process's instance is made from.
func (p *Process) code() *Module {
	if img := p.startImage(); img != nil {
		return img.mod
	}
	return p.mod
}

// sleep closes an idle reactor's instance, keeping its memory and
// globals, if its module allows it. It reports whether it could not yet,
// as its module's wake code is still compiling: the reactor then keeps
// its instance and dispatch slot, and the sweep keeps it listed; asleep,
// it has given its slot back. Precondition: p.mu is held, and p is idle
// (schedIdle) and not dead: the sweep is its owner for this call (see
// keepListed).
func (p *Process) sleep() (later bool) {
	m := p.code()
	if p.inst == nil || p.dormant != nil || !m.sleeps || p.k.keepInstances {
		return false
	}
	if !p.k.wakeReady(m) {
		return !m.wake.failed.Load()
	}
	mem := p.inst.Memory()
	if mem == nil {
		return false
	}
	p.charge() // the fuel counter goes with the instance
	d := &dormancy{size: memoryBytes(mem), globals: make([]uint64, len(m.globals))}
	for i, name := range m.globals {
		d.globals[i] = p.inst.ExportedGlobal(name).Get()
	}
	p.alloc.Retain()
	p.unbind()
	_ = p.inst.Close(p.callCtx())
	p.inst, p.fuel.counter, p.callStack.global = nil, nil, nil
	p.dormant = d
	return false
}

// errWake wraps why a dormant reactor could not be given an instance.
var errWake = errors.New("could not instantiate the dormant reactor")

// wake gives a dormant reactor an instance again. Precondition: called by
// p's owner, in a turn, with p.dormant set.
func (p *Process) wake() error {
	d := p.dormant
	if err := p.instantiate(); err != nil {
		return fmt.Errorf("%w: %w", errWake, err)
	}
	if d != unborn {
		if err := p.restore(d); err != nil {
			return fmt.Errorf("%w: %w", errWake, err)
		}
	}
	p.mu.Lock()
	p.dormant = nil // under p.mu: Info reads it
	p.mu.Unlock()
	return nil
}

// restore grows the new instance's memory back to d's size, over the
// memory it kept (no byte is copied or charged again), and sets its
// mutable globals to d's values.
func (p *Process) restore(d *dormancy) error {
	mem := p.inst.Memory()
	if have := memoryBytes(mem); have < d.size {
		if _, ok := mem.Grow(uint32((d.size - have) / 65536)); !ok {
			return fmt.Errorf("its memory did not grow back to %d bytes", d.size)
		}
	}
	for i, name := range p.code().globals {
		g, ok := p.inst.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("its global %s is not a mutable export", name)
		}
		g.Set(d.globals[i])
	}
	return nil
}

// memoryBytes is mem's size in bytes. api.Memory.Size is a uint32, which
// wraps to 0 at the 4 GiB a wasm32 memory may reach; its page count does
// not.
func memoryBytes(mem api.Memory) uint64 {
	pages, _ := mem.Grow(0) // changes nothing
	return uint64(pages) * 65536
}

// globalExportPrefix begins the names of the exports exportGlobals adds:
// wazero sets a global only through an export.
const globalExportPrefix = "isle:global:"

// exportGlobals exports every mutable global bin defines, as
// globalExportPrefix and its index, so that the kernel can read and set
// them when a reactor goes dormant and wakes. The guest sees nothing of
// it. A module that already exports such a name is refused.
func exportGlobals(bin []byte) ([]byte, error) {
	mod, exports, err := decodeExports(bin)
	if err != nil {
		return nil, err
	}
	for _, e := range exports {
		if strings.HasPrefix(e.Name, globalExportPrefix) {
			return nil, fmt.Errorf("module exports a %s named %q: export names beginning with %q are reserved for the kernel",
				e.Kind, e.Name, globalExportPrefix)
		}
	}
	imported, err := importCount(mod, wasm.KindGlobal)
	if err != nil {
		return nil, err
	}
	s := mod.Section(wasm.SectionGlobal)
	if s == nil {
		return bin, nil
	}
	globals, err := wasm.DecodeGlobals(s.Payload)
	if err != nil {
		return nil, err
	}
	added := false
	for i, g := range globals {
		if g.Type.Mutable {
			idx := uint32(imported + i)
			exports = append(exports, wasm.Export{Name: globalExportPrefix + strconv.Itoa(int(idx)), Kind: wasm.KindGlobal, Index: idx})
			added = true
		}
	}
	if !added {
		return bin, nil
	}
	mod.Put(wasm.SectionExport, wasm.EncodeExports(exports))
	return mod.Encode(), nil
}

// decodeExports decodes bin and its exports, for a rewrite that adds some.
func decodeExports(bin []byte) (*wasm.Module, []wasm.Export, error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return nil, nil, err
	}
	var exports []wasm.Export
	if s := mod.Section(wasm.SectionExport); s != nil {
		if exports, err = wasm.DecodeExports(s.Payload); err != nil {
			return nil, nil, err
		}
	}
	return mod, exports, nil
}

// globalExports lists the names exportGlobals gave bin's mutable globals,
// in index order.
func globalExports(bin []byte) ([]string, error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return nil, err
	}
	s := mod.Section(wasm.SectionExport)
	if s == nil {
		return nil, nil
	}
	exports, err := wasm.DecodeExports(s.Payload)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range exports {
		if e.Kind == wasm.KindGlobal && strings.HasPrefix(e.Name, globalExportPrefix) {
			names = append(names, e.Name)
		}
	}
	return names, nil
}
