package fuelbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/fuel"
)

// Liveness measures how responsive the Go program stays while
// 2×GOMAXPROCS instrumented guests spin in loops without calls: the worst
// lateness of a 1 ms ticker and the time forced GCs take, against the same
// with no guest running, and, in a child process with a hard timeout,
// with the same guests uninstrumented. See the package documentation.
func Liveness(ctx context.Context, opts Options) (LivenessResult, error) {
	if opts.Fresh {
		return livenessInChild(ctx, opts)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return LivenessResult{}, err
	}
	procs := runtime.GOMAXPROCS(0)
	res := LivenessResult{GOMAXPROCS: procs, Window: o.Window}

	fmt.Fprintf(o.Progress, "fuelbench: liveness: %v with no guest\n", o.Window)
	runtime.GC()
	cpu := markCPU()
	res.Baseline = measureWindow(o.Window, o.GCs, 0)

	inst, err := fuel.Instrument(spinWasm)
	if err != nil {
		return res, fmt.Errorf("rewrite the spinning guest: %w", err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	if _, err := fuelHost(rt).Instantiate(ctx); err != nil {
		return res, err
	}
	compiled, err := rt.CompileModule(ctx, inst.Wasm)
	if err != nil {
		return res, fmt.Errorf("compile the spinning guest: %w", err)
	}
	g, err := startGuests(ctx, rt, compiled, 2*procs, true)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(o.Progress, "fuelbench: liveness: %v with %d instrumented guests spinning\n", o.Window, g.n)
	y0 := g.totalYields()
	res.LivenessFigures = measureWindow(o.Window, o.GCs, g.n)
	res.Yields = g.totalYields() - y0
	if res.Yields > 0 {
		res.SliceTime = o.Window * time.Duration(min(g.n, procs)) / time.Duration(res.Yields)
	}
	res.OtherCPU = otherCPUSince(cpu)
	if err := g.stop(5 * time.Second); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Progress, "fuelbench: liveness: ticker late by %v at worst (%v with no guest), GC %v at worst (%v); "+
		"other processes %.0f%% CPU\n", res.WorstTickerDelay.Round(10*time.Microsecond),
		res.Baseline.WorstTickerDelay.Round(10*time.Microsecond), res.GCPause.Round(10*time.Microsecond),
		res.Baseline.GCPause.Round(10*time.Microsecond), res.OtherCPU*100)

	fmt.Fprintf(o.Progress, "fuelbench: liveness: %v with %d goroutines spinning in Go code\n", o.Window, g.n)
	res.GoSpin = measureGoSpin(o.Window, o.GCs, g.n)

	if !o.SkipUnmetered {
		fmt.Fprintf(o.Progress, "fuelbench: liveness: %d uninstrumented guests, in a child process killed after %v\n",
			2*procs, o.UnmeteredTimeout)
		res.Unmetered, err = runUnmetered(ctx, o)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// guests are spinning guests, each calling _start on its own goroutine.
type guests struct {
	n      int
	flag   atomic.Bool
	meters []*meter
	done   chan error
}

// startGuests starts n guests and, if they are instrumented, waits until
// each has yielded once, so that all of them are spinning.
func startGuests(ctx context.Context, rt wazero.Runtime, compiled wazero.CompiledModule, n int, instrumented bool) (*guests, error) {
	g := &guests{n: n, done: make(chan error, n)}
	for range n {
		mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			g.stop(time.Second)
			return nil, fmt.Errorf("instantiate a spinning guest: %w", err)
		}
		m := &meter{slice: Slice, stop: &g.flag, start: time.Now()}
		g.meters = append(g.meters, m)
		gctx := ctx
		if instrumented {
			mod.ExportedGlobal(fuel.GlobalExport).(api.MutableGlobal).Set(uint64(m.slice))
			gctx = context.WithValue(ctx, meterKey{}, m)
		}
		start := mod.ExportedFunction("_start")
		go func() {
			politeness.Run()
			_, err := start.Call(gctx)
			politeness.Wait()
			_ = mod.Close(ctx)
			g.done <- err
		}()
	}
	if instrumented {
		deadline := time.Now().Add(5 * time.Second)
		for !g.allYielded() {
			if time.Now().After(deadline) {
				g.stop(time.Second)
				return nil, errors.New("the spinning guests never yielded")
			}
			time.Sleep(time.Millisecond)
		}
	}
	return g, nil
}

func (g *guests) allYielded() bool {
	for _, m := range g.meters {
		if m.yields.Load() == 0 {
			return false
		}
	}
	return true
}

func (g *guests) totalYields() int64 {
	var t int64
	for _, m := range g.meters {
		t += m.yields.Load()
	}
	return t
}

// stop makes every guest's next yield panic with errStopped and waits for
// them all to return.
func (g *guests) stop(timeout time.Duration) error {
	g.flag.Store(true)
	deadline := time.After(timeout)
	for i := range g.meters {
		select {
		case err := <-g.done:
			if !errors.Is(err, errStopped) {
				return fmt.Errorf("a spinning guest ended with %v, not the stop sentinel", err)
			}
		case <-deadline:
			return fmt.Errorf("%d of %d spinning guests did not stop within %v", len(g.meters)-i, len(g.meters), timeout)
		}
	}
	return nil
}

// measureGoSpin measures a window while n goroutines spin in a Go loop
// without calls, which the Go runtime preempts asynchronously (by signal,
// once a goroutine has run for 10 ms): the same load in Go itself.
func measureGoSpin(window time.Duration, gcs, n int) LivenessFigures {
	var stop atomic.Bool
	var running sync.WaitGroup
	sums := make([]uint64, n)
	running.Add(n)
	var done sync.WaitGroup
	for i := range n {
		done.Go(func() {
			running.Done()
			var x uint64
			for !stop.Load() {
				x = x*6364136223846793005 + 1442695040888963407
			}
			sums[i] = x
		})
	}
	running.Wait()
	f := measureWindow(window, gcs, n)
	stop.Store(true)
	done.Wait()
	return f
}

// stwMetric is the runtime's histogram of stop-the-world pauses for GC.
const stwMetric = "/sched/pauses/total/gc:seconds"

// measureWindow measures, for window, how late a 1 ms ticker's ticks are
// received, while another goroutine forces gcs GCs spread over the window.
func measureWindow(window time.Duration, gcs int, guests int) LivenessFigures {
	before := []metrics.Sample{{Name: stwMetric}}
	metrics.Read(before)

	gcTimes := make(chan []time.Duration, 1)
	go func() {
		var ds []time.Duration
		gap := window / time.Duration(gcs+1)
		for range gcs {
			time.Sleep(gap)
			t := time.Now()
			runtime.GC()
			ds = append(ds, time.Since(t))
		}
		gcTimes <- ds
	}()

	var delays []time.Duration
	ticker := time.NewTicker(time.Millisecond)
	last := time.Now()
	deadline := last.Add(window)
	for {
		<-ticker.C
		now := time.Now()
		delays = append(delays, now.Sub(last)-time.Millisecond)
		last = now
		if now.After(deadline) {
			break
		}
	}
	ticker.Stop()
	gcds := <-gcTimes

	after := []metrics.Sample{{Name: stwMetric}}
	metrics.Read(after)

	slices.Sort(delays)
	f := LivenessFigures{
		Guests:           guests,
		Ticks:            len(delays),
		WorstTickerDelay: max(delays[len(delays)-1], 0),
		P99TickerDelay:   max(delays[len(delays)*99/100], 0),
		GCs:              len(gcds),
		STWMax:           worstNewPause(before[0], after[0]),
	}
	if len(gcds) > 0 {
		f.GCPause = slices.Max(gcds)
		f.GCMedian = median(gcds)
	}
	return f
}

// worstNewPause returns the upper bound of the highest histogram bucket
// that gained a count between two readings.
func worstNewPause(before, after metrics.Sample) time.Duration {
	if after.Value.Kind() != metrics.KindFloat64Histogram || before.Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	b, a := before.Value.Float64Histogram(), after.Value.Float64Histogram()
	for i := len(a.Counts) - 1; i >= 0; i-- {
		if i < len(b.Counts) && a.Counts[i] > b.Counts[i] {
			upper := a.Buckets[i+1]
			if upper > 1e9 { // the last bucket is unbounded
				upper = a.Buckets[i]
			}
			return time.Duration(upper * 1e9)
		}
	}
	return 0
}

// childEnv, when set in the environment, makes this package's init run
// the uninstrumented liveness measurement and exit, instead of letting the
// program start. Its value is the window and the number of GCs, "2s/7".
const childEnv = "ISLE_FUELBENCH_UNMETERED_CHILD"

// startedLine is what the child prints once every guest has been started.
const startedLine = "fuelbench-child: guests started"

// freshEnv, when set, makes this package's init run Liveness with the
// JSON-encoded Options it holds, print the result as JSON and exit.
const freshEnv = "ISLE_FUELBENCH_LIVENESS_CHILD"

func init() {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(unmeteredChild(v))
	}
	if v := os.Getenv(freshEnv); v != "" {
		os.Exit(freshChild(v))
	}
}

// livenessInChild runs Liveness in a new process of this executable.
func livenessInChild(ctx context.Context, opts Options) (LivenessResult, error) {
	opts.Fresh = false
	progress := opts.Progress
	opts.Progress = nil
	spec, err := json.Marshal(opts)
	if err != nil {
		return LivenessResult{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return LivenessResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), freshEnv+"="+string(spec))
	if progress != nil {
		cmd.Stderr = progress
	}
	out, err := cmd.Output()
	if err != nil {
		return LivenessResult{}, fmt.Errorf("liveness child: %w", err)
	}
	var res LivenessResult
	if err := json.Unmarshal(out, &res); err != nil {
		return LivenessResult{}, fmt.Errorf("liveness child: %w", err)
	}
	return res, nil
}

func freshChild(spec string) int {
	var opts Options
	if err := json.Unmarshal([]byte(spec), &opts); err != nil {
		fmt.Fprintf(os.Stderr, "fuelbench-child: bad %s: %v\n", freshEnv, err)
		return 2
	}
	opts.Progress = os.Stderr
	res, err := Liveness(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuelbench-child:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// unmeteredChild runs in the child process: it starts 2×GOMAXPROCS
// uninstrumented spinning guests and measures a window, if it can, and
// prints the figures as JSON. The guests never stop: the process exits
// under them.
func unmeteredChild(spec string) int {
	windowS, gcsS, _ := strings.Cut(spec, "/")
	window, err1 := time.ParseDuration(windowS)
	gcs, err2 := strconv.Atoi(gcsS)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(os.Stderr, "fuelbench-child: bad %s=%q: %v\n", childEnv, spec, err)
		return 2
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	compiled, err := rt.CompileModule(ctx, spinWasm)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuelbench-child:", err)
		return 1
	}
	n := 2 * runtime.GOMAXPROCS(0)
	if _, err := startGuests(ctx, rt, compiled, n, false); err != nil {
		fmt.Fprintln(os.Stderr, "fuelbench-child:", err)
		return 1
	}
	fmt.Println(startedLine)
	f := measureWindow(window, gcs, n)
	b, _ := json.Marshal(f)
	fmt.Println(string(b))
	return 0
}

// runUnmetered runs unmeteredChild in a child process, this executable
// again, and kills it at the timeout.
func runUnmetered(ctx context.Context, o Options) (Unmetered, error) {
	u := Unmetered{Ran: true, Timeout: o.UnmeteredTimeout}
	exe, err := os.Executable()
	if err != nil {
		return u, fmt.Errorf("find this executable to run the child: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, o.UnmeteredTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe)
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("%s=%v/%d", childEnv, o.Window, o.GCs),
		"GOMAXPROCS="+strconv.Itoa(runtime.GOMAXPROCS(0)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	u.Started = strings.Contains(stdout.String(), startedLine)
	if ctx.Err() != nil {
		return u, ctx.Err()
	}
	if cctx.Err() != nil {
		u.Froze = true
		return u, nil
	}
	if err != nil {
		u.Note = fmt.Sprintf("the child failed: %v: %s", err, strings.TrimSpace(stderr.String()))
		return u, nil
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &u.Figures); err != nil {
		u.Note = fmt.Sprintf("the child printed %q", stdout.String())
	}
	return u, nil
}
