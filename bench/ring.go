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

func runRing(h *harness, r *Report) error {
	n, laps := h.sz.ring, h.sz.laps
	runs, err := h.repeat(func() ([]float64, error) { return h.isleRing(n, laps) })
	if err != nil {
		return fmt.Errorf("isle ring: %w", err)
	}
	res, eerr := h.erlang.run(h, "ring.escript", strconv.Itoa(h.opts.Runs), strconv.Itoa(n), strconv.Itoa(laps))
	erl := erlangFigures(fmt.Sprintf("Erlang: a ring of %s processes", count(n)), res, eerr, "setup_ms", "laps_ms")
	r.Rows = append(r.Rows,
		Row{Workload: fmt.Sprintf("ring of %s processes, %d laps", count(n), laps), Unit: "ms", Kind: Time,
			Isle: Figure{Name: fmt.Sprintf("isle: a ring of %s 1-page C reactors", count(n)), Runs: runs[1]}, Peer: erl[1],
			Note: fmt.Sprintf("%s messages in sequence: no two are ever in flight at once", count(n*laps))},
		Row{Workload: fmt.Sprintf("ring of %s processes, setting it up", count(n)), Unit: "ms", Kind: Time,
			Isle: Figure{Name: "isle: the coordinator reactor spawns the others with `isle_spawn`", Runs: runs[0]}, Peer: erl[0],
			Note: "each new process gets a handle (isle) or pid (Erlang) of the one spawned before it"})
	return nil
}

// isleRing builds a ring of n reactors in a fresh node and sends a token
// round it laps times. It returns the setup and lap times in ms.
func (h *harness) isleRing(n, laps int) ([]float64, error) {
	node, err := h.node()
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
	if _, err := p.Call(ctx, isle.Message{Tag: tagRunRing, Data: u32s(uint32(laps))}); err != nil {
		return nil, err
	}
	run := time.Since(t0)
	return []float64{ms(setup), ms(run)}, nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
