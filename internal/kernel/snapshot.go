package kernel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/fuel"
	"github.com/isle-run/isle/internal/linmem"
	"github.com/isle-run/isle/internal/wasip1"
	"github.com/isle-run/isle/internal/wasm"
)

// An image is safe only if a clone of it is indistinguishable from a
// process that ran _initialize itself, fresh clock and entropy aside. So
// the snapshot's init runs against host modules that let through only
// what isle can stand behind:
//
//   - WASI calls that read the process's view, all of it in the image's
//     key: arguments, environment, preopen names, descriptor status; the
//     clock and entropy (clones get fresh ones, see image.go); and
//     fd_fdstat_set_flags, which changes nothing while no file is open.
//   - isle's inbox, which the kernel replays for every clone.
//   - the fuel imports, which meter the init like any other code.
//
// Anything else (a write, opening a file, a message, a spawn, a handle)
// traps the snapshot, and the module runs its init in every process, as
// before. So do modules whose code could change what the image cannot
// hold (table mutation, passive segments), with a start function, with
// mutable globals of reference or vector type, or whose init traps, runs
// out of time, or needs more than snapshotMemory.
var initWASI = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_time_get": true, "clock_res_get": true, "random_get": true, "sched_yield": true,
	"fd_fdstat_get": true, "fd_fdstat_set_flags": true, "fd_prestat_get": true, "fd_prestat_dir_name": true,
}

// Bounds on one snapshot's init.
const (
	snapshotTimeout = 30 * time.Second
	snapshotMemory  = 1 << 30
)

// initForbidden is the trap of a call the snapshot cannot replay.
type initForbidden struct{ name string }

func (e *initForbidden) Error() string { return "its init calls " + e.name }

// snapshotConfig is the WASI configuration a snapshot runs with for
// processes whose configuration is cfg: the same view, and nothing else.
// Its streams are absent (nothing may read or write them) but report the
// same terminals; its entropy is the system's, whatever the processes'
// source, so that no clone shares a stream's state with the process that
// caused the snapshot.
func snapshotConfig(cfg *wasip1.Config) wasip1.Config {
	s := wasip1.Config{Args: cfg.Args, Env: cfg.Env, Terminals: wasip1.Terminals(cfg), Clock: cfg.Clock}
	if cfg.Random != nil {
		s.Random = rand.Reader
	}
	for _, p := range cfg.Preopens {
		s.Preopens = append(s.Preopens, wasip1.Preopen{Path: p.Path}) // opening any is forbidden
	}
	return s
}

// makeImage snapshots m's init under cfg and builds the image.
func (k *Kernel) makeImage(m *Module, cfg *wasip1.Config, lim imageLimits) (*image, error) {
	if err := m.imageable(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoImage, m.Name, err)
	}
	if cfg.Clock == nil || cfg.Clock.Virtual() {
		cfg.Clock = wasip1.NewVirtualClock()
	} else {
		cfg.Clock = wasip1.NewRealClock(k.epoch)
	}
	snap, err := k.snapshot(m, cfg, lim)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoImage, m.Name, err)
	}
	img, err := k.buildImage(m, snap)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoImage, m.Name, err)
	}
	img.virtual = cfg.Clock.Virtual()
	return img, nil
}

// snapshotState is what a snapshot's init left.
type snapshotState struct {
	memory          *linmem.Image
	globals         []uint64 // every global, by index
	inbox, inboxCap uint32
	mono            int64
	fuel            int64 // what the init spent
	// short records what a charge of the init's that was refused for want
	// of a budget ran out of (budgetError): a later try may succeed.
	short atomic.Uint32
}

var guardSeq atomic.Uint64

// imageLimits bounds the init an image is made from by the budget of the
// tree whose spawn asked for it: an image must not make the node spend
// more memory or fuel on a tree's behalf than the tree could itself.
// Zero is no bound beyond snapshotMemory and snapshotTimeout.
type imageLimits struct {
	memory  int64 // bytes
	fuel    int64
	timeout time.Duration
}

// ranOut says what budget g, a snapshot's tree, ran out of, if the
// init's end (err) was for want of the asking tree's (lim) and not the
// snapshot's own bounds or the module's doing: charged, what a refused
// charge ran out of; otherwise fuel, if the init was abandoned for it, or
// time, if the tree's timeout ended it.
func (g *Group) ranOut(lim imageLimits, err error, charged budget) budget {
	switch {
	case charged != enough:
		return charged
	case err != nil && lim.fuel > 0 && fault.FromError(err).Cause == isleapi.CauseFuelExhausted:
		return outOfFuel
	case lim.timeout > 0 && lim.timeout < snapshotTimeout && g.killReason() == "timeout":
		return outOfTime
	}
	return enough
}

// snapshot runs m's _initialize in an instance of its own, in a tree of
// its own bounded by lim, against the guard host modules, and reads what
// it left. Closing the kernel ends it.
func (k *Kernel) snapshot(m *Module, cfg *wasip1.Config, lim imageLimits) (*snapshotState, error) {
	p := &Process{k: k, mod: m, extra: &extras{snap: &snapshotState{}}}
	p.handles.owned = true
	ctx := context.Background()
	memory := int64(snapshotMemory)
	if lim.memory > 0 {
		memory = min(memory, lim.memory)
	}
	timeout := snapshotTimeout
	if lim.timeout > 0 {
		timeout = min(timeout, lim.timeout)
	}
	g := k.newGroup(k.stop, GroupLimits{Memory: memory, Fuel: lim.fuel, Timeout: timeout, Processes: 1})
	p.group = g
	if err := g.join(p); err != nil {
		return nil, err
	}
	defer g.leave(p)
	defer p.closeMem()
	start := ProcessOverhead + m.fixedMemory + int64(m.minMemory)
	if full := p.chargeMem(start); full != nil {
		err := fmt.Errorf("%w: %s", ErrLimit, full.describeFull(start))
		if short := k.refusal(full); short != enough {
			err = budgetError{err, short}
		}
		return nil, err
	}
	// The tree's limit, not the memory's, refuses growth past the asking
	// tree's budget: its refusal is a charge's, which marks the build as
	// out of budget (Process.makeRoom) and so to be tried again.
	p.alloc.Limit = snapshotMemory
	p.alloc.Account = memAccount{p}
	p.alloc.Prepaid = m.minMemory
	p.fuel = fuelState{}
	guards, err := k.initGuards(ctx, m)
	for _, gm := range guards {
		defer gm.Close(ctx)
	}
	if err != nil {
		return nil, err
	}
	p.setContext(experimental.WithImportResolver(ctx, func(name string) api.Module {
		if g, ok := guards[name]; ok {
			return g.(guardInstance).Module // wazero takes only its own instances
		}
		return nil
	}))
	if m.usesWASI {
		p.wasi = wasip1.New(p, *cfg)
		defer p.wasi.Close()
	}
	if err := p.instantiate(); err != nil {
		return nil, err
	}
	defer p.inst.Close(ctx)
	if err := p.grantSlice(); err != nil {
		return nil, err
	}
	init := initializeExport
	if m.kind == kindCommand {
		init = entryPoint // it stops at main.main (see gocut.go)
		p.inst.ExportedGlobal(goCutExport).(api.MutableGlobal).Set(cutPause)
	}
	p.alloc.Run()
	if _, err := p.inst.ExportedFunction(init).Call(p.callCtx()); err != nil {
		var forbidden *initForbidden
		if errors.As(err, &forbidden) {
			return nil, forbidden
		}
		err = fmt.Errorf("its init failed: %w", err)
		if short := g.ranOut(lim, err, budget(p.extra.snap.short.Load())); short != enough {
			err = budgetError{err, short}
		}
		return nil, err
	}
	if reason := g.killReason(); reason != "" {
		// Ended between two fuel yields, the init may still have returned.
		err := fmt.Errorf("its init was ended: %s", reason)
		if short := g.ranOut(lim, nil, enough); short != enough {
			err = budgetError{err, short}
		}
		return nil, err
	}
	p.charge()
	p.extra.snap.fuel = p.spent.Load() - m.goLoopFuel // a clone pays for its loop's entry itself
	s, err := p.readSnapshot(cfg)
	if err == nil && m.kind == kindCommand && p.inst.ExportedGlobal(goCutExport).Get() != cutDone {
		k.discardSnapshot(s)
		return nil, errors.New("its _start returned before main.main")
	}
	return s, err
}

// readSnapshot copies out the instance's memory and globals.
func (p *Process) readSnapshot(cfg *wasip1.Config) (*snapshotState, error) {
	s := p.extra.snap
	mem := p.inst.Memory()
	if mem == nil || memoryBytes(mem) == 0 {
		return nil, errors.New("it has no linear memory")
	}
	if mem.Size() == 0 { // a uint32: 4 GiB reads 0
		return nil, errors.New("its linear memory is 4 GiB, more than an image holds")
	}
	im, ok := p.inst.(experimental.InternalModule)
	if !ok {
		return nil, errors.New("wazero does not expose the instance's globals")
	}
	s.globals = make([]uint64, im.NumGlobal())
	for i := range s.globals {
		s.globals[i] = im.Global(i).Get()
	}
	if s.inboxCap > 0 && uint64(s.inbox)+uint64(s.inboxCap) > uint64(mem.Size()) {
		return nil, errors.New("its init set an inbox outside its memory")
	}
	if cfg.Clock != nil {
		s.mono = cfg.Clock.Now(wasip1.ClockMonotonic)
	}
	// The memfd is charged to the node before it is filled: while the
	// instance still holds its memory the build holds it twice, and both
	// must fit under the ceiling. The image keeps the charge.
	size := int64(mem.Size())
	if full := p.k.node.charge(size); full != nil {
		return nil, budgetError{fmt.Errorf("%w: %s", ErrLimit, full.describeFull(size)), outOfRoom}
	}
	b, _ := mem.Read(0, mem.Size()) // the instance's own bytes: copy before it closes
	img, err := linmem.NewImage("isle-image:"+p.mod.Name, b)
	if err != nil {
		p.k.node.uncharge(size)
		return nil, err
	}
	s.memory = img
	return s, nil
}

// discardSnapshot releases the memfd of a snapshot that makes no image,
// and its charge.
func (k *Kernel) discardSnapshot(s *snapshotState) {
	size := int64(s.memory.Size())
	_ = s.memory.Close()
	k.node.uncharge(size)
}

// initGuards builds the host modules a snapshot's imports resolve to, by
// import module name: WASI with only initWASI, isle with only inbox, and
// every other host module with nothing. The fuel imports resolve as usual.
func (k *Kernel) initGuards(ctx context.Context, m *Module) (map[string]api.Module, error) {
	out := map[string]api.Module{}
	seq := guardSeq.Add(1)
	byModule := map[string][]api.FunctionDefinition{}
	for _, f := range m.compiled.ImportedFunctions() {
		mod, _, _ := f.Import()
		if mod != fuelImportModule {
			byModule[mod] = append(byModule[mod], f)
		}
	}
	for mod, fns := range byModule {
		b := k.rt.NewHostModuleBuilder(fmt.Sprintf("isle:init-guard:%d:%s", seq, mod))
		for _, f := range fns {
			_, name, _ := f.Import()
			fn := guardFunc(mod, name)
			b.NewFunctionBuilder().WithGoModuleFunction(fn, f.ParamTypes(), f.ResultTypes()).WithName(name).Export(name)
		}
		// Instantiated through the runtime: wazero's import resolver takes
		// only its own instances, not the builder's wrapper.
		c, err := b.Compile(ctx)
		if err != nil {
			return out, fmt.Errorf("guard module for %s: %w", mod, err)
		}
		inst, err := k.rt.InstantiateModule(ctx, c, wazero.NewModuleConfig())
		if err != nil {
			_ = c.Close(ctx)
			return out, fmt.Errorf("guard module for %s: %w", mod, err)
		}
		out[mod] = guardInstance{inst, c}
	}
	return out, nil
}

// guardInstance is a guard module's instance, which closes its compiled
// module with it.
type guardInstance struct {
	api.Module
	compiled wazero.CompiledModule
}

// Close implements api.Closer.
func (g guardInstance) Close(ctx context.Context) error {
	err := g.Module.Close(ctx)
	_ = g.compiled.Close(ctx)
	return err
}

// guardFunc is what a snapshot's import mod.name runs: the real function,
// a recording of it, or a trap.
func guardFunc(mod, name string) api.GoModuleFunc {
	switch {
	case mod == wasiModule && initWASI[name]:
		if f, _, _, ok := wasip1.HostFunc(name, wasiState); ok {
			return f
		}
	case mod == isleModule && name == "inbox":
		return recordInbox
	}
	forbidden := &initForbidden{name: mod + "." + name}
	return func(context.Context, api.Module, []uint64) { panic(forbidden) }
}

// recordInbox is isle's inbox during a snapshot: kept, to be given to
// every clone.
func recordInbox(ctx context.Context, _ api.Module, stack []uint64) {
	p := processFrom(ctx)
	p.extra.snap.inbox, p.extra.snap.inboxCap = uint32(stack[0]), uint32(stack[1])
	stack[0] = 0
}

// imageable checks, once, what in m's code and declarations an image
// cannot hold, and makes the module images of m are made from.
func (m *Module) imageable() error {
	m.imageCheck.Do(func() { m.imageRefusal = checkImageable(m.rewritten) })
	return m.imageRefusal
}

// Instructions that change tables or use passive segments: the image
// keeps tables as instantiation makes them and drops every data segment.
var imageForbiddenOps = map[wasm.Opcode]string{
	0x26:                     "table.set",
	wasm.PrefixMisc<<16 | 8:  "memory.init",
	wasm.PrefixMisc<<16 | 9:  "data.drop",
	wasm.PrefixMisc<<16 | 12: "table.init",
	wasm.PrefixMisc<<16 | 13: "elem.drop",
	wasm.PrefixMisc<<16 | 14: "table.copy",
	wasm.PrefixMisc<<16 | 15: "table.grow",
	wasm.PrefixMisc<<16 | 17: "table.fill",
}

func checkImageable(bin []byte) error {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return err
	}
	if mod.Section(wasm.SectionStart) != nil {
		return errors.New("it has a start function")
	}
	if s := mod.Section(wasm.SectionImport); s != nil {
		imports, err := wasm.DecodeImports(s.Payload)
		if err != nil {
			return err
		}
		for _, im := range imports {
			if im.Kind != wasm.KindFunc {
				return fmt.Errorf("it imports a %s", im.Kind)
			}
		}
	}
	if err := checkImageGlobals(mod); err != nil {
		return err
	}
	s := mod.Section(wasm.SectionMemory)
	if s == nil {
		return errors.New("it has no linear memory")
	}
	mems, err := wasm.DecodeMemories(s.Payload)
	if err != nil {
		return err
	}
	if len(mems) != 1 || mems[0].Flags&2 != 0 {
		return errors.New("it has no single unshared linear memory")
	}
	return checkImageCode(mod)
}

func checkImageGlobals(mod *wasm.Module) error {
	s := mod.Section(wasm.SectionGlobal)
	if s == nil {
		return nil
	}
	globals, err := wasm.DecodeGlobals(s.Payload)
	if err != nil {
		return err
	}
	for i, g := range globals {
		switch g.Type.Type {
		case wasm.I32, wasm.I64, wasm.F32, wasm.F64:
		default:
			if g.Type.Mutable {
				return fmt.Errorf("global %d is a mutable %s", i, g.Type.Type)
			}
		}
	}
	return nil
}

func checkImageCode(mod *wasm.Module) error {
	s := mod.Section(wasm.SectionCode)
	if s == nil {
		return nil
	}
	code, err := wasm.DecodeCode(s.Payload)
	if err != nil {
		return err
	}
	// The helpers that fill lazy tables write to them: the image may keep
	// those tables empty, as instantiation makes them, and fill them again.
	fills, err := lazyFills(mod)
	if err != nil {
		return err
	}
	var r wasm.Reader
	var in wasm.Instr
	for i, c := range code {
		if fills[uint32(i)] {
			continue
		}
		_, start, err := wasm.Locals(c.Body)
		if err != nil {
			return err
		}
		r.Reset(c.Body)
		r.Seek(start)
		for {
			if err := r.Next(&in); err != nil {
				break
			}
			if name, bad := imageForbiddenOps[in.Op]; bad {
				return fmt.Errorf("function %d uses %s", i, name)
			}
		}
	}
	return nil
}

// lazyFills returns the code indices of the functions that fill the
// module's lazy tables (fuel.LazyTable.Fills).
func lazyFills(mod *wasm.Module) (map[uint32]bool, error) {
	lazy, err := fuel.LazyTables(mod)
	if err != nil || len(lazy) == 0 {
		return nil, err
	}
	imported, err := importCount(mod, wasm.KindFunc)
	if err != nil {
		return nil, err
	}
	fills := map[uint32]bool{}
	for _, lt := range lazy {
		for _, f := range lt.Fills {
			if f >= uint32(imported) {
				fills[f-uint32(imported)] = true
			}
		}
	}
	return fills, nil
}

// importCount is how many of mod's imports are of kind: the first indices
// of that space.
func importCount(mod *wasm.Module, kind wasm.ExternKind) (int, error) {
	s := mod.Section(wasm.SectionImport)
	if s == nil {
		return 0, nil
	}
	imports, err := wasm.DecodeImports(s.Payload)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, im := range imports {
		if im.Kind == kind {
			n++
		}
	}
	return n, nil
}

// buildImage makes the image module and the memfd from a snapshot.
func (k *Kernel) buildImage(m *Module, s *snapshotState) (*image, error) {
	bin, err := imageModule(m.rewritten, s)
	if err != nil {
		k.discardSnapshot(s)
		return nil, err
	}
	ctx := context.Background()
	compiled, err := k.rt.CompileModule(ctx, bin)
	if err != nil {
		k.discardSnapshot(s)
		return nil, fmt.Errorf("compile the image module: %w", err)
	}
	mem := s.memory // charged to the node's ceiling since readSnapshot
	im := &Module{Name: m.Name, compiled: compiled, isGo: m.isGo, minMemory: mem.Size(), hasMemory: true, kind: m.kind,
		usesWASI: m.usesWASI, receivesHandles: m.receivesHandles, fixedMemory: m.fixedMemory, sum: m.sum,
		startDormant: true, sleeps: true, globals: m.globals} // imageable, and with no data segment
	im.wake.compiled = compiled
	im.wake.ready.Store(true)
	img := &image{mod: im, mem: mem, inbox: s.inbox, inboxCap: s.inboxCap, mono: s.mono, fuel: s.fuel}
	img.refs.Store(1) // the cache's
	img.memRefs.Store(1)
	return img, nil
}

// imageModule rewrites bin (the fuel-instrumented module) into the image
// module of s: mutable globals start at their snapshot values, except the
// fuel counter and stack budget, which every process starts afresh; the
// memory starts at the snapshot's size; data segments are gone.
func imageModule(bin []byte, s *snapshotState) ([]byte, error) {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return nil, err
	}
	keep := map[uint32]bool{}
	if sec := mod.Section(wasm.SectionExport); sec != nil {
		exports, err := wasm.DecodeExports(sec.Payload)
		if err != nil {
			return nil, err
		}
		for _, e := range exports {
			if e.Kind == wasm.KindGlobal && (e.Name == fuelGlobalExport || e.Name == stackGlobalExport) {
				keep[e.Index] = true
			}
		}
	}
	if sec := mod.Section(wasm.SectionGlobal); sec != nil {
		globals, err := wasm.DecodeGlobals(sec.Payload)
		if err != nil {
			return nil, err
		}
		if len(globals) != len(s.globals) {
			return nil, fmt.Errorf("the snapshot has %d globals, the module %d", len(s.globals), len(globals))
		}
		for i := range globals {
			if globals[i].Type.Mutable && !keep[uint32(i)] {
				globals[i].Init = constExpr(globals[i].Type.Type, s.globals[i])
			}
		}
		mod.Put(wasm.SectionGlobal, wasm.EncodeGlobals(globals))
	}
	mems, err := wasm.DecodeMemories(mod.Section(wasm.SectionMemory).Payload)
	if err != nil {
		return nil, err
	}
	pages := s.memory.Size() / 65536
	if pages > math.MaxUint32 || (mems[0].Flags&1 != 0 && uint64(mems[0].Max) < pages) {
		return nil, fmt.Errorf("the snapshot's %d pages do not fit the memory's limits", pages)
	}
	mems[0].Min = uint32(pages)
	mod.Put(wasm.SectionMemory, wasm.EncodeMemories(mems))
	dropData(mod)
	return mod.Encode(), nil
}

// constExpr is the constant expression of a global's value as wazero
// reports it: the bits, zero-extended to 64.
func constExpr(t wasm.ValType, v uint64) wasm.Expr {
	var e []byte
	switch t {
	case wasm.I32:
		e = wasm.AppendS64([]byte{byte(wasm.OpI32Const)}, int64(int32(uint32(v))))
	case wasm.I64:
		e = wasm.AppendS64([]byte{byte(wasm.OpI64Const)}, int64(v))
	case wasm.F32:
		e = binary.LittleEndian.AppendUint32([]byte{byte(wasm.OpF32Const)}, uint32(v))
	case wasm.F64:
		e = binary.LittleEndian.AppendUint64([]byte{byte(wasm.OpF64Const)}, v)
	}
	return append(e, byte(wasm.OpEnd))
}
