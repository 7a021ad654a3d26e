package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/isle-run/isle"
)

// scrapeEvery is how often the metrics workload scrapes /metrics while
// metrics are on: 15 times Prometheus's default of 15 s, and as often as
// the dashboard's frames. (At 100 ms, on 2 busy cores, the round trip
// measured from 0.99 to 1.17 times off: a scrape costs about 0.25 ms of
// CPU, mostly the Go runtime collector, and any goroutine that wakes
// competes with the two reactors for the cores.)
const scrapeEvery = time.Second

// metricsSenders is the sender count of the throughput half.
const metricsSenders = 2

// runMetrics measures what the admin endpoints cost the message paths:
// the round trip and the throughput figures with metrics off and on, on
// one node, alternating off and on runs so that drift in the machine
// falls on both. "On" is the admin handler served over TCP, scraped every
// scrapeEvery, with a dashboard's event stream open.
func runMetrics(h *harness, r *Report) error {
	node, err := h.node()
	if err != nil {
		return err
	}
	defer node.Close(context.Background())
	pp, err := h.load(node, "pingpong")
	if err != nil {
		return err
	}
	tp, err := h.load(node, "tput")
	if err != nil {
		return err
	}
	ping, err := node.Spawn(h.ctx, pp, isle.Grants{Spawn: map[string]*isle.Module{"pingpong": pp}}, treeLimits)
	if err != nil {
		return err
	}
	sink, err := node.Spawn(h.ctx, tp, isle.Grants{Spawn: map[string]*isle.Module{"tput": tp}}, treeLimits)
	if err != nil {
		return err
	}
	n, each := h.sz.roundTrips, h.sz.msgs/metricsSenders
	roundTrip := func() (float64, error) {
		t0 := time.Now()
		if _, err := ping.Call(h.ctx, isle.Message{Tag: tagStart, Data: u32s(uint32(n))}); err != nil {
			return 0, err
		}
		return float64(time.Since(t0).Nanoseconds()) / float64(n) / 1e3, nil
	}
	throughput := func() (float64, error) {
		t0 := time.Now()
		reply, err := sink.Call(h.ctx, isle.Message{Tag: tagRun, Data: u32s(metricsSenders, uint32(each), uint32(h.sz.batch))})
		d := time.Since(t0)
		if err != nil {
			return 0, err
		}
		if got := binary.LittleEndian.Uint32(reply.Data); got != uint32(each*metricsSenders) {
			return 0, fmt.Errorf("sink counted %d messages, want %d", got, each*metricsSenders)
		}
		return float64(each*metricsSenders) / d.Seconds() / 1e6, nil
	}
	var off, on [2][]float64
	// One warm-up of each, then Runs pairs, the order of each pair
	// alternating.
	for i := -1; i < h.opts.Runs; i++ {
		for _, metrics := range []bool{i%2 == 0, i%2 != 0} {
			rt, tput, err := h.metricsRun(node, metrics, roundTrip, throughput)
			if err != nil {
				return err
			}
			if i < 0 {
				continue
			}
			dst := &off
			if metrics {
				dst = &on
			}
			dst[0], dst[1] = append(dst[0], rt), append(dst[1], tput)
		}
	}
	note := fmt.Sprintf("same node and run, off and on alternating; on: /metrics scraped every %v and a dashboard stream open", scrapeEvery)
	offName, onName := "isle, metrics off", "isle, metrics on"
	r.Rows = append(r.Rows,
		Row{Workload: "message round trip, metrics on vs off", Unit: "µs", Kind: Time, Note: note,
			Isle: Figure{Name: onName, Runs: on[0]}, Peer: Figure{Name: offName, Runs: off[0]}},
		Row{Workload: fmt.Sprintf("throughput, %s, metrics on vs off", plural(metricsSenders, "sender")), Unit: "M msg/s",
			Kind: Rate, Note: note, Isle: Figure{Name: onName, Runs: on[1]}, Peer: Figure{Name: offName, Runs: off[1]}},
	)
	r.Targets = append(r.Targets,
		Target{What: "round trip with metrics on, within 2% of off", Goal: 1.02, Unit: "× off", Kind: Time,
			Value: one(median(on[0]) / median(off[0]))},
		Target{What: "throughput with metrics on, within 2% of off", Goal: 0.98, Unit: "× off", Kind: Rate,
			Value: one(median(on[1]) / median(off[1]))},
	)
	h.logf("  metrics: round trip %.3f µs off, %.3f µs on (×%.3f); throughput %.2f M msg/s off, %.2f on (×%.3f)",
		median(off[0]), median(on[0]), median(on[0])/median(off[0]),
		median(off[1]), median(on[1]), median(on[1])/median(off[1]))
	return nil
}

// metricsRun measures one round trip figure and one throughput figure,
// with the admin endpoints served and scraped if metrics is set.
func (h *harness) metricsRun(node *isle.Node, metrics bool, fs ...func() (float64, error)) (rt, tput float64, err error) {
	if metrics {
		stop, err := scrapeWhile(h.ctx, node)
		if err != nil {
			return 0, 0, err
		}
		defer func() {
			if serr := stop(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	if rt, err = fs[0](); err != nil {
		return 0, 0, err
	}
	tput, err = fs[1]()
	return rt, tput, err
}

// scrapeWhile serves node's admin endpoints on loopback, scrapes /metrics
// every scrapeEvery and holds a dashboard stream open, until stop. stop
// fails if no scrape succeeded: an "on" figure must have had metrics on.
func scrapeWhile(ctx context.Context, node *isle.Node) (stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: node.AdminHandler("")}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(ctx)
	scrapes, failed := make(chan int, 1), make(chan error, 1)
	go func() {
		tick := time.NewTicker(scrapeEvery)
		defer tick.Stop()
		n := 0
		for {
			if err := scrape(ctx, base+"/metrics"); err != nil && ctx.Err() == nil {
				failed <- err
			} else if err == nil {
				n++
			}
			select {
			case <-ctx.Done():
				scrapes <- n
				return
			case <-tick.C:
			}
		}
	}()
	go func() { _ = stream(ctx, base+"/events") }()
	return func() error {
		cancel()
		n := <-scrapes
		_ = srv.Close()
		select {
		case err := <-failed:
			return fmt.Errorf("scrape /metrics: %w", err)
		default:
		}
		if n == 0 {
			return fmt.Errorf("no scrape of /metrics succeeded")
		}
		return nil
	}, nil
}

func scrape(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// stream reads a Server-Sent Events stream until ctx ends.
func stream(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
	}
	return sc.Err()
}
