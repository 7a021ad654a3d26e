package bench

import (
	"context"
	"fmt"
	"os"
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
	if err := h.stalls(r); err != nil {
		return err
	}
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
