package fuelbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/internal/fuel"

	"github.com/isle-run/isle/internal/polite"
)

// way is one of the three ways a kernel runs.
type way int

const (
	wayBase  way = iota
	wayFuel      // the rewritten module, yields refill to the slice and call Gosched
	wayClose     // WithCloseOnContextDone
	// Options.Diagnose only:
	wayChecks    // the rewritten module, with a counter so full it never yields
	wayNoGosched // the rewritten module, yields that only refill
	nWays
)

// String names the way, for progress lines.
func (w way) String() string {
	return [...]string{"base", "fuel", "close-on-done", "fuel-checks-only", "fuel-no-gosched"}[w]
}

// runtimes holds the two wazero runtimes: plain for Base and Fuel, and one
// WithCloseOnContextDone for CloseOnDone. Both have WASI and compile with
// the same configuration otherwise.
type runtimes struct {
	cache        wazero.CompilationCache
	plain, close wazero.Runtime
}

func newRuntimes(ctx context.Context, cacheDir string) (*runtimes, error) {
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(cacheDir, "wazero"))
	if err != nil {
		return nil, fmt.Errorf("wazero compilation cache: %w", err)
	}
	cfg := wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache)
	r := &runtimes{
		cache: cache,
		plain: wazero.NewRuntimeWithConfig(ctx, cfg),
		close: wazero.NewRuntimeWithConfig(ctx, cfg.WithCloseOnContextDone(true)),
	}
	for _, rt := range []wazero.Runtime{r.plain, r.close} {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			r.Close(ctx)
			return nil, err
		}
	}
	if _, err := fuelHost(r.plain).Instantiate(ctx); err != nil {
		r.Close(ctx)
		return nil, err
	}
	return r, nil
}

// Close releases the runtimes.
func (r *runtimes) Close(ctx context.Context) {
	_ = r.plain.Close(ctx)
	_ = r.close.Close(ctx)
	_ = r.cache.Close(ctx)
}

// meter is the fuel accounting of one instrumented guest. It travels in
// the context of the guest's call, so yield finds it.
type meter struct {
	slice     int64         // what yield refills the counter to
	noGosched bool          // yield only refills
	spent     int64         // fuel used up to the last refill
	yields    atomic.Int64  // times yield ran
	stop      *atomic.Bool  // when set, yield panics with errStopped
	start     time.Time     // when the meter was made
	lastSched time.Duration // since start, when yield last called Gosched
}

type meterKey struct{}

// polite paces the guests' yields to the Go scheduler exactly as isle's
// kernel does; Run and Wait bracket every guest's _start.
var politeness = polite.New()

// errStopped is the sentinel yield panics with to stop a guest.
var errStopped = errors.New("fuelbench: guest stopped")

// fuelHost builds the isle:fuel host module: yield refills the counter to
// Slice and lets the Go scheduler run, as isle's kernel does; stack grants
// without limit and every table.grow is allowed, as for a process whose
// memory limit is never reached.
func fuelHost(rt wazero.Runtime) wazero.HostModuleBuilder {
	return rt.NewHostModuleBuilder(fuel.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(yield), nil, nil).
		WithName(fuel.ImportName).
		Export(fuel.ImportName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(growStack), nil, nil).
		WithName(fuel.StackImportName).
		Export(fuel.StackImportName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) { stack[0] = 1 }),
			[]api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		WithName(fuel.TableGrowImportName).
		Export(fuel.TableGrowImportName)
}

// growStack grants stack budget until it is not negative.
func growStack(_ context.Context, mod api.Module, _ []uint64) {
	g := mod.ExportedGlobal(fuel.StackGlobalExport).(api.MutableGlobal)
	for int32(g.Get()) < 0 {
		g.Set(uint64(uint32(int32(g.Get()) + fuel.StackChunk)))
	}
}

func yield(ctx context.Context, mod api.Module, _ []uint64) {
	m, _ := ctx.Value(meterKey{}).(*meter)
	if m != nil && m.stop != nil && m.stop.Load() {
		panic(errStopped)
	}
	g := mod.ExportedGlobal(fuel.GlobalExport).(api.MutableGlobal)
	if m != nil {
		m.spent += m.slice - int64(g.Get())
		m.yields.Add(1)
		g.Set(uint64(m.slice))
	} else {
		g.Set(Slice)
	}
	if m == nil {
		runtime.Gosched()
	} else if !m.noGosched {
		politeness.Yield(&m.lastSched, time.Since(m.start)) // the kernel's policy
	}
}

// prepared is one kernel, compiled all three ways.
type prepared struct {
	k        kernel
	arg      string
	slice    int64
	compiled [nWays]wazero.CompiledModule
	res      KernelResult
}

// Close releases the compiled kernel.
func (p *prepared) Close(ctx context.Context) {
	for _, w := range []way{wayBase, wayFuel, wayClose} {
		if c := p.compiled[w]; c != nil {
			_ = c.Close(ctx)
		}
	}
}

// prepare builds, rewrites and compiles a kernel.
func prepare(ctx context.Context, rts *runtimes, k kernel, root string, o Options) (*prepared, error) {
	orig, err := k.build(ctx, root, o)
	if err != nil {
		return nil, fmt.Errorf("build kernel %s: %w", k.name, err)
	}
	start := time.Now()
	inst, err := fuel.Instrument(orig)
	if err != nil {
		return nil, fmt.Errorf("rewrite kernel %s: %w", k.name, err)
	}
	p := &prepared{k: k, arg: k.arg(o.Quick), slice: o.Slice}
	p.res = KernelResult{
		Name: k.name, Lang: k.lang, What: k.describe(o.Quick), LoopHeavy: k.loopHeavy, Arg: p.arg,
		WasmBytes: len(orig), FuelWasmBytes: len(inst.Wasm), Rewrite: time.Since(start),
	}
	// Compiling a Go kernel takes about a second a way when the cache is
	// cold, so the three compile at once.
	bins := [...][]byte{wayBase: orig, wayFuel: inst.Wasm, wayClose: orig}
	var errs [len(bins)]error
	var wg sync.WaitGroup
	for w := range way(len(bins)) {
		rt := rts.plain
		if w == wayClose {
			rt = rts.close
		}
		wg.Go(func() {
			p.compiled[w], errs[w] = rt.CompileModule(ctx, bins[w])
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			p.Close(ctx)
			return nil, fmt.Errorf("compile kernel %s (%s): %w", k.name, way(w), err)
		}
	}
	p.compiled[wayChecks] = p.compiled[wayFuel]
	p.compiled[wayNoGosched] = p.compiled[wayFuel]
	return p, nil
}

// run instantiates the kernel one way, times its _start and returns what
// it printed.
func (p *prepared) run(ctx context.Context, rts *runtimes, w way) (time.Duration, string, *meter, error) {
	rt := rts.plain
	if w == wayClose {
		rt = rts.close
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx) // armed, never cancelled
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(p.k.args(p.arg)...).
		WithStdout(&stdout).WithStderr(&stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithStartFunctions() // _start is called below, timed
	mod, err := rt.InstantiateModule(ctx, p.compiled[w], cfg)
	if err != nil {
		return 0, "", nil, fmt.Errorf("instantiate kernel %s (%s): %w", p.k.name, w, err)
	}
	defer mod.Close(ctx)
	start := mod.ExportedFunction("_start")
	if start == nil {
		return 0, "", nil, fmt.Errorf("kernel %s has no _start", p.k.name)
	}
	var m *meter
	switch w {
	case wayFuel, wayNoGosched:
		m = &meter{slice: p.slice, noGosched: w == wayNoGosched, start: time.Now()}
	case wayChecks:
		m = &meter{slice: 1 << 62, start: time.Now()}
	}
	if m != nil {
		mod.ExportedGlobal(fuel.GlobalExport).(api.MutableGlobal).Set(uint64(m.slice))
		ctx = context.WithValue(ctx, meterKey{}, m)
	}
	runtime.GC() // no garbage of the previous run is collected inside this one's timing
	t0 := time.Now()
	politeness.Run()
	_, err = start.Call(ctx)
	politeness.Wait()
	d := time.Since(t0)
	if exit, ok := errors.AsType[*sys.ExitError](err); ok && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil {
		return 0, "", nil, fmt.Errorf("kernel %s (%s) failed: %w\n%s", p.k.name, w, err, stderr.Bytes())
	}
	if m != nil {
		// The counter is still readable after proc_exit closed the module.
		if g, ok := mod.ExportedGlobal(fuel.GlobalExport).(api.MutableGlobal); ok {
			m.spent += m.slice - int64(g.Get())
		}
	}
	return d, strings.TrimSpace(stdout.String()), m, nil
}

// Overhead runs every kernel (or those in opts.Kernels) three ways under
// bare wazero, uninstrumented, rewritten for fuel, and uninstrumented with
// WithCloseOnContextDone, and returns their median times in report order.
// It fails if a kernel does not print the same line every run, every way.
// See the package documentation for the method.
func Overhead(ctx context.Context, opts Options) ([]KernelResult, error) {
	o, root, chosen, err := opts.choose()
	if err != nil {
		return nil, err
	}
	rts, err := newRuntimes(ctx, o.CacheDir)
	if err != nil {
		return nil, err
	}
	defer rts.Close(ctx)

	var out []KernelResult
	for _, k := range chosen {
		fmt.Fprintf(o.Progress, "fuelbench: %s: building and compiling\n", k.name)
		p, err := prepare(ctx, rts, k, root, o)
		if err != nil {
			return out, err
		}
		res, err := p.measure(ctx, rts, o)
		p.Close(ctx)
		if err != nil {
			return out, err
		}
		fmt.Fprintf(o.Progress, "fuelbench: %s: base %v, fuel %v (%.3f×), close-on-done %v (%.1f× fuel); %d yields, %.2g fuel; other processes %.0f%% CPU\n",
			k.name, res.Base.Round(time.Millisecond), res.Fuel.Round(time.Millisecond), res.FuelRatio(),
			res.CloseOnDone.Round(time.Millisecond), res.CloseRatio(), res.Yields, float64(res.FuelSpent), res.OtherCPU*100)
		if o.Diagnose {
			fmt.Fprintf(o.Progress, "fuelbench: %s: checks only %v (%.3f× base), yield without Gosched %v (%.3f× base)\n",
				k.name, res.ChecksOnly.Round(time.Millisecond), ratio(res.ChecksOnly, res.Base),
				res.NoGosched.Round(time.Millisecond), ratio(res.NoGosched, res.Base))
		}
		out = append(out, res)
	}
	return out, nil
}

// choose resolves the options and the kernels they choose.
func (opts Options) choose() (Options, string, []kernel, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return o, "", nil, err
	}
	root, err := o.root()
	if err != nil {
		return o, "", nil, err
	}
	for _, name := range o.Kernels {
		if !slices.Contains(KernelNames(), name) {
			return o, "", nil, fmt.Errorf("no kernel named %q: the kernels are %s", name, strings.Join(KernelNames(), ", "))
		}
	}
	var chosen []kernel
	for _, k := range kernels {
		if len(o.Kernels) == 0 || slices.Contains(o.Kernels, k.name) {
			chosen = append(chosen, k)
		}
	}
	return o, root, chosen, nil
}

// Prepare builds the kernels Overhead would run and compiles each of them
// every way into opts.CacheDir, so that an Overhead with the same CacheDir
// later finds them compiled. It measures nothing. The tests, which run
// under the race detector, call it from a process without it.
func Prepare(ctx context.Context, opts Options) error {
	o, root, chosen, err := opts.choose()
	if err != nil {
		return err
	}
	ctx = experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	rts, err := newRuntimes(ctx, o.CacheDir)
	if err != nil {
		return err
	}
	defer rts.Close(ctx)
	for _, k := range chosen {
		p, err := prepare(ctx, rts, k, root, o)
		if err != nil {
			return err
		}
		p.Close(ctx)
	}
	return nil
}

// measure runs the warm-up and counted runs, the three ways taking turns
// in a rotating order.
func (p *prepared) measure(ctx context.Context, rts *runtimes, o Options) (KernelResult, error) {
	res := p.res
	cpu := markCPU()
	ways := []way{wayBase, wayFuel, wayClose}
	if o.Diagnose {
		ways = append(ways, wayChecks, wayNoGosched)
	}
	var times [nWays][]time.Duration
	for i := -o.Warmups; i < o.Runs; i++ {
		for j := range ways {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			w := ways[(i+o.Warmups+j)%len(ways)]
			d, line, m, err := p.run(ctx, rts, w)
			if err != nil {
				return res, err
			}
			if res.Output == "" {
				res.Output = line
			}
			if line != res.Output {
				return res, fmt.Errorf("kernel %s printed %q run %s, but %q before: the rewrite changed what it computes",
					p.k.name, line, w, res.Output)
			}
			if m != nil && w == wayFuel {
				if res.FuelSpent != 0 && m.spent != res.FuelSpent {
					res.FuelVaries = true
				}
				res.FuelSpent, res.Yields = m.spent, m.yields.Load()
			}
			if i >= 0 {
				times[w] = append(times[w], d)
			}
		}
	}
	if res.Output == "" {
		return res, fmt.Errorf("kernel %s printed nothing", p.k.name)
	}
	res.Runs = o.Runs
	res.OtherCPU = otherCPUSince(cpu)
	res.Base, res.Fuel, res.CloseOnDone = median(times[wayBase]), median(times[wayFuel]), median(times[wayClose])
	res.Spread = Spread{Base: spread(times[wayBase]), Fuel: spread(times[wayFuel]), CloseOnDone: spread(times[wayClose])}
	res.ChecksOnly, res.NoGosched = median(times[wayChecks]), median(times[wayNoGosched])
	return res, nil
}
