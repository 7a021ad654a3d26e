package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/benchhook"
	"github.com/isle-run/isle/internal/cluster"
	"github.com/isle-run/isle/internal/dist"
)

// Tags of bench/wasm/xnode.c.
const (
	xEcho   = 1
	xTrips  = 2
	xGo     = 3
	xExpect = 6
	xWatch  = 7
	xWait   = 8
	xFailed = 99
)

// xMaxTrips is the most round trips xnode.c times in one call.
const xMaxTrips = 4096

// errCluster is a cluster workload step that did not do what it should.
var errCluster = errors.New("cluster workload")

// clusterBench is two isle nodes, a and b, joined over loopback by their
// embedded NATS servers with mutual-TLS routes, and what the cluster
// workload measures on them.
type clusterBench struct {
	h              *harness
	creds          string
	hb, downAfter  time.Duration // as configured; zero means isle's defaults
	a, b           *isle.Node
	ca, cb         *cluster.Node // their NATS, for the raw anchors
	modA, modB     *isle.Module
	routeP50Ms     []float64 // raw NATS route p50 of each run, for the clean-shutdown row
	defaultTimings bool
}

// runCluster measures a cluster of two nodes: a cross-node call's round
// trip and many senders' throughput, each beside raw NATS over the same
// route, and how soon a node cut off or shut down is seen down.
func runCluster(h *harness, r *Report) error {
	c, err := h.newClusterBench()
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.roundTrip(r); err != nil {
		return fmt.Errorf("round trip: %w", err)
	}
	if err := c.throughput(r); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	if err := c.nodeDown(r); err != nil {
		return fmt.Errorf("node down: %w", err)
	}
	return nil
}

func (h *harness) newClusterBench() (*clusterBench, error) {
	creds, err := os.MkdirTemp("", "isle-bench-cluster-")
	if err != nil {
		return nil, err
	}
	c := &clusterBench{h: h, creds: creds, defaultTimings: !h.opts.Quick}
	if h.opts.Quick {
		// Seconds in all (detection scales with these), yet wide enough
		// that a loaded race run does not take a stall for a lost node.
		c.hb, c.downAfter = 100*time.Millisecond, time.Second
	}
	if c.a, err = c.start("a"); err == nil {
		c.b, err = c.start("b", c.a.ClusterAddr())
	}
	if err == nil {
		err = c.waitUp(c.a, "b")
	}
	if err == nil {
		c.ca, c.cb = benchhook.ClusterNode(c.a), benchhook.ClusterNode(c.b)
		if c.modA, err = h.load(c.a, "xnode"); err == nil {
			c.modB, err = h.load(c.b, "xnode")
		}
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *clusterBench) close() {
	for _, n := range []*isle.Node{c.b, c.a} {
		if n != nil {
			n.Close(context.Background())
		}
	}
	os.RemoveAll(c.creds)
}

// start starts a node named name on loopback, joining the addresses given.
func (c *clusterBench) start(name string, join ...string) (*isle.Node, error) {
	if err := isle.InitCluster(c.creds, name); err != nil {
		return nil, err
	}
	return isle.NewNode(c.h.ctx, isle.Config{
		CacheDir: filepath.Join(c.h.opts.CacheDir, "node"),
		Cluster: &isle.ClusterConfig{Name: name, Listen: "127.0.0.1:0", Join: join, Credentials: c.creds,
			Heartbeat: c.hb, DownAfter: c.downAfter},
	})
}

// waitUp waits until n sees peer up.
func (c *clusterBench) waitUp(n *isle.Node, peer string) error {
	ctx, cancel := context.WithTimeout(c.h.ctx, 30*time.Second)
	defer cancel()
	err := waitUntil(ctx, func() bool {
		for _, m := range n.Members() {
			if m.Name == peer && m.Up {
				return true
			}
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("%w: node %s never saw %s up: %w", errCluster, n.NodeName(), peer, err)
	}
	return nil
}

// spawn starts an xnode.c reactor on node with the given capabilities.
func (c *clusterBench) spawn(node *isle.Node, caps map[string]isle.Capability) (*isle.Process, error) {
	mod := c.modA
	if node == c.b {
		mod = c.modB
	}
	return node.Spawn(context.Background(), mod, isle.Grants{Caps: caps}, reactorLimits)
}

// remote publishes p on owner as name and looks it up from the node from.
func remote(ctx context.Context, owner *isle.Node, p *isle.Process, name string, rights api.Rights, from *isle.Node) (*isle.Remote, error) {
	if err := owner.Publish(name, isle.ProcessCap(p, rights)); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return from.Lookup(ctx, owner.NodeName(), name)
}

// roundTrip times a reactor on a calling a reactor on b, beside raw NATS
// request/reply over the same route and within a's one server.
func (c *clusterBench) roundTrip(r *Report) error {
	h := c.h
	echo, err := c.spawn(c.b, nil)
	if err != nil {
		return err
	}
	rem, err := remote(h.ctx, c.b, echo, "echo", api.RightSend, c.a)
	if err != nil {
		return err
	}
	tripper, err := c.spawn(c.a, map[string]isle.Capability{
		"peer": isle.RemoteCap(rem, api.RightSend), "clock": isle.ClockCap(api.RightMonotonic)})
	if err != nil {
		return err
	}
	n := h.sz.crossTrips
	runs, err := h.repeat(func() ([]float64, error) {
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
		defer cancel()
		isleUs, err := isleTrips(ctx, tripper, n)
		if err != nil {
			return nil, err
		}
		route, err := cluster.RawRoundTrip(ctx, n, c.ca, c.cb)
		if err != nil {
			return nil, err
		}
		local, err := cluster.RawRoundTrip(ctx, n, c.ca, c.ca)
		if err != nil {
			return nil, err
		}
		routeUs, localUs := micros(route), micros(local)
		ip50, rp50 := percentile(isleUs, 0.5), percentile(routeUs, 0.5)
		return []float64{ip50, percentile(isleUs, 0.99), rp50, percentile(routeUs, 0.99),
			percentile(localUs, 0.5), ip50 / rp50}, nil
	})
	if err != nil {
		return err
	}
	c.routeP50Ms = scale(runs[2], 1e-3)
	isleName := "isle: a C reactor on node a calls one on node b (16 bytes)"
	route := "raw NATS request/reply, a's connection → b's, over the same route (16 bytes)"
	note := fmt.Sprintf("%s timed calls per run; isle's timed in the guest by its clock, NATS's in Go", count(n))
	r.Rows = append(r.Rows,
		Row{Workload: "cluster: cross-node round trip p50", Unit: "µs", Kind: Time,
			Isle: Figure{Name: isleName, Runs: runs[0]}, Peer: Figure{Name: route, Runs: runs[2]}, Note: note},
		Row{Workload: "cluster: cross-node round trip p50", Unit: "µs", Kind: Time,
			Isle: Figure{Name: isleName, Runs: runs[0]},
			Peer: Figure{Name: "raw NATS request/reply within one server (a's connection to itself)", Runs: runs[4]},
			Note: "the in-process floor: no route, no TLS"},
		Row{Workload: "cluster: cross-node round trip p99", Unit: "µs", Kind: Time,
			Isle: Figure{Name: isleName, Runs: runs[1]}, Peer: Figure{Name: route, Runs: runs[3]}, Note: note},
	)
	r.Targets = append(r.Targets, Target{What: "cross-node round trip p50 over raw NATS route p50", Goal: 1.5, Unit: "×",
		Kind: Time, Value: Figure{Name: "isle", Runs: runs[5]}})
	return nil
}

// isleTrips has the tripper time n calls, and returns them in µs.
func isleTrips(ctx context.Context, tripper *isle.Process, n int) ([]float64, error) {
	out := make([]float64, 0, n)
	for len(out) < n {
		k := min(n-len(out), xMaxTrips)
		m, err := tripper.Call(ctx, isle.Message{Tag: xTrips, Data: u32s(uint32(k))})
		if err != nil {
			return nil, err
		}
		if m.Tag != xTrips || len(m.Data) != 4*k {
			return nil, fmt.Errorf("%w: the tripper answered tag %d with %d bytes (a failed call's rc: %d)",
				errCluster, m.Tag, len(m.Data), int32(binary.LittleEndian.Uint32(append(m.Data, 0, 0, 0, 0))))
		}
		for i := range k {
			out = append(out, float64(binary.LittleEndian.Uint32(m.Data[4*i:]))/1e3)
		}
	}
	return out, nil
}

// micros converts durations to µs.
func micros(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d.Nanoseconds()) / 1e3
	}
	return out
}

// throughput has several senders on a send 8-byte messages to one
// counting reactor on b, beside raw NATS publishers on a's connection to
// a subscriber on b's.
func (c *clusterBench) throughput(r *Report) error {
	h := c.h
	sink, err := c.spawn(c.b, nil)
	if err != nil {
		return err
	}
	rem, err := remote(h.ctx, c.b, sink, "sink", api.RightSend, c.a)
	if err != nil {
		return err
	}
	s := h.sz.crossSenders
	var senders []*isle.Process
	for range s {
		p, err := c.spawn(c.a, map[string]isle.Capability{"peer": isle.RemoteCap(rem, api.RightSend)})
		if err != nil {
			return err
		}
		senders = append(senders, p)
	}
	each := h.sz.crossMsgs / s
	total := each * s
	var counted uint32
	runs, err := h.repeat(func() ([]float64, error) {
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
		defer cancel()
		counted += uint32(total)
		done := make(chan error, 1)
		go func() {
			m, err := sink.Call(ctx, isle.Message{Tag: xExpect, Data: u32s(counted)})
			if err == nil && (len(m.Data) < 4 || binary.LittleEndian.Uint32(m.Data) != counted) {
				err = fmt.Errorf("%w: the sink answered %v, want a count of %d", errCluster, m.Data, counted)
			}
			done <- err
		}()
		t0 := time.Now()
		for _, p := range senders {
			if err := p.Send(ctx, isle.Message{Tag: xGo, Data: u32s(uint32(each), uint32(h.sz.batch))}); err != nil {
				return nil, err
			}
		}
		if err := <-done; err != nil {
			return nil, err
		}
		isleRate := float64(total) / time.Since(t0).Seconds() / 1e6
		raw, err := rawThroughput(ctx, c.ca, c.cb, s, each)
		if err != nil {
			return nil, err
		}
		return []float64{isleRate, raw / 1e6}, nil
	})
	if err != nil {
		return err
	}
	isleF := Figure{Name: fmt.Sprintf("isle: %s on a, %d sends a turn → one counting reactor on b (8 bytes)",
		plural(s, "C reactor sender"), h.sz.batch), Runs: runs[0]}
	r.Rows = append(r.Rows, Row{Workload: "cluster: throughput a → b, " + plural(s, "sender"), Unit: "M msg/s", Kind: Rate,
		Isle: isleF,
		Peer: Figure{Name: fmt.Sprintf("raw NATS: %s publishing on a's connection → one subscriber on b's (8 bytes)", plural(s, "goroutine")), Runs: runs[1]},
		Note: fmt.Sprintf("%s messages per run; isle batches frames into NATS messages under a window of %d, raw NATS publishes one message each under a window of %s",
			count(total), dist.DefaultWindow, count(rawWindow))})
	r.Targets = append(r.Targets, Target{What: "cross-node throughput a → b", Goal: 1, Unit: "M msg/s", Kind: Rate, Value: isleF})
	return nil
}

// rawWindow bounds the messages raw publishers run ahead of the
// subscriber, so that a slow reader is not cut off as a slow consumer.
const rawWindow = 65536

// rawThroughput has s goroutines publish each 8-byte messages on a's
// connection to one subscriber on b's, and returns messages per second
// from their release to the last one counted.
func rawThroughput(ctx context.Context, a, b *cluster.Node, s, each int) (float64, error) {
	subj := b.Subject("rawbench", nuid.Next())
	total := int64(s * each)
	var got atomic.Int64
	fl := newFlow()
	done := make(chan struct{})
	sub, err := b.Conn().Subscribe(subj, func(m *nats.Msg) {
		if m.Reply != "" {
			m.Respond(nil) // the probe for interest
			return
		}
		n := got.Add(1)
		if n%4096 == 0 {
			fl.wake()
		}
		if n == total {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return 0, err
	}
	// Interest crosses the route asynchronously: until then, requests
	// find no responders.
	for {
		if _, err := a.Conn().RequestWithContext(ctx, subj, nil); err == nil {
			break
		} else if !errors.Is(err, nats.ErrNoResponders) {
			return 0, err
		}
	}
	var sent atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, s)
	t0 := time.Now()
	for range s {
		wg.Go(func() {
			payload := make([]byte, 8)
			for range each {
				for sent.Load()-got.Load() > rawWindow {
					if err := fl.wait(ctx); err != nil {
						errs <- err
						return
					}
				}
				sent.Add(1)
				if err := a.Conn().Publish(subj, payload); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	if err := a.Conn().Flush(); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: raw NATS subscriber counted %d of %d: %w", errCluster, got.Load(), total, ctx.Err())
	}
	return float64(total) / time.Since(t0).Seconds(), nil
}

// flow wakes raw publishers waiting for the subscriber to catch up.
type flow struct {
	mu sync.Mutex
	ch chan struct{}
}

func newFlow() *flow { return &flow{ch: make(chan struct{})} }

func (f *flow) wake() {
	f.mu.Lock()
	close(f.ch)
	f.ch = make(chan struct{})
	f.mu.Unlock()
}

// wait waits for the next wake, or at most a millisecond: a wake may
// come between the caller's check and this call.
func (f *flow) wait(ctx context.Context) error {
	f.mu.Lock()
	ch := f.ch
	f.mu.Unlock()
	t := time.NewTimer(time.Millisecond)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
