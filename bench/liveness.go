package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	"github.com/isle-run/isle"
)

// stallSamples is every sample taken on one node over its windows.
type stallSamples struct {
	calls  []float64 // µs: each call of the unrelated reactor
	gcs    []float64 // ms: each forced runtime.GC(), start to end
	pauses []float64 // ms: each stop-the-world pause, its bucket's upper bound
	ticks  []float64 // ms: how long after it was due each tick was received
	// What a collection costs the rest of the process, per cycle over a
	// window, in ms of CPU: all of it, and the part taken from goroutines
	// that allocate while it marks (mark assist), from runtime/metrics.
	gcCPU, assist []float64
}

// gcCost are the runtime/metrics behind stallSamples.gcCPU and assist.
var gcCost = []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds", "/cpu/classes/gc/mark/assist:cpu-seconds"}

// readGCCost reads gcCost: cycles, then seconds of CPU.
func readGCCost() [3]float64 {
	s := make([]metrics.Sample, len(gcCost))
	for i := range s {
		s[i].Name = gcCost[i]
	}
	metrics.Read(s)
	return [3]float64{float64(s[0].Value.Uint64()), s[1].Value.Float64(), s[2].Value.Float64()}
}

// addGCCost adds, per cycle between two readings of readGCCost, the GC's
// CPU and mark assist in ms.
func (s *stallSamples) addGCCost(before, after [3]float64) {
	if n := after[0] - before[0]; n > 0 {
		s.gcCPU = append(s.gcCPU, (after[1]-before[1])/n*1e3)
		s.assist = append(s.assist, (after[2]-before[2])/n*1e3)
	}
}

// stalls measures what the worst guests do to the rest of the node, beside
// the same node idle. A single window's worst is mostly the machine's
// noise, so the two nodes take turns for several windows, every sample is
// kept, and the targets judge the p99 of the pooled samples.
func (h *harness) stalls(r *Report) error {
	rounds, window := 5, time.Second
	if h.opts.Quick {
		rounds, window = 1, 200*time.Millisecond
	}
	var quiet, loud, bare stallSamples
	if !h.opts.Quick { // warm up: compile the fixtures, size the heap
		if err := h.liveness(window/5, true, &stallSamples{}); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for range rounds {
		if err := h.liveness(window, false, &quiet); err != nil {
			return fmt.Errorf("idle node: %w", err)
		}
		if err := h.liveness(window, true, &loud); err != nil {
			return fmt.Errorf("hostile node: %w", err)
		}
		if err := forcedGCs(h.ctx, window, nil, &bare); err != nil {
			return fmt.Errorf("no node: %w", err)
		}
	}
	procs := runtime.GOMAXPROCS(0)
	hostile := fmt.Sprintf("isle: %d guests filling memory and %d blocked on stdout, on %d Ps", procs, procs, procs)
	idle := "isle: the same node with no other guest"
	samples := fmt.Sprintf("%d× %v per node, taken in turn; targets judge p99", rounds, window)
	for _, m := range []struct {
		what, unit, note string
		loud, quiet      []float64
		zeroOK           bool
	}{
		{"unrelated reactor's call", "µs", "a Go host calls a tiny reactor in a loop", loud.calls, quiet.calls, false},
		{"GC stop-the-world pause", "ms", "from runtime/metrics /sched/pauses/total/gc:seconds: the pause a guest that cannot be stopped would stretch", loud.pauses, quiet.pauses, false},
		{"forced runtime.GC()", "ms", fmt.Sprintf("one every %v: the whole collection, marking included, which shares the CPUs with the guests", gcEvery), loud.gcs, quiet.gcs, false},
		{"GC CPU per cycle", "ms", "from runtime/metrics /cpu/classes/gc/total:cpu-seconds over /gc/cycles/total, per window: what a collection costs the node's other work", loud.gcCPU, quiet.gcCPU, false},
		{"mark assist per cycle", "ms", "from /cpu/classes/gc/mark/assist:cpu-seconds, per window: CPU the collector took from goroutines that allocated while it marked", loud.assist, quiet.assist, true},
		{"1 ms ticker's tick, after it was due", "ms", "a Go ticker in the host: each tick's receipt less the time it was due", loud.ticks, quiet.ticks, false},
	} {
		for _, q := range []struct {
			label string
			p     float64
		}{{"p50", 0.5}, {"p99", 0.99}, {"worst", 1}} {
			r.Rows = append(r.Rows, Row{Workload: "governance: " + m.what + ", " + q.label, Unit: m.unit, Kind: Time,
				Isle: Figure{Name: hostile, Runs: []float64{percentile(m.loud, q.p)}},
				Peer: Figure{Name: idle, Runs: []float64{percentile(m.quiet, q.p)}},
				Note: fmt.Sprintf("%s; %d samples beside %d, over %s", m.note, len(m.loud), len(m.quiet), samples), ZeroOK: m.zeroOK})
		}
	}
	for _, q := range []struct {
		label string
		p     float64
	}{{"p50", 0.5}, {"p99", 0.99}} {
		r.Rows = append(r.Rows, Row{Workload: "governance: forced runtime.GC() on an idle node, " + q.label, Unit: "ms", Kind: Time,
			Isle: Figure{Name: idle, Runs: []float64{percentile(quiet.gcs, q.p)}},
			Peer: Figure{Name: "Go: the same process with no node", Runs: []float64{percentile(bare.gcs, q.p)}},
			Note: fmt.Sprintf("the floor: the same loop forcing a collection every %v, with no node and no calls; %d samples beside %d, over %s", gcEvery, len(quiet.gcs), len(bare.gcs), samples)})
	}
	worst := " p99 with the worst guests on every core"
	r.Targets = append(r.Targets,
		Target{What: "unrelated reactor's call," + worst, Goal: 5000, Unit: "µs", Kind: Time, Value: one(percentile(loud.calls, 0.99))},
		Target{What: "GC stop-the-world pause," + worst, Goal: 5, Unit: "ms", Kind: Time, Value: one(percentile(loud.pauses, 0.99))},
		Target{What: "forced runtime.GC()," + worst, Goal: 5, Unit: "ms", Kind: Time, Value: one(percentile(loud.gcs, 0.99))},
		Target{What: "a 1 ms ticker's tick after it was due," + worst, Goal: 5, Unit: "ms", Kind: Time, Value: one(percentile(loud.ticks, 0.99))})
	return nil
}

// gcEvery is how often a liveness window forces a garbage collection.
const gcEvery = 25 * time.Millisecond

// liveness calls a tiny reactor for window, forcing a garbage collection
// every gcEvery, with or without the worst guests running on every core,
// and adds what it measured to s.
func (h *harness) liveness(window time.Duration, hostile bool, s *stallSamples) error {
	node, err := h.node()
	if err != nil {
		return err
	}
	defer node.Close(context.Background())
	if hostile {
		stop, err := h.startHogs(node, runtime.GOMAXPROCS(0))
		if err != nil {
			return err
		}
		defer stop()
	}
	tiny, err := h.load(node, "tiny")
	if err != nil {
		return err
	}
	probe, err := node.Spawn(context.Background(), tiny, isle.Grants{}, reactorLimits)
	if err != nil {
		return err
	}
	pauses := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(pauses)
	before := pauses[0].Value.Float64Histogram()
	before = &metrics.Float64Histogram{Counts: slices.Clone(before.Counts), Buckets: before.Buckets}
	// One context for the window, not one per call: the harness's own
	// garbage would be swept by the collections it times.
	ctx, cancel := context.WithTimeout(h.ctx, window+time.Minute)
	defer cancel()
	ticks := tickLateness(time.Now().Add(window))
	err = forcedGCs(ctx, window, func() error {
		t0 := time.Now()
		if _, err := probe.Call(ctx, isle.Message{Tag: 1}); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		s.calls = append(s.calls, float64(time.Since(t0).Nanoseconds())/1e3)
		return nil
	}, s)
	if err != nil {
		return err
	}
	metrics.Read(pauses)
	s.pauses = append(s.pauses, newPauses(before, pauses[0].Value.Float64Histogram())...)
	s.ticks = append(s.ticks, <-ticks...)
	return nil
}

// forcedGCs calls work (nil: nothing) in a loop for window, forcing a
// garbage collection every gcEvery, and adds each collection's wall time
// and the window's GC cost to s.
func forcedGCs(ctx context.Context, window time.Duration, work func() error, s *stallSamples) error {
	cost := readGCCost()
	end := time.Now().Add(window)
	nextGC := time.Now().Add(gcEvery)
	for time.Now().Before(end) && ctx.Err() == nil {
		if work != nil {
			if err := work(); err != nil {
				return err
			}
		}
		if time.Now().After(nextGC) {
			t0 := time.Now()
			runtime.GC()
			s.gcs = append(s.gcs, float64(time.Since(t0).Nanoseconds())/1e6)
			nextGC = time.Now().Add(gcEvery)
		}
	}
	s.addGCCost(cost, readGCCost())
	return ctx.Err()
}

// tickLateness runs a 1 ms ticker until end and then sends, for every tick
// received, how long after it was due (its value) it was received, in ms.
func tickLateness(end time.Time) <-chan []float64 {
	out := make(chan []float64, 1)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var late []float64
		for due := range tick.C {
			now := time.Now()
			late = append(late, float64(now.Sub(due).Nanoseconds())/1e6)
			if now.After(end) {
				break
			}
		}
		out <- late
	}()
	return out
}

// newPauses returns, in ms, one sample per pause a histogram of pauses
// gained between two readings: the upper bound of its bucket.
func newPauses(before, after *metrics.Float64Histogram) []float64 {
	var out []float64
	for i, n := range after.Counts {
		upper := after.Buckets[i+1]
		if math.IsInf(upper, 1) { // the last bucket is unbounded
			upper = after.Buckets[i] * 2
		}
		for range n - before.Counts[i] {
			out = append(out, upper*1e3)
		}
	}
	return out
}
