package isle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// Kill from another goroutine stops a loop with no calls within a slice.
func TestKillStopsALoopWithNoCalls(t *testing.T) {
	node := newNode(t)
	spin := load(t, node, testwasm.WAT(t, "testdata/wat/spin.wat"))
	ctx := context.Background()
	p, err := node.Spawn(ctx, spin, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if s := p.Stats(); s.Fuel == 0 {
		t.Fatal("a spinning process has spent no fuel")
	}
	start := time.Now()
	p.Kill()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	exit, err := p.Wait(wctx)
	if err != nil || exit.Kind != api.ExitKilled || exit.Killed != "killed" {
		t.Fatalf("exit %v, %v", exit, err)
	}
	t.Logf("killed in %v", time.Since(start))
}

// Cancelling the spawn context stops it too, with the cause as reason.
func TestContextCancelStopsALoop(t *testing.T) {
	node := newNode(t)
	spin := load(t, node, testwasm.WAT(t, "testdata/wat/spin.wat"))
	ctx, cancel := context.WithCancelCause(context.Background())
	p, err := node.Spawn(ctx, spin, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	cancel(errors.New("operator said stop"))
	wctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	exit, err := p.Wait(wctx)
	if err != nil || exit.Kind != api.ExitKilled || exit.Killed != "operator said stop" {
		t.Fatalf("exit %v, %v", exit, err)
	}
}

func TestFuelLimitAndAccounting(t *testing.T) {
	node := newNode(t)
	spin := load(t, node, testwasm.WAT(t, "testdata/wat/spin.wat"))
	exit := run(t, node, spin, isle.Grants{}, isle.Limits{Fuel: 1_000_000})
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseFuelExhausted {
		t.Fatalf("exit %v", exit)
	}
	// More work costs more fuel, and the same work the same fuel.
	traps := load(t, node, testwasm.C(t, "testdata/c/hello.c", "-O2"))
	fuel := func(args ...string) int64 {
		p, err := node.Spawn(context.Background(), traps, isle.Grants{Args: append([]string{"hello"}, args...)}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		p.Wait(context.Background())
		return p.Stats().Fuel
	}
	a, b, c := fuel(), fuel(), fuel("x", "y", "z", "w")
	if a != b || a == 0 {
		t.Errorf("same run, fuel %d then %d", a, b)
	}
	if c == a {
		t.Errorf("different work, same fuel %d", a)
	}
}
