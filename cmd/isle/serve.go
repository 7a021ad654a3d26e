package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/isle-run/isle"
)

// startHTTP serves p over HTTP at addr, every path, until stop is called:
// each request becomes a request message to p and its reply the response
// (isle.HTTPHandler). It prints the address it listens on to stderr, so
// that an addr with port 0 can be found. An empty addr serves nothing.
func startHTTP(addr string, p *isle.Process, stderr io.Writer) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("--http %s: %v", addr, err)
	}
	srv := &http.Server{
		Handler: isle.HTTPHandler(p),
		// Slow clients must not hold connections open for ever; the
		// process's own answer is bounded by the handler's timeout.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(stderr, "isle: http: ", 0),
	}
	fmt.Fprintf(stderr, "isle: serving HTTP on http://%s\n", ln.Addr())
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
