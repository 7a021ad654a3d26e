package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/benchhook"
	"github.com/isle-run/isle/internal/cluster"
)

// Erlang's default net_ticktime is 60 s: a silent node is declared down
// between 45 and 75 s after it went quiet (kernel app docs, net_ticktime).
// Stated, not measured.
const (
	erlangTickMinMs = 45_000
	erlangTickMaxMs = 75_000
)

// victim is a node joined to a only to be lost, with a reactor on a
// monitoring a process on it.
type victim struct {
	node  *isle.Node
	fired chan time.Time // when the watcher's monitor fired
}

// nodeDown loses victim nodes, half cut off silently (their NATS killed,
// as SIGKILL would) and half shut down cleanly, and times each from then
// until the monitor a reactor on a holds on a process there fires.
func (c *clusterBench) nodeDown(r *Report) error {
	h := c.h
	k := h.sz.downVictims
	var silent, clean []float64 // ms
	for run := range h.opts.Runs {
		vs, err := c.victims(run, 2*k)
		if err != nil {
			return err
		}
		s, err := c.loseSilently(vs[:k])
		if err == nil {
			silent = append(silent, s...)
			s, err = c.loseCleanly(vs[k:])
			clean = append(clean, s...)
		}
		for _, v := range vs {
			v.node.Close(context.Background())
		}
		if err != nil {
			return err
		}
	}
	hb, down := c.hb, c.downAfter
	if hb == 0 {
		hb, down = cluster.DefaultHeartbeat, cluster.DefaultDownAfter
	}
	bound := float64((hb + down).Milliseconds())
	settings := fmt.Sprintf("Heartbeat %v, DownAfter %v", hb, down)
	if c.defaultTimings {
		settings += " (the defaults)"
	}
	boundF := Figure{Name: "bound: DownAfter + Heartbeat, as configured (not measured)", Runs: []float64{bound}}
	note := fmt.Sprintf("%d nodes cut off, %d a run, killed a Heartbeat/%d apart; %s", len(silent), k, k, settings)
	isleName := "isle: a reactor's monitor on a process of a node cut off silently"
	for _, q := range []struct {
		label string
		p     float64
	}{{"p50", 0.5}, {"p99", 0.99}, {"worst", 1}} {
		r.Rows = append(r.Rows, Row{Workload: "cluster: node down, silent, " + q.label, Unit: "ms", Kind: Time,
			Isle: Figure{Name: isleName, Runs: []float64{percentile(silent, q.p)}}, Peer: boundF, Note: note})
	}
	r.Rows = append(r.Rows, Row{Workload: "cluster: node down, silent, worst", Unit: "ms", Kind: Time,
		Isle: Figure{Name: isleName, Runs: []float64{percentile(silent, 1)}},
		Peer: Figure{Name: "Erlang/OTP: default net_ticktime 60 s, down 45–75 s after going silent (documented, not measured)",
			Runs: []float64{erlangTickMaxMs}},
		Note: fmt.Sprintf("Erlang's figure is its documented range's upper end; its lower end is %s ms", num(erlangTickMinMs))})
	routeF := Figure{Name: "raw NATS request/reply p50 over the same route (measured above)", Runs: c.routeP50Ms}
	cleanName := "isle: a reactor's monitor on a process of a node shut down with Node.Close"
	cnote := fmt.Sprintf("%d nodes shut down, one at a time", len(clean))
	r.Rows = append(r.Rows,
		Row{Workload: "cluster: node down, clean shutdown, p50", Unit: "ms", Kind: Time,
			Isle: Figure{Name: cleanName, Runs: []float64{percentile(clean, 0.5)}}, Peer: routeF, Note: cnote},
		Row{Workload: "cluster: node down, clean shutdown, p99", Unit: "ms", Kind: Time,
			Isle: Figure{Name: cleanName, Runs: []float64{percentile(clean, 0.99)}}, Peer: routeF, Note: cnote})
	r.Targets = append(r.Targets,
		Target{What: "node down, silent, p99 (" + settings + ")", Goal: 2500, Unit: "ms", Kind: Time, Value: one(percentile(silent, 0.99))},
		Target{What: "node down, clean shutdown, p99", Goal: 100, Unit: "ms", Kind: Time, Value: one(percentile(clean, 0.99))})
	return nil
}

// victims starts n nodes joined to a, each with an idle reactor that a
// watcher reactor on a monitors, waiting for its DOWN.
func (c *clusterBench) victims(run, n int) ([]*victim, error) {
	var vs []*victim
	fail := func(err error) ([]*victim, error) {
		for _, v := range vs {
			v.node.Close(context.Background())
		}
		return nil, err
	}
	for i := range n {
		node, err := c.start(fmt.Sprintf("v%d-%d", run, i), c.a.ClusterAddr())
		if err != nil {
			return fail(err)
		}
		v := &victim{node: node, fired: make(chan time.Time, 1)}
		vs = append(vs, v)
		if err := c.watch(v); err != nil {
			return fail(err)
		}
	}
	return vs, nil
}

// watch has a reactor on a monitor a process on v, and marks v.fired when
// the monitor fires.
func (c *clusterBench) watch(v *victim) error {
	mod, err := c.h.load(v.node, "tiny")
	if err != nil {
		return err
	}
	p, err := v.node.Spawn(context.Background(), mod, isle.Grants{}, reactorLimits)
	if err != nil {
		return err
	}
	rem, err := remote(c.h.ctx, v.node, p, "idle", api.RightSend|api.RightMonitor, c.a)
	if err != nil {
		return err
	}
	w, err := c.spawn(c.a, map[string]isle.Capability{"peer": isle.RemoteCap(rem, api.RightMonitor)})
	if err != nil {
		return err
	}
	m, err := w.Call(c.h.ctx, isle.Message{Tag: xWatch})
	if err != nil {
		return err
	}
	if rc := int32(binary.LittleEndian.Uint32(m.Data)); rc < 0 {
		return fmt.Errorf("%w: the watcher's monitor failed with %d", errCluster, rc)
	}
	go func() {
		ctx, cancel := context.WithTimeout(c.h.ctx, 5*time.Minute)
		defer cancel()
		if _, err := w.Call(ctx, isle.Message{Tag: xWait}); err == nil {
			v.fired <- time.Now()
		}
		close(v.fired)
		w.Kill()
	}()
	return nil
}

// loseSilently kills the victims' NATS one after another, spread over a
// Heartbeat so that they go quiet at different points of a's ticks, and
// returns how long each took to be seen down, in ms.
func (c *clusterBench) loseSilently(vs []*victim) ([]float64, error) {
	hb := c.hb
	if hb == 0 {
		hb = cluster.DefaultHeartbeat
	}
	t0 := make([]time.Time, len(vs))
	for i, v := range vs {
		if i > 0 {
			time.Sleep(hb / time.Duration(len(vs))) // a phase, not a synchronisation
		}
		t0[i] = time.Now()
		benchhook.ClusterNode(v.node).Kill()
	}
	var out []float64
	for i, v := range vs {
		d, err := c.awaitFired(v, t0[i])
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// loseCleanly closes the victims one at a time, timing each.
func (c *clusterBench) loseCleanly(vs []*victim) ([]float64, error) {
	var out []float64
	for _, v := range vs {
		closed := make(chan error, 1)
		t0 := time.Now()
		go func() { closed <- v.node.Close(context.Background()) }()
		d, err := c.awaitFired(v, t0)
		if cerr := <-closed; err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// awaitFired waits for v's monitor to fire and returns the ms since t0.
func (c *clusterBench) awaitFired(v *victim, t0 time.Time) (float64, error) {
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	select {
	case t, ok := <-v.fired:
		if !ok {
			return 0, fmt.Errorf("%w: node %s: the watcher failed before its monitor fired", errCluster, v.node.NodeName())
		}
		return float64(t.Sub(t0).Microseconds()) / 1e3, nil
	case <-deadline.C:
		return 0, fmt.Errorf("%w: node %s lost a minute ago, and its monitor has not fired", errCluster, v.node.NodeName())
	}
}
