package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/isle-run/isle"
)

// Tags of bench/wasm/pingpong.c and tput.c.
const (
	tagStart = 1
	tagRun   = 1
)

func runRoundTrip(h *harness, r *Report) error {
	n := h.sz.roundTrips
	node, err := h.node()
	if err != nil {
		return err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "pingpong")
	if err != nil {
		return err
	}
	p, err := node.Spawn(context.Background(), mod, isle.Grants{Spawn: map[string]*isle.Module{"pingpong": mod}}, treeLimits)
	if err != nil {
		return err
	}
	runs, err := h.repeat(func() ([]float64, error) {
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
		defer cancel()
		t0 := time.Now()
		if _, err := p.Call(ctx, isle.Message{Tag: tagStart, Data: u32s(uint32(n))}); err != nil {
			return nil, err
		}
		return []float64{float64(time.Since(t0).Nanoseconds()) / float64(n) / 1e3}, nil
	})
	if err != nil {
		return fmt.Errorf("isle ping-pong: %w", err)
	}
	isleF := Figure{Name: "isle: two 1-page C reactors trade a 4-byte message", Runs: runs[0]}
	res, eerr := h.erlang.run(h, "pingpong.escript", strconv.Itoa(h.opts.Runs), strconv.Itoa(n))
	peers := []Figure{
		scaleFigs(erlangFigures("Erlang: two processes trade a 4-byte binary", res, eerr, "rt_ns"), 1e-3)[0],
		h.peer("Go: two goroutines over unbuffered channels", 1, func() ([]float64, error) {
			return []float64{goRoundTrip(n) / 1e3}, nil
		})[0],
		h.peer("OS processes: a 4-byte message over two Unix pipes", 1, func() ([]float64, error) {
			v, err := h.pipes("pingpong", strconv.Itoa(h.sz.pipeTrips))
			return []float64{v / 1e3}, err
		})[0],
	}
	notes := []string{
		"",
		"",
		fmt.Sprintf("%s round trips per run (a read and a write system call each way)", count(h.sz.pipeTrips)),
	}
	for i, peer := range peers {
		r.Rows = append(r.Rows, Row{Workload: "message round trip", Unit: "µs", Kind: Time, Isle: isleF, Peer: peer, Note: notes[i]})
	}
	r.Targets = append(r.Targets, Target{What: "message round trip", Goal: 0.4, Unit: "µs", Kind: Time, Value: isleF})
	if peers[0].Measured() {
		r.Targets = append(r.Targets, Target{What: "message round trip over Erlang's", Goal: 0.8, Unit: "× Erlang's", Kind: Time,
			Value: one(isleF.Median() / peers[0].Median())})
	}
	return nil
}

func runThroughput(h *harness, r *Report) error {
	node, err := h.node()
	if err != nil {
		return err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "tput")
	if err != nil {
		return err
	}
	sink, err := node.Spawn(context.Background(), mod, isle.Grants{Spawn: map[string]*isle.Module{"tput": mod}}, treeLimits)
	if err != nil {
		return err
	}
	res, eerr := h.erlang.run(h, "throughput.escript", strconv.Itoa(h.opts.Runs), strconv.Itoa(h.sz.msgs), ints(h.sz.senders))
	plot := Plot{File: "throughput.svg", Title: "Throughput into one receiver against senders",
		XLabel: "senders", YLabel: "million messages per second (log)"}
	series := make([]Series, 4)
	best := Figure{}
	for _, s := range h.sz.senders {
		each := h.sz.msgs / s
		total := float64(each * s)
		plot.Categories = append(plot.Categories, strconv.Itoa(s))
		runs, err := h.repeat(func() ([]float64, error) { return h.sinkRate(sink, s, each) })
		if err != nil {
			return fmt.Errorf("isle throughput with %d senders: %w", s, err)
		}
		isleF := Figure{Name: fmt.Sprintf("isle: %s → one sink reactor", plural(s, "C reactor sender")), Runs: runs[0]}
		if !best.Measured() || isleF.Median() > best.Median() {
			best = isleF
		}
		peers := []Figure{
			scaleFigs(erlangFigures(fmt.Sprintf("Erlang: %s → one receiver", plural(s, "sender")), res, eerr, fmt.Sprintf("tput_%d", s)), 1e-6)[0],
			h.peer(fmt.Sprintf("Go: %s → one channel (capacity 1,024)", plural(s, "goroutine")), 1, func() ([]float64, error) {
				return []float64{total / goThroughput(s, each).Seconds() / 1e6}, nil
			})[0],
			h.peer(fmt.Sprintf("OS processes: %s → one Unix pipe", plural(s, "writer")), 1, func() ([]float64, error) {
				ns, err := h.pipes("tput", strconv.Itoa(s), strconv.Itoa(each))
				return []float64{total / (ns / 1e9) / 1e6}, err
			})[0],
		}
		notes := []string{
			"Erlang mailboxes are unbounded: its senders never wait for room, isle's do (mailbox of 1,024)",
			"",
			"one write(2) per message; the reader drains up to 64 KiB per read(2)",
		}
		for i, p := range peers {
			r.Rows = append(r.Rows, Row{Workload: "throughput, " + plural(s, "sender"), Unit: "M msg/s", Kind: Rate,
				Isle: isleF, Peer: p, Note: notes[i]})
		}
		if peers[0].Measured() {
			r.Targets = append(r.Targets, Target{What: "throughput, " + plural(s, "sender") + ", over Erlang's", Goal: 1,
				Unit: "× Erlang's", Kind: Rate, Value: one(isleF.Median() / peers[0].Median())})
		}
		for i, f := range append([]Figure{isleF}, peers...) {
			series[i].add(f)
		}
	}
	for i, name := range []string{"isle (C reactors)", "Erlang", "Go channel", "Unix pipe"} {
		series[i].Name = name
	}
	plot.Series = series
	r.Plots = append(r.Plots, plot)
	best.Name += " (best sender count)"
	r.Targets = append(r.Targets, Target{What: "throughput on 2 cores (best of the sender counts)", Goal: 3, Unit: "M msg/s", Kind: Rate, Value: best})
	return h.secondCore(r, sink)
}

// sinkRate has the tput sink run s senders of each messages and returns
// the rate it counted them at, in millions a second.
func (h *harness) sinkRate(sink *isle.Process, s, each int) ([]float64, error) {
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
	defer cancel()
	total := s * each
	t0 := time.Now()
	reply, err := sink.Call(ctx, isle.Message{Tag: tagRun, Data: u32s(uint32(s), uint32(each), uint32(h.sz.batch))})
	d := time.Since(t0)
	if err != nil {
		return nil, err
	}
	if got := binary.LittleEndian.Uint32(reply.Data); got != uint32(total) {
		return nil, fmt.Errorf("sink counted %d messages, want %d", got, total)
	}
	return []float64{float64(total) / d.Seconds() / 1e6}, nil
}

// secondCore measures the throughput workload on all cores against one,
// in pairs of runs whose order alternates, as the metrics workload does,
// so that a machine whose load drifts weighs on both sides alike. The
// all-core runs use sink; the one-core runs a second node, made while
// GOMAXPROCS is 1 so that one worker runs every reactor, and run while it
// is 1 again. The second core should help, not hurt.
func (h *harness) secondCore(r *Report, sink *isle.Process) error {
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 {
		h.logf("  throughput on one core: skipped, GOMAXPROCS is already 1")
		return nil
	}
	var solo *isle.Process
	var node *isle.Node
	err := withProcs(1, func() error {
		var err error
		if node, err = h.node(); err != nil {
			return err
		}
		mod, err := h.load(node, "tput")
		if err != nil {
			return err
		}
		solo, err = node.Spawn(context.Background(), mod, isle.Grants{Spawn: map[string]*isle.Module{"tput": mod}}, treeLimits)
		return err
	})
	if node != nil {
		defer node.Close(context.Background())
	}
	if err != nil {
		return err
	}
	erl, eerr := h.erlangSecondCore(procs)
	for _, s := range h.sz.senders {
		var all, one1 []float64
		for i := -1; i < h.opts.Runs; i++ { // a warm-up pair first
			for _, oneCore := range []bool{i%2 == 0, i%2 != 0} {
				p, n, dst := sink, procs, &all
				if oneCore {
					p, n, dst = solo, 1, &one1
				}
				var v []float64
				err := withProcs(n, func() (err error) { v, err = h.sinkRate(p, s, h.sz.msgs/s); return err })
				if err != nil {
					return fmt.Errorf("isle throughput on %d cores with %d senders: %w", n, s, err)
				}
				if i >= 0 {
					*dst = append(*dst, v[0])
				}
			}
		}
		name := fmt.Sprintf("%s → one sink reactor", plural(s, "C reactor sender"))
		two := Figure{Name: fmt.Sprintf("isle on GOMAXPROCS %d: %s", procs, name), Runs: all}
		r.Rows = append(r.Rows, Row{Workload: fmt.Sprintf("throughput, %s, all %d cores vs one", plural(s, "sender"), procs),
			Unit: "M msg/s", Kind: Rate, Isle: two, Peer: Figure{Name: "isle on GOMAXPROCS 1: " + name, Runs: one1},
			Note: "runs in pairs, their order alternating; one worker on GOMAXPROCS 1 runs every reactor; the same fixture, sizes and batch"})
		r.Targets = append(r.Targets, Target{What: fmt.Sprintf("the second core helps: throughput, %s, on %d cores against one", plural(s, "sender"), procs),
			Goal: 1, Unit: "× one core", Kind: Rate, Value: one(median(all) / median(one1))})
		pairs := make([]float64, len(all))
		for i := range all {
			pairs[i] = all[i] / one1[i]
		}
		peer := Figure{Name: fmt.Sprintf("Erlang: +S %d ÷ +S 1, %s → one receiver", procs, plural(s, "sender")), Runs: erl[s]}
		if eerr != nil {
			peer.Skip = eerr.Error()
		}
		r.Rows = append(r.Rows, Row{Workload: fmt.Sprintf("the second core, %s: throughput on %d cores ÷ on one", plural(s, "sender"), procs),
			Unit: "×", Kind: Rate, Isle: Figure{Name: fmt.Sprintf("isle: GOMAXPROCS %d ÷ 1, each pair of runs", procs), Runs: pairs}, Peer: peer,
			Note: "Erlang's pairs alternate too: each run is one escript, all schedulers or one, after its own warm-up run"})
	}
	return nil
}

// erlangSecondCore runs Erlang's throughput workload on procs schedulers
// and on one (ERL_FLAGS=+S 1), in pairs whose order alternates as isle's
// do, and returns for each sender count the ratio of each pair.
func (h *harness) erlangSecondCore(procs int) (map[int][]float64, error) {
	ratios := map[int][]float64{}
	for i := range h.opts.Runs {
		var got [2]map[string][]float64 // all schedulers, one
		for _, oneSched := range []bool{i%2 == 0, i%2 != 0} {
			k, flags := 0, fmt.Sprintf("+S %d", procs)
			if oneSched {
				k, flags = 1, "+S 1"
			}
			res, err := h.erlang.runEnv(h, 5*time.Minute, []string{"ERL_FLAGS=" + flags},
				"throughput.escript", "1", strconv.Itoa(h.sz.msgs), ints(h.sz.senders))
			if err != nil {
				return nil, err
			}
			got[k] = res
		}
		for _, s := range h.sz.senders {
			m := fmt.Sprintf("tput_%d", s)
			if len(got[0][m]) == 0 || len(got[1][m]) == 0 {
				return nil, fmt.Errorf("escript throughput.escript printed no %s", m)
			}
			ratios[s] = append(ratios[s], got[0][m][0]/got[1][m][0])
		}
	}
	return ratios, nil
}

// withProcs runs f with GOMAXPROCS set to n, and sets it back after.
func withProcs(n int, f func() error) error {
	prev := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(prev)
	return f()
}

// goRoundTrip returns the mean round trip, in nanoseconds, of a 4-byte
// value between two goroutines over unbuffered channels.
func goRoundTrip(n int) float64 {
	ping, pong := make(chan [4]byte), make(chan [4]byte)
	go func() {
		for m := range ping {
			pong <- m
		}
	}()
	v := [4]byte{1, 2, 3, 4}
	t0 := time.Now()
	for range n {
		ping <- v
		v = <-pong
	}
	d := time.Since(t0)
	close(ping)
	return float64(d.Nanoseconds()) / float64(n)
}

// goThroughput has s goroutines send each 4-byte values into one buffered
// channel that this goroutine drains, and returns how long that took from
// their release.
func goThroughput(s, each int) time.Duration {
	ch := make(chan [4]byte, 1024)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range s {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v := [4]byte{1, 2, 3, 4}
			for range each {
				ch <- v
			}
		}()
	}
	t0 := time.Now()
	close(start)
	for range s * each {
		<-ch
	}
	d := time.Since(t0)
	wg.Wait()
	return d
}

// pipes runs bench/native/pipes.c and returns the number it prints.
func (h *harness) pipes(args ...string) (float64, error) {
	bin, err := h.build.native("pipes")
	if err != nil {
		return 0, err
	}
	out, err := exec.CommandContext(h.ctx, bin, args...).Output()
	if err != nil {
		return 0, fmt.Errorf("pipes %v: %w", args, err)
	}
	v, err := parseFloats(string(out))
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// u32s encodes little-endian uint32s, the fixtures' payloads.
func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// plural says "1 sender" or "8 senders".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
