package testwasm

import (
	"context"
	"testing"
	"time"
)

// noDeadline is how long a wait may take when the test binary has no
// -timeout (a benchmark, or -timeout 0).
const noDeadline = 10 * time.Minute

// Context returns a context for a test's waits. It ends when the test
// ends, and a little before the test binary's -timeout would, so that a
// wait that never ends fails its own test with its own message instead of
// the panic that ends every test in the binary. Waits take their deadline
// from here rather than from a budget of their own: a budget that a slow
// or busy machine can miss makes a test that fails on speed.
func Context(t testing.TB) context.Context {
	t.Helper()
	deadline := time.Now().Add(noDeadline)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok {
			margin := min(time.Until(end)/20, 30*time.Second)
			deadline = end.Add(-margin)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// WaitFor polls cond until it holds, and fails the test saying what it
// waited for if the test's deadline (see Context) comes first. It is for
// conditions no event announces, such as a count of live processes.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx := Context(t)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// Await returns the next value from ch, and fails the test saying what it
// waited for if the test's deadline (see Context) comes first.
func Await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-Context(t).Done():
		t.Fatalf("gave up waiting for %s", what)
	}
	panic("unreachable")
}
