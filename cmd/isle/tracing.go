package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/isle-run/isle/internal/tracing"
)

// flushTimeout bounds how long isle waits, as it exits, for the last
// spans to reach the collector.
const flushTimeout = 5 * time.Second

// startTracing reads the OTEL_* environment for isle run and isle up
// (README, "Traces"): the TracerProvider, nil when tracing is off (the
// default), and what flushes it as isle exits, after the node is closed.
func startTracing(ctx context.Context, stderr io.Writer) (trace.TracerProvider, func(), error) {
	p, err := tracing.FromEnv(ctx, os.LookupEnv, stderr)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	if p == nil {
		return nil, func() {}, nil
	}
	return p.TracerProvider, func() {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			fmt.Fprintf(stderr, "isle: exporting traces: %v\n", err)
		}
	}, nil
}
