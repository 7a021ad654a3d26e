package isle_test

import (
	"context"
	"errors"
	"strings"
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

// A start function that never returns runs inside Spawn; its timeout, its
// fuel budget and the spawn's context still end it.
func TestEndlessStartFunctionIsStopped(t *testing.T) {
	node := newNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/startspin.wat"))
	start := time.Now()
	if _, err := node.Spawn(context.Background(), mod, isle.Grants{}, isle.Limits{Timeout: 200 * time.Millisecond}); err == nil ||
		!strings.Contains(err.Error(), "timeout") {
		t.Fatalf("spawn: %v", err)
	}
	if _, err := node.Spawn(context.Background(), mod, isle.Grants{}, isle.Limits{Fuel: 10_000_000}); err == nil ||
		!strings.Contains(err.Error(), "fuel exhausted") {
		t.Fatalf("spawn with a budget: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{}); err == nil {
		t.Fatal("spawn with a context that ends succeeded")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Fatalf("took %v", elapsed)
	}
	if n := node.Processes(); n != 0 {
		t.Fatalf("%d processes left behind", n)
	}
}

// A process stuck spawning a child whose start function never returns can
// still be killed: the child's start ends with its spawner.
func TestKillReachesASpawnerStuckInAChildsStart(t *testing.T) {
	node := newNode(t)
	startspin := load(t, node, testwasm.WAT(t, "testdata/wat/startspin.wat"))
	bomb := load(t, node, reactor(t, "testdata/c/bomb.c"))
	p, err := node.Spawn(context.Background(), bomb, isle.Grants{Spawn: map[string]*isle.Module{"bomb": startspin}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Call(ctx, isle.Message{Tag: 1}); err == nil {
		t.Fatal("the spawn of a child that never starts returned")
	}
	p.Kill()
	wctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	exit, err := p.Wait(wctx)
	if err != nil || exit.Kind != api.ExitKilled {
		t.Fatalf("exit %v, %v", exit, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for node.Processes() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := node.Processes(); n != 0 {
		t.Fatalf("%d processes left behind", n)
	}
}
