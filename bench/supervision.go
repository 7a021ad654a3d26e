package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/isle-run/isle"
)

// Tags of bench/wasm/worker.c.
const (
	tagWorkerPing  = 1
	tagWorkerCrash = 2
)

// runSupervision measures how fast a supervisor brings a crashed service
// back: from the crash to the first call the new instance answers, with a
// C reactor under a one_for_one supervisor, beside an Erlang gen_server
// under an OTP supervisor.
func runSupervision(h *harness, r *Report) error {
	n := h.sz.restarts
	runs, err := h.repeat(func() ([]float64, error) { return h.isleRestarts(n) })
	if err != nil {
		return fmt.Errorf("isle restarts: %w", err)
	}
	res, eerr := h.erlang.run(h, "restart.escript", strconv.Itoa(h.opts.Runs), strconv.Itoa(n))
	erl := scaleFigs(erlangFigures("Erlang: a gen_server under a one_for_one supervisor", res, eerr,
		"restart_p50_ns", "restart_p99_ns"), 1e-3)
	name := "isle: a 1-page C reactor under a one_for_one supervisor"
	note := fmt.Sprintf("%d crashes per run; Erlang polls whereis for the new pid, isle's call waits in the service", n)
	r.Rows = append(r.Rows,
		Row{Workload: "restart after a crash, p50", Unit: "µs", Kind: Time, Note: note,
			Isle: Figure{Name: name, Runs: runs[0]}, Peer: erl[0]},
		Row{Workload: "restart after a crash, p99", Unit: "µs", Kind: Time, Note: note,
			Isle: Figure{Name: name, Runs: runs[1]}, Peer: erl[1]},
	)
	if erl[0].Measured() {
		r.Targets = append(r.Targets, Target{What: "restart p50 within 2× of Erlang's", Goal: 2, Unit: "× Erlang's",
			Kind: Time, Value: one(median(runs[0]) / erl[0].Median())})
	}
	return nil
}

// isleRestarts crashes a supervised worker n times and returns the p50
// and p99 of the time from each crash to the new instance's first answer,
// in µs.
func (h *harness) isleRestarts(n int) ([]float64, error) {
	node, err := h.node()
	if err != nil {
		return nil, err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "worker")
	if err != nil {
		return nil, err
	}
	sup, err := node.Supervise(h.ctx, isle.SupervisorSpec{Name: "bench", Strategy: isle.OneForOne,
		Intensity: 1 << 30, Period: time.Second,
		Children: []isle.ChildSpec{{Name: "worker", Module: mod, Limits: reactorLimits}}})
	if err != nil {
		return nil, err
	}
	defer sup.Stop(context.Background())
	svc, _ := sup.Service("worker")
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
	defer cancel()
	lat := make([]float64, n)
	for i := range lat {
		t0 := time.Now()
		if err := svc.Send(ctx, isle.Message{Tag: tagWorkerCrash}); err != nil {
			return nil, err
		}
		if _, err := svc.Call(ctx, isle.Message{Tag: tagWorkerPing}); err != nil {
			return nil, fmt.Errorf("call after crash %d: %w", i, err)
		}
		lat[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
	}
	return []float64{percentile(lat, 0.5), percentile(lat, 0.99)}, nil
}
