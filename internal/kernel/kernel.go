package kernel

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/linmem"
	"github.com/isle-run/isle/internal/polite"
	"github.com/isle-run/isle/internal/shape"
	"github.com/isle-run/isle/internal/wasip1"
)

// DefaultFuelSlice is how much fuel a process runs on between two visits
// to the host: see polite.Slice.
const DefaultFuelSlice = polite.Slice

// Config configures a Kernel.
type Config struct {
	// CacheDir holds compiled code and rewritten modules across runs. Empty
	// means an in-memory cache only.
	CacheDir string
	// Logger receives the kernel's own logs. Nil discards them.
	Logger *slog.Logger
	// FuelSlice overrides DefaultFuelSlice.
	FuelSlice int64
	// MaxProcesses bounds the live processes on the node; zero means
	// DefaultMaxProcesses.
	MaxProcesses int
	// SpawnQuota bounds the live processes of one process tree (a process
	// the host spawned and its descendants); zero means DefaultSpawnQuota.
	SpawnQuota int
	// MaxMemory is the node's ceiling on what all its processes hold
	// together, in bytes (see Group). Zero means DefaultMaxMemory.
	MaxMemory int64
	// ModuleShape bounds what a module may look like before it is
	// compiled; zero fields are shape.DefaultLimits.
	ModuleShape shape.Limits
	// HandleFS, if set, makes a file system for each process that uses
	// WASI, mounted at HandleMount: how directory capabilities that arrive
	// at run time become paths (see internal/services/dirs). HandleFSKind
	// is the kind of the handles it serves: a process granted one, or
	// able to receive one, gets the mount.
	HandleFS     func(p *Process) experimentalsys.FS
	HandleFSKind capkind.Kind
	// Tracer, if set, makes spans of turns, receives and calls.
	Tracer Tracer
	// OnExit, if set, is told of every process that ends, once it has
	// ended, on the goroutine that tore it down: it must not block.
	OnExit func(p *Process, exit isleapi.Exit)
	// NoImages turns images off: every reactor runs its own _initialize
	// (see image.go).
	NoImages bool
	// IdleSweep is the idle sweep's period (sweep.go); sweepPeriod if
	// zero.
	IdleSweep time.Duration
	// KeepInstances turns dormancy off (dormant.go).
	KeepInstances bool
	// MaxFiles bounds the host descriptors the node's guests hold open
	// together; zero means HostFiles, which bounds every node of the OS
	// process together anyway (files.go).
	MaxFiles int64
	// TreeFiles bounds the host descriptors one process tree holds open,
	// unless its spawn says otherwise; zero means DefaultTreeFiles, or a
	// quarter of the node's budget if that is less.
	TreeFiles int64
}

// HandleMount is where a process's HandleFS is mounted.
const HandleMount = "/.cap"

// Defaults for Config.
const (
	DefaultMaxProcesses = 1_000_000
	DefaultSpawnQuota   = 100_000
)

// Kernel is one node's process runtime.
type Kernel struct {
	rt        wazero.Runtime
	log       *slog.Logger
	cacheDir  string
	fuelSlice int64
	maxProcs  int
	quota     int64
	treeFiles int64 // a tree's default bound on host descriptors
	handleFS  func(p *Process) experimentalsys.FS
	fsKind    capkind.Kind
	onExit    func(*Process, isleapi.Exit)
	sched     *scheduler
	// sweeper puts idle reactors to sleep (sweep.go).
	sweeper idleSweeper
	// dispatch holds the handlers of reactors with an instance (dispatch.go).
	dispatch dispatcher
	// node is the group every process tree belongs to: its memory limit
	// is the node's ceiling.
	node *Group
	// uncapWarm lifts the node's cap on the pages dead processes leave
	// warm (linmem.CapWarm): a sixteenth of its ceiling.
	uncapWarm func()
	// shape bounds modules before they are compiled.
	shape shape.Limits
	// baseConfig is shared by every process; see moduleConfig.
	baseConfig wazero.ModuleConfig
	// epoch is when the kernel started: a cheap monotonic origin.
	epoch time.Time
	// traces numbers causality ids (Message.Trace).
	traces atomic.Uint64
	// tracer is Config.Tracer: nil when nothing traces.
	tracer Tracer
	// polite counts running guests, to pace their yields to the Go
	// scheduler.
	polite *polite.Politeness
	// stats counts for the node's metrics; see metrics.go.
	stats kernelStats

	// hostFuncs is the set of "module.name" imports the host provides, used
	// to list exactly what a module is missing before it is instantiated.
	hostFuncs map[string]bool

	mu sync.Mutex
	// modules caches loaded modules by content hash. Guarded by mu.
	modules map[[32]byte]*Module
	// images caches images by imageKey. Guarded by mu.
	images map[[32]byte]*imageEntry
	// idleViews lists, oldest first, the keys of images added since
	// forgetIdleView last looked, whether or not they hold an image slot
	// now; imageUses stamps each use of an image, for
	// eviction's least-recently-used order. Guarded by mu.
	idleViews [][32]byte
	imageUses uint64
	// imageBytes is what finished images hold, charged to the node.
	imageBytes atomic.Int64
	noImages   bool
	// keepInstances turns dormancy off (dormant.go).
	keepInstances bool
	// procs holds the live processes by id. Guarded by mu.
	procs   procTable
	nextPID uint64 // guarded by mu
	closed  bool   // guarded by mu
	// stop is cancelled, with ErrNodeClosed, when Close begins: what runs
	// for the node outside any process (an image's init) ends with it.
	stop    context.Context
	stopNow context.CancelCauseFunc
	// compiles counts compilations under way: wazero's runtime must not
	// be closed under one (it panics), and one may outlive the Load that
	// started it. Added to under mu, and only while not closed.
	compiles sync.WaitGroup
}

// New starts a kernel.
func New(ctx context.Context, cfg Config) (*Kernel, error) {
	if cfg.IdleSweep < 0 {
		return nil, fmt.Errorf("IdleSweep is %v: give a positive period, or zero for the default of %v", cfg.IdleSweep, sweepPeriod)
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCoreFeatures(api.CoreFeaturesV2).
		WithCustomSections(true)
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(cfg.CacheDir, "compiled"))
		if err != nil {
			return nil, fmt.Errorf("open compilation cache in %s: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	k := &Kernel{
		rt:            wazero.NewRuntimeWithConfig(ctx, rc),
		log:           cfg.Logger,
		cacheDir:      cfg.CacheDir,
		fuelSlice:     cfg.FuelSlice,
		hostFuncs:     map[string]bool{},
		modules:       map[[32]byte]*Module{},
		images:        map[[32]byte]*imageEntry{},
		noImages:      cfg.NoImages,
		keepInstances: cfg.KeepInstances,
		baseConfig:    baseConfig(),
		epoch:         time.Now(),
		polite:        polite.New(),
	}
	k.stop, k.stopNow = context.WithCancelCause(context.Background())
	if k.log == nil {
		k.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	k.sweeper.period = cfg.IdleSweep
	k.dispatch.rt, k.dispatch.size = k.rt, slotsPerChunk
	if k.fuelSlice <= 0 {
		k.fuelSlice = DefaultFuelSlice
	}
	k.maxProcs = cmp.Or(cfg.MaxProcesses, DefaultMaxProcesses)
	k.quota = int64(cmp.Or(cfg.SpawnQuota, DefaultSpawnQuota))
	nodeFiles, treeFiles := fileBudgets(cfg.MaxFiles, cfg.TreeFiles)
	k.treeFiles = treeFiles
	k.node = &Group{k: k, memLimit: cmp.Or(cfg.MaxMemory, DefaultMaxMemory()), fileLimit: nodeFiles}
	k.shape = cfg.ModuleShape
	k.handleFS, k.fsKind = cfg.HandleFS, cfg.HandleFSKind
	k.tracer = cfg.Tracer
	k.onExit = cfg.OnExit
	if err := k.instantiateHostModules(ctx); err != nil {
		_ = k.rt.Close(ctx)
		return nil, err
	}
	k.sched = newScheduler(k.polite)
	k.uncapWarm = linmem.CapWarm(k.node.memLimit / 16)
	return k, nil
}

// instantiateHostModules links WASI and isle's own host modules once; every
// guest instance then imports from them.
func (k *Kernel) instantiateHostModules(ctx context.Context) error {
	wasi, err := wasip1.NewModule(k.rt, wasiState).Compile(ctx)
	if err != nil {
		return fmt.Errorf("compile WASI host module: %w", err)
	}
	k.recordHostFuncs(wasip1.ModuleName, wasi)
	if _, err := k.rt.InstantiateModule(ctx, wasi, wazero.NewModuleConfig()); err != nil {
		return fmt.Errorf("instantiate WASI host module: %w", err)
	}
	fuel, err := k.fuelHostModule().Compile(ctx)
	if err != nil {
		return fmt.Errorf("compile fuel host module: %w", err)
	}
	k.recordHostFuncs(fuelImportModule, fuel)
	if _, err := k.rt.InstantiateModule(ctx, fuel, wazero.NewModuleConfig()); err != nil {
		return fmt.Errorf("instantiate fuel host module: %w", err)
	}
	return nil
}

// wasiState finds the calling process's WASI state for isle's WASI layer.
func wasiState(ctx context.Context) *wasip1.State {
	if p := processFrom(ctx); p != nil {
		return p.wasi
	}
	return nil
}

func (k *Kernel) recordHostFuncs(module string, c wazero.CompiledModule) {
	for name := range c.ExportedFunctions() {
		k.hostFuncs[module+"."+name] = true
	}
}

// Runtime is the wazero runtime, for packages that add host modules.
//
// Safe from any goroutine.
func (k *Kernel) Runtime() wazero.Runtime { return k.rt }

// AddHostModule instantiates a host module guests may import from. Call it
// before loading modules that need it.
//
// Precondition: called before any module that imports from it is loaded.
func (k *Kernel) AddHostModule(ctx context.Context, b wazero.HostModuleBuilder, name string) error {
	if strings.HasPrefix(name, fault.DispatchModule) {
		return fmt.Errorf("host module %s: names beginning with %q are the kernel's", name, fault.DispatchModule)
	}
	c, err := b.Compile(ctx)
	if err != nil {
		return fmt.Errorf("compile host module %s: %w", name, err)
	}
	if _, err := k.rt.InstantiateModule(ctx, c, wazero.NewModuleConfig()); err != nil {
		return fmt.Errorf("instantiate host module %s: %w", name, err)
	}
	k.mu.Lock()
	k.recordHostFuncs(name, c)
	k.mu.Unlock()
	return nil
}

// register adds p to the process table, enforcing the node's limit.
func (k *Kernel) register(p *Process) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrNodeClosed
	}
	if k.procs.len() >= k.maxProcs {
		return fmt.Errorf("%w: the node runs its maximum of %d processes", ErrLimit, k.maxProcs)
	}
	k.nextPID++
	p.ID = k.nextPID
	k.procs.put(p)
	k.noteSpawn(p)
	return nil
}

func (k *Kernel) unregister(p *Process) {
	k.mu.Lock()
	k.procs.remove(p)
	k.noteEnd(p)
	k.mu.Unlock()
}

// Memory reports what the node's processes hold together now, at most
// since the node started, and the ceiling, in bytes.
//
// Safe from any goroutine.
func (k *Kernel) Memory() (now, peak, ceiling int64) {
	now, peak = k.node.Memory()
	return now, peak, k.node.memLimit
}

// ProcessCount is the number of live processes.
//
// Safe from any goroutine.
func (k *Kernel) ProcessCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.procs.len()
}

// Processes returns the live processes, by ascending id.
//
// Safe from any goroutine.
func (k *Kernel) Processes() []*Process {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*Process, 0, k.procs.len())
	for p := range k.procs.all() {
		out = append(out, p)
	}
	return out
}

// Close kills every live process, waits for them to end, and releases the
// runtime. If ctx ends first, it returns ctx's error and leaves the runtime
// to the processes still ending: a kill takes effect within milliseconds,
// so that means something is wrong, and freeing code under a running guest
// would be worse.
//
// Safe from any goroutine.
func (k *Kernel) Close(ctx context.Context) error {
	k.mu.Lock()
	k.closed = true
	k.stopNow(ErrNodeClosed) // images being made: Close waits for them below
	procs := make([]*Process, 0, k.procs.len())
	for p := range k.procs.all() {
		procs = append(procs, p)
	}
	// All are marked before any is woken, as by Group.Kill: a spawner
	// whose child's start the close ended finds itself killed too.
	killed := make([]bool, len(procs))
	for i, p := range procs {
		killed[i] = p.markKilled("node closed")
	}
	k.mu.Unlock()
	for i, p := range procs {
		if killed[i] {
			p.landKill()
		}
	}
	for i, p := range procs {
		select {
		case <-p.done.get():
		case <-ctx.Done():
			return fmt.Errorf("close node: %d processes still ending: %w", len(procs)-i, ctx.Err())
		}
	}
	k.sched.close()
	k.sweeper.stop()
	k.uncapWarm()
	compiled := make(chan struct{})
	go func() { k.compiles.Wait(); close(compiled) }()
	select {
	case <-compiled:
		k.closeImages()
		return k.rt.Close(context.WithoutCancel(ctx))
	case <-ctx.Done():
		// The runtime closes when the last compilation ends.
		go func() { <-compiled; k.closeImages(); _ = k.rt.Close(context.Background()) }()
		return fmt.Errorf("close node: a module is still compiling: %w", ctx.Err())
	}
}

// cachePath returns a path under the cache directory, creating its parent,
// or "" when the kernel has no disk cache.
func (k *Kernel) cachePath(parts ...string) string {
	if k.cacheDir == "" {
		return ""
	}
	p := filepath.Join(append([]string{k.cacheDir}, parts...)...)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return ""
	}
	return p
}
