package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/isle-run/isle"
)

// Tags of bench/wasm/hog.c.
const (
	tagHogFill  = 1
	tagHogWrite = 2
)

// runGovernance measures what the worst guests do to the rest of the node:
// with guests looping over 16 MiB memory.fill and memory.copy, and guests
// blocked writing to a pipe nobody reads, on every core, how fast does an
// unrelated reactor still answer, how long does a forced garbage
// collection take, and how fast does a kill land? Each beside the same
// figure on an idle node.
func runGovernance(h *harness, r *Report) error {
	window := 2 * time.Second
	if h.opts.Quick {
		window = 200 * time.Millisecond
	}
	quiet, err := h.liveness(window, false)
	if err != nil {
		return fmt.Errorf("idle node: %w", err)
	}
	loud, err := h.liveness(window, true)
	if err != nil {
		return fmt.Errorf("hostile node: %w", err)
	}
	hostile := fmt.Sprintf("isle: %d guests filling memory and %d blocked on stdout, on %d Ps",
		runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0))
	idle := "isle: the same node with no other guest"
	note := fmt.Sprintf("a Go host calls a tiny reactor in a loop for %v", window)
	r.Rows = append(r.Rows,
		Row{Workload: "governance: unrelated reactor's call, p99", Unit: "µs", Kind: Time, Note: note,
			Isle: Figure{Name: hostile, Runs: []float64{loud.p99}}, Peer: Figure{Name: idle, Runs: []float64{quiet.p99}}},
		Row{Workload: "governance: unrelated reactor's call, worst", Unit: "µs", Kind: Time, Note: note,
			Isle: Figure{Name: hostile, Runs: []float64{loud.worst}}, Peer: Figure{Name: idle, Runs: []float64{quiet.worst}}},
		Row{Workload: "governance: GC stop-the-world pause, worst", Unit: "ms", Kind: Time,
			Isle: Figure{Name: hostile, Runs: []float64{loud.stwWorst}}, Peer: Figure{Name: idle, Runs: []float64{quiet.stwWorst}},
			Note: "from runtime/metrics /sched/pauses/total/gc:seconds, a GC forced every 100 ms: the pause a guest that cannot be stopped would stretch"},
		Row{Workload: "governance: forced runtime.GC(), worst", Unit: "ms", Kind: Time,
			Isle: Figure{Name: hostile, Runs: []float64{loud.gcWorst}}, Peer: Figure{Name: idle, Runs: []float64{quiet.gcWorst}},
			Note: "the whole collection, marking included, which shares the CPUs with the guests"},
		Row{Workload: "governance: 1 ms ticker, latest tick", Unit: "ms", Kind: Time,
			Isle: Figure{Name: hostile, Runs: []float64{loud.tickLate}}, Peer: Figure{Name: idle, Runs: []float64{quiet.tickLate}},
			Note: "how much later than 1 ms after the previous tick a Go ticker in the host fired, at worst"},
	)
	r.Targets = append(r.Targets,
		Target{What: "unrelated reactor's worst call with the worst guests on every core", Goal: 5000, Unit: "µs", Kind: Time, Value: one(loud.worst)},
		Target{What: "GC stop-the-world pause with the worst guests on every core", Goal: 5, Unit: "ms", Kind: Time, Value: one(loud.stwWorst)},
		Target{What: "a 1 ms ticker's latest tick with the worst guests on every core", Goal: 5, Unit: "ms", Kind: Time, Value: one(loud.tickLate)})

	n := 50
	if h.opts.Quick {
		n = 5
	}
	base, err := h.killLatency(n, 0)
	if err != nil {
		return err
	}
	for _, k := range []struct {
		tag         uint32
		short, what string
	}{{tagHogFill, "bulk memory", "looping over 16 MiB memory.fill/copy"},
		{tagHogWrite, "blocked write", "blocked writing to a pipe nobody reads"}} {
		lat, err := h.killLatency(n, k.tag)
		if err != nil {
			return err
		}
		name := "isle: a guest " + k.what
		for _, q := range []struct {
			label string
			p     float64
		}{{"p50", 0.5}, {"p99", 0.99}, {"worst", 1}} {
			r.Rows = append(r.Rows, Row{Workload: "governance: kill to exit, " + k.short + ", " + q.label, Unit: "µs", Kind: Time,
				Isle: Figure{Name: name, Runs: []float64{percentile(lat, q.p)}},
				Peer: Figure{Name: "isle: an idle reactor", Runs: []float64{percentile(base, q.p)}},
				Note: fmt.Sprintf("%d kills each", n)})
		}
		r.Targets = append(r.Targets,
			Target{What: "kill to exit p99, a guest " + k.what, Goal: 10000, Unit: "µs", Kind: Time, Value: one(percentile(lat, 0.99))},
			Target{What: "kill to exit worst, a guest " + k.what, Goal: 100000, Unit: "µs", Kind: Time, Value: one(percentile(lat, 1))})
	}
	return nil
}

// liveness is how an unrelated reactor and the garbage collector fare.
type liveness struct {
	p99, worst float64 // µs per call
	gcWorst    float64 // ms: runtime.GC(), start to end
	stwWorst   float64 // ms: the longest stop-the-world pause
	tickLate   float64 // ms: the most a 1 ms ticker's tick came late
}

// liveness calls a tiny reactor for window, forcing a garbage collection
// every 100 ms, with or without the worst guests running on every core.
func (h *harness) liveness(window time.Duration, hostile bool) (liveness, error) {
	node, err := h.node()
	if err != nil {
		return liveness{}, err
	}
	defer node.Close(context.Background())
	if hostile {
		stop, err := h.startHogs(node, runtime.GOMAXPROCS(0))
		if err != nil {
			return liveness{}, err
		}
		defer stop()
	}
	tiny, err := h.load(node, "tiny")
	if err != nil {
		return liveness{}, err
	}
	probe, err := node.Spawn(context.Background(), tiny, isle.Grants{}, reactorLimits)
	if err != nil {
		return liveness{}, err
	}
	var calls []float64
	var gcWorst time.Duration
	pauses := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(pauses)
	before := pauses[0].Value.Float64Histogram()
	before = &metrics.Float64Histogram{Counts: slices.Clone(before.Counts), Buckets: before.Buckets}
	end := time.Now().Add(window)
	nextGC := time.Now().Add(100 * time.Millisecond)
	late := tickLateness(end)
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
		t0 := time.Now()
		_, err := probe.Call(ctx, isle.Message{Tag: 1})
		cancel()
		if err != nil {
			return liveness{}, fmt.Errorf("probe: %w", err)
		}
		calls = append(calls, float64(time.Since(t0).Nanoseconds())/1e3)
		if time.Now().After(nextGC) {
			t0 := time.Now()
			runtime.GC()
			gcWorst = max(gcWorst, time.Since(t0))
			nextGC = time.Now().Add(100 * time.Millisecond)
		}
	}
	metrics.Read(pauses)
	return liveness{p99: percentile(calls, 0.99), worst: percentile(calls, 1), gcWorst: float64(gcWorst) / 1e6,
		stwWorst: worstNew(before, pauses[0].Value.Float64Histogram()) * 1e3, tickLate: float64(<-late) / 1e6}, nil
}

// tickLateness runs a 1 ms ticker until end and then sends the most any
// tick came after the one before it, less the millisecond.
func tickLateness(end time.Time) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var worst time.Duration
		last := time.Now()
		for now := range tick.C {
			worst = max(worst, now.Sub(last)-time.Millisecond)
			last = now
			if now.After(end) {
				break
			}
		}
		out <- worst
	}()
	return out
}

// worstNew returns the upper bound, in seconds, of the highest bucket of a
// pause histogram that gained a count between two readings.
func worstNew(before, after *metrics.Float64Histogram) float64 {
	for i := len(after.Counts) - 1; i >= 0; i-- {
		if after.Counts[i] > before.Counts[i] {
			return min(after.Buckets[i+1], after.Buckets[i]*2) // the last bucket is unbounded
		}
	}
	return 0
}

// startHogs starts n guests filling memory and n blocked writing, and
// returns once they are all at it.
func (h *harness) startHogs(node *isle.Node, n int) (stop func(), err error) {
	hog, err := h.load(node, "hog")
	if err != nil {
		return nil, err
	}
	var ps []*isle.Process
	var pipes []*os.File
	stop = func() {
		for _, p := range ps {
			p.Kill()
		}
		for _, f := range pipes {
			f.Close()
		}
	}
	for range n {
		fill, err := h.startHog(node, hog, tagHogFill, nil)
		if err != nil {
			stop()
			return nil, err
		}
		rd, wr, err := os.Pipe()
		if err != nil {
			stop()
			return nil, err
		}
		pipes = append(pipes, rd, wr)
		write, err := h.startHog(node, hog, tagHogWrite, wr)
		if err != nil {
			stop()
			return nil, err
		}
		ps = append(ps, fill, write)
		if err := waitUntil(h.ctx, func() bool { return pipeFull(rd) }); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}

// startHog spawns hog.c and sends it tag, with stdout as its output.
func (h *harness) startHog(node *isle.Node, hog *isle.Module, tag uint32, stdout *os.File) (*isle.Process, error) {
	g := isle.Grants{}
	if stdout != nil {
		g.Stdout = stdout
	}
	p, err := node.Spawn(context.Background(), hog, g, isle.Limits{Memory: 32 << 20})
	if err != nil {
		return nil, err
	}
	if err := p.Send(h.ctx, isle.Message{Tag: tag}); err != nil {
		return nil, err
	}
	if tag == tagHogFill {
		// Running once it has spent fuel, which a fill charges by chunk.
		if err := waitUntil(h.ctx, func() bool { return p.Stats().Fuel > 0 }); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// killLatency kills n guests, each busy with tag (0: an idle tiny
// reactor), and returns how long each kill took to end the process, in µs.
func (h *harness) killLatency(n int, tag uint32) ([]float64, error) {
	node, err := h.node()
	if err != nil {
		return nil, err
	}
	defer node.Close(context.Background())
	fixture := "hog"
	if tag == 0 {
		fixture = "tiny"
	}
	mod, err := h.load(node, fixture)
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, n)
	for range n {
		var p *isle.Process
		var rd, wr *os.File
		switch tag {
		case 0:
			p, err = node.Spawn(context.Background(), mod, isle.Grants{}, reactorLimits)
		case tagHogWrite:
			if rd, wr, err = os.Pipe(); err == nil {
				p, err = h.startHog(node, mod, tag, wr)
			}
			if err == nil {
				err = waitUntil(h.ctx, func() bool { return pipeFull(rd) })
			}
		default:
			p, err = h.startHog(node, mod, tag, nil)
		}
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		p.Kill()
		<-p.Done()
		out = append(out, float64(time.Since(t0).Nanoseconds())/1e3)
		if rd != nil {
			rd.Close()
			wr.Close()
		}
	}
	slices.Sort(out)
	return out, nil
}

// pipeFull reports whether a pipe holds a whole pipe buffer, so that a
// writer to it blocks.
func pipeFull(rd *os.File) bool {
	n, err := unix.IoctlGetInt(int(rd.Fd()), unix.TIOCINQ)
	return err == nil && n >= 64<<10
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
