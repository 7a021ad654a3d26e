package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
)

// Supervision of `isle run --http`: the served process is a one-service
// application, restarted after a crash (not after exiting by itself with
// code 0), with backoff. More than servedIntensity crashes within
// servedPeriod and isle gives up and exits with the last crash's status.
const (
	servedIntensity = 5
	servedPeriod    = 10 * time.Second
)

var servedBackoff = isle.Backoff{Min: 10 * time.Millisecond, Max: time.Second}

// serve runs the plan's module as a supervised service, serving it over
// HTTP at addr until it ends for good, --timeout passes or isle is
// interrupted. A request that was being handled when the process crashed
// gets 502; the next ones are served by the restarted process.
func serve(ctx context.Context, node *isle.Node, pl *plan, addr string, stats bool, stderr io.Writer) (int, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 0, usagef("--http %s: %v", addr, err)
	}
	var mu sync.Mutex
	var last api.Exit
	var lastProc *isle.Process
	name := moduleName(pl.module)
	limits := pl.limits
	timeout := limits.Timeout
	limits.Timeout = 0 // bounds the whole run below, not each instance
	sup, err := node.Supervise(ctx, isle.SupervisorSpec{Name: name, Intensity: servedIntensity, Period: servedPeriod,
		Backoff:  servedBackoff,
		Children: []isle.ChildSpec{{Name: name, Module: pl.mod, Grants: pl.grants, Limits: limits, Restart: isle.Transient}},
		OnEvent: func(e isle.SupervisorEvent) {
			mu.Lock()
			defer mu.Unlock()
			if e.Process != nil {
				lastProc = e.Process
			}
			if e.Kind == isle.EventExited {
				last = e.Exit
			}
		}})
	if err != nil {
		ln.Close()
		return 0, usagef("%v", err)
	}
	svc, _ := sup.Service(name)
	srv := &http.Server{
		Handler: isle.ServiceHTTPHandler(svc),
		// Slow clients must not hold connections open for ever; the
		// process's own answer is bounded by the handler's timeout.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(stderr, "isle: http: ", 0),
	}
	fmt.Fprintf(stderr, "isle: serving HTTP on http://%s\n", ln.Addr())
	go func() { _ = srv.Serve(ln) }()
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	status := -1
	select {
	case <-ctx.Done():
		status = statusInterrupt
	case <-expired:
		fmt.Fprintf(stderr, "isle: %s killed: timeout\n", filepath.Base(pl.module))
		status = statusTimeout
	case <-svc.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	_ = sup.Stop(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if stats && lastProc != nil {
		printStats(stderr, lastProc.Stats())
	}
	if status >= 0 {
		return status, nil
	}
	return exitStatus(stderr, pl.module, last, false), nil
}
