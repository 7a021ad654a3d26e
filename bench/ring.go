package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/isle-run/isle"
)

// Tags of bench/wasm/ring.c.
const (
	tagSetup   = 1
	tagRunRing = 2
)

// runRing passes a token round rings of each size in sz.rings, the same
// number of hops at every size, beside Erlang's ring of the same size.
// The ring the targets name gets Options.Runs counted runs, the others
// sz.ringRuns: a run of a million hops takes seconds.
func runRing(h *harness, r *Report) error {
	for _, n := range h.sz.rings {
		laps := max(1, h.sz.hops/n) // as sizes.ringLaps
		counted := h.opts.Runs
		if n != h.sz.ringTarget {
			counted = h.runs(h.sz.ringRuns)
		}
		runs, err := h.repeatN(counted, func() ([]float64, error) { return h.isleRing(n, laps) })
		if err != nil {
			return fmt.Errorf("isle ring of %d: %w", n, err)
		}
		res, eerr := h.erlang.run(h, "ring.escript", strconv.Itoa(counted), strconv.Itoa(n), strconv.Itoa(laps))
		erl := erlangFigures(fmt.Sprintf("Erlang: a ring of %s processes", count(n)), res, eerr, "setup_ms", "laps_ms", "first_ms")
		ring := fmt.Sprintf("ring of %s processes", count(n))
		isleName := fmt.Sprintf("isle: a ring of %s 1-page C reactors", count(n))
		if laps > 1 {
			r.Rows = append(r.Rows, ringLapRows(ring, isleName, laps, runs, erl)...)
		}
		r.Rows = append(r.Rows,
			Row{Workload: fmt.Sprintf("%s, %s laps", ring, count(laps)), Unit: "ms", Kind: Time,
				Isle: Figure{Name: isleName, Runs: runs[1]}, Peer: erl[1],
				Note: fmt.Sprintf("%s messages in sequence: no two are ever in flight at once", count(n*laps))},
			Row{Workload: ring + ", setting it up", Unit: "ms", Kind: Time,
				Isle: Figure{Name: "isle: the coordinator reactor spawns the others with `isle_spawn`", Runs: runs[0]}, Peer: erl[0],
				Note: "each new process gets a handle (isle) or pid (Erlang) of the one spawned before it"})
		if n == h.sz.ringTarget && erl[0].Measured() && erl[1].Measured() {
			r.Targets = append(r.Targets,
				Target{What: ring + ", laps, over Erlang's", Goal: 1, Unit: "× Erlang's", Kind: Time,
					Value: one(median(runs[1]) / erl[1].Median())},
				Target{What: ring + ", setting it up, within 2× of Erlang's", Goal: 2, Unit: "× Erlang's", Kind: Time,
					Value: one(median(runs[0]) / erl[0].Median())})
		}
	}
	return nil
}

// ringLapRows splits a ring's laps into the first, timed alone, and the
// mean of the others: isle's reactors are born dormant, so its first lap
// also makes every reactor's instance, which Erlang's spawn did.
func ringLapRows(ring, isleName string, laps int, runs [][]float64, erl []Figure) []Row {
	later := func(total, first []float64) []float64 {
		var out []float64
		for i := range min(len(total), len(first)) {
			out = append(out, (total[i]-first[i])/float64(laps-1))
		}
		return out
	}
	erlLater := Figure{Name: erl[2].Name, Skip: erl[2].Skip, Runs: later(erl[1].Runs, erl[2].Runs)}
	return []Row{
		{Workload: ring + ", the first lap", Unit: "ms", Kind: Time,
			Isle: Figure{Name: isleName, Runs: runs[2]}, Peer: erl[2],
			Note: "isle's reactors are born dormant: this lap also makes each one's wasm instance, on the pages the run before left warm (the warm-up's, for the first counted run; docs/RATIONALE.md, \"Warm pages\")"},
		{Workload: ring + ", each later lap", Unit: "ms", Kind: Time,
			Isle: Figure{Name: isleName, Runs: later(runs[1], runs[2])}, Peer: erlLater,
			Note: "the mean of the laps after the first: " + plural(laps-1, "lap")},
	}
}

// isleRing builds a ring of n reactors in a fresh node and sends a token
// round it laps times, the first lap timed alone. It returns the setup,
// all the laps and the first lap, in ms.
func (h *harness) isleRing(n, laps int) ([]float64, error) {
	node, err := h.sizedNode(n)
	if err != nil {
		return nil, err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "ring")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
	defer cancel()
	p, err := node.Spawn(context.Background(), mod, isle.Grants{Spawn: map[string]*isle.Module{"ring": mod}}, treeLimits)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	reply, err := p.Call(ctx, isle.Message{Tag: tagSetup, Data: u32s(uint32(n))})
	setup := time.Since(t0)
	if err != nil {
		return nil, err
	}
	if reply.Tag != tagSetup {
		return nil, fmt.Errorf("ring setup: %s", guestError(reply))
	}
	t0 = time.Now()
	if _, err := p.Call(ctx, isle.Message{Tag: tagRunRing, Data: u32s(1)}); err != nil {
		return nil, err
	}
	first := time.Since(t0)
	if laps > 1 {
		if _, err := p.Call(ctx, isle.Message{Tag: tagRunRing, Data: u32s(uint32(laps - 1))}); err != nil {
			return nil, err
		}
	}
	run := time.Since(t0)
	return []float64{ms(setup), ms(run), ms(first)}, nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
