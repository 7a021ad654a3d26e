package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// RawRoundTrip measures n raw NATS request/reply round trips from a to b
// over the nodes' own connections (Conn): b answers on a fresh subject
// under its cluster prefix, a sends requests of 16 bytes one at a time.
// With a == b it measures one server with in-process connections; with
// two nodes joined by a route, the route. It returns the n durations in
// the order measured; see Percentile.
func RawRoundTrip(ctx context.Context, n int, a, b *Node) ([]time.Duration, error) {
	subj := b.Subject("rawbench", nuid.Next())
	sub, err := b.Conn().Subscribe(subj, func(m *nats.Msg) { m.Respond(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("rawbench subscribe: %w", err)
	}
	defer sub.Unsubscribe()
	if err := waitResponder(ctx, a.Conn(), subj); err != nil {
		return nil, err
	}
	payload := make([]byte, 16)
	ds := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := a.Conn().RequestWithContext(ctx, subj, payload); err != nil {
			return ds, fmt.Errorf("rawbench request: %w", err)
		}
		ds = append(ds, time.Since(t0))
	}
	return ds, nil
}

// waitResponder waits until a request on subj from nc finds a responder:
// subscription interest crosses a route asynchronously, and until it has
// the server answers "no responders" at once.
func waitResponder(ctx context.Context, nc *nats.Conn, subj string) error {
	for {
		_, err := nc.RequestWithContext(ctx, subj, nil)
		if err == nil {
			return nil
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("rawbench: waiting for the responder on %s: %w", subj, err)
		}
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds, nearest
// rank; 0 for no durations. ds is not modified.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
