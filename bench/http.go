package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isle-run/isle"
)

// HTTP ingress: requests per second to a reactor deployed as a function
// (isle.HTTPHandler in front of bench/wasm/http.c), against a plain
// net/http handler doing the same work (HelloHandler), each on its own
// loopback httptest server, under the same load generator in the same
// run.

// HTTPIngressOptions sizes an HTTP ingress measurement.
type HTTPIngressOptions struct {
	// Clients is how many concurrent keep-alive clients send requests
	// (default 16).
	Clients int
	// Requests, if positive, ends each side after that many requests;
	// otherwise each side runs for Duration (default 2s).
	Requests int
	Duration time.Duration
}

// HTTPIngressResult is one measurement of both sides.
type HTTPIngressResult struct {
	Isle, Go float64 // requests per second
	Clients  int
}

// Ratio is isle's rate over net/http's.
func (r HTTPIngressResult) Ratio() float64 { return r.Isle / r.Go }

// HelloHandler is the plain net/http side: it answers "hello, NAME" for
// ?name=NAME with Content-Type text/plain, as bench/wasm/http.c does.
func HelloHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, "+r.URL.Query().Get("name"))
	})
}

// HTTPIngress measures p, a process answering HTTP request messages as
// bench/wasm/http.c does, served through isle.HTTPHandler, and
// HelloHandler, with the same load. The two sides take turns, five rounds
// each, so that a change in what else the machine is doing falls on both.
func HTTPIngress(ctx context.Context, p *isle.Process, o HTTPIngressOptions) (HTTPIngressResult, error) {
	if o.Clients <= 0 {
		o.Clients = 16
	}
	if o.Requests <= 0 && o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	const rounds = 5
	round := o
	round.Requests, round.Duration = o.Requests/rounds, o.Duration/rounds
	if o.Requests > 0 {
		round.Requests = max(round.Requests, o.Clients)
	} else {
		round.Duration = max(round.Duration, 100*time.Millisecond)
	}
	sides := []*httptest.Server{httptest.NewServer(isle.HTTPHandler(p)), httptest.NewServer(HelloHandler())}
	names := []string{"isle", "net/http"}
	var n [2]int64
	var took [2]time.Duration
	defer func() {
		for _, s := range sides {
			s.Close()
		}
	}()
	for range rounds {
		for i, srv := range sides {
			k, d, err := loadHTTP(ctx, srv.URL+"/hello?name=isle", "hello, isle", round)
			if err != nil {
				return HTTPIngressResult{}, fmt.Errorf("%s: %w", names[i], err)
			}
			n[i] += k
			took[i] += d
		}
	}
	for i := range n {
		if n[i] == 0 {
			return HTTPIngressResult{}, fmt.Errorf("%s: no request was answered", names[i])
		}
	}
	return HTTPIngressResult{Clients: o.Clients,
		Isle: float64(n[0]) / took[0].Seconds(), Go: float64(n[1]) / took[1].Seconds()}, nil
}

// LoadHTTP sends GET url from o.Clients goroutines, each on its own
// keep-alive connection, until o.Requests have been answered or
// o.Duration has passed, and returns the rate of answered requests. Every
// answer must be 200 with body want.
func LoadHTTP(ctx context.Context, url, want string, o HTTPIngressOptions) (float64, error) {
	n, d, err := loadHTTP(ctx, url, want, o)
	if err == nil && n == 0 {
		err = errors.New("no request was answered")
	}
	if err != nil {
		return 0, err
	}
	return float64(n) / d.Seconds(), nil
}

func loadHTTP(ctx context.Context, url, want string, o HTTPIngressOptions) (int64, time.Duration, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: o.Clients, MaxConnsPerHost: o.Clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, o.Duration)
		defer stop()
	}
	var (
		done     atomic.Int64
		left     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	left.Store(int64(o.Requests))
	runtime.GC() // not in the middle of a side
	start := time.Now()
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if o.Requests > 0 && left.Add(-1) < 0 {
					return
				}
				body, status, err := get(ctx, client, url)
				if err != nil || status != 200 || string(body) != want {
					if ctx.Err() != nil {
						return // the duration ended mid-request
					}
					if err == nil {
						err = fmt.Errorf("status %d, body %q, want 200 %q", status, body, want)
					}
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return done.Load(), elapsed, nil
}

func get(ctx context.Context, c *http.Client, url string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

// runHTTPIngress measures HTTP ingress for the report: one row, isle's
// reactor beside net/http, requests per second.
func runHTTPIngress(h *harness, r *Report) error {
	node, err := h.node()
	if err != nil {
		return err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "http")
	if err != nil {
		return err
	}
	p, err := node.Spawn(context.Background(), mod, isle.Grants{}, reactorLimits)
	if err != nil {
		return err
	}
	defer p.Kill()
	o := HTTPIngressOptions{Clients: 16, Duration: 2 * time.Second}
	if h.opts.Quick {
		o.Duration = 50 * time.Millisecond
	}
	runs, err := h.repeat(func() ([]float64, error) {
		res, err := HTTPIngress(h.ctx, p, o)
		return []float64{res.Isle, res.Go}, err
	})
	if err != nil {
		return err
	}
	r.Rows = append(r.Rows, Row{
		Workload: "HTTP ingress", Unit: "req/s", Kind: Rate,
		Isle: Figure{Name: "isle: isle.HTTPHandler in front of a 1-page C reactor", Runs: runs[0]},
		Peer: Figure{Name: "Go: a net/http handler doing the same work", Runs: runs[1]},
		Note: fmt.Sprintf("%d keep-alive clients on loopback, %v per side per run in 5 alternating rounds; the load generator shares the machine", o.Clients, o.Duration),
	})
	return nil
}
