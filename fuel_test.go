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
	t.Parallel()
	node := newNode(t)
	spin := load(t, node, testwasm.WAT(t, "testdata/wat/spin.wat"))
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, spin, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the spinning process to spend fuel", func() bool { return p.Stats().Fuel > 0 })
	start := time.Now()
	p.Kill()
	exit, err := p.Wait(ctx)
	if err != nil || exit.Kind != api.ExitKilled || exit.Killed != "killed" {
		t.Fatalf("exit %v, %v", exit, err)
	}
	t.Logf("killed in %v", time.Since(start))
}

// Cancelling the spawn context stops it too, with the cause as reason.
func TestContextCancelStopsALoop(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	spin := load(t, node, testwasm.WAT(t, "testdata/wat/spin.wat"))
	ctx, cancel := context.WithCancelCause(context.Background())
	p, err := node.Spawn(ctx, spin, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the spinning process to spend fuel", func() bool { return p.Stats().Fuel > 0 })
	cancel(errors.New("operator said stop"))
	exit, err := p.Wait(testwasm.Context(t))
	if err != nil || exit.Kind != api.ExitKilled || exit.Killed != "operator said stop" {
		t.Fatalf("exit %v, %v", exit, err)
	}
}

func TestFuelLimitAndAccounting(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	spin := load(t, node, testwasm.WAT(t, "testdata/wat/spin.wat"))
	exit := run(t, node, spin, isle.Grants{}, isle.Limits{Fuel: 1_000_000})
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseFuelExhausted {
		t.Fatalf("exit %v", exit)
	}
	// More work costs more fuel, and the same work the same fuel.
	traps := load(t, node, testwasm.C(t, "testdata/c/hello.c", "-O2"))
	fuel := func(args ...string) int64 {
		ctx := testwasm.Context(t)
		p, err := node.Spawn(ctx, traps, isle.Grants{Args: append([]string{"hello"}, args...)}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if exit, err := p.Wait(ctx); err != nil || exit.Kind != api.ExitNormal {
			t.Fatalf("hello %q: %v, %v", args, exit, err)
		}
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
// fuel budget and the spawn's context still end it. (Each spawn is made
// under the test's deadline too, so that one that is not stopped fails
// here, saying which, rather than hanging.)
func TestEndlessStartFunctionIsStopped(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/startspin.wat"))
	ctx := testwasm.Context(t)
	if _, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Timeout: 200 * time.Millisecond}); err == nil ||
		!strings.Contains(err.Error(), "timeout") {
		t.Fatalf("spawn with a timeout: %v", err)
	}
	if _, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Fuel: 10_000_000}); err == nil ||
		!strings.Contains(err.Error(), "fuel exhausted") {
		t.Fatalf("spawn with a budget: %v", err)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	spawned := make(chan error, 1)
	go func() {
		_, err := node.Spawn(cctx, mod, isle.Grants{}, isle.Limits{})
		spawned <- err
	}()
	// Cancel once the start function runs: the process is on the node.
	testwasm.WaitFor(t, "the start function to run", func() bool { return node.Processes() == 1 })
	cancel(errors.New("the spawn's context ended"))
	if err := testwasm.Await(t, spawned, "the spawn to end with its context"); err == nil || !strings.Contains(err.Error(), "the spawn's context ended") {
		t.Fatalf("spawn with a context that ends: %v", err)
	}
	if n := node.Processes(); n != 0 {
		t.Fatalf("%d processes left behind", n)
	}
}

// A process stuck spawning a child whose start function never returns can
// still be killed: the child's start ends with its spawner.
func TestKillReachesASpawnerStuckInAChildsStart(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	startspin := load(t, node, testwasm.WAT(t, "testdata/wat/startspin.wat"))
	bomb := load(t, node, reactor(t, "testdata/c/bomb.c"))
	p, err := node.Spawn(context.Background(), bomb, isle.Grants{Spawn: map[string]*isle.Module{"bomb": startspin}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testwasm.Context(t)
	calls := make(chan error, 1)
	go func() {
		_, err := p.Call(ctx, isle.Message{Tag: 1})
		calls <- err
	}()
	// The child's start function is running once the node holds two
	// processes; the parent is stuck in its spawn.
	testwasm.WaitFor(t, "the child to start", func() bool { return node.Processes() == 2 })
	p.Kill()
	exit, err := p.Wait(ctx)
	if err != nil || exit.Kind != api.ExitKilled {
		t.Fatalf("exit %v, %v", exit, err)
	}
	if err := testwasm.Await(t, calls, "the call to end with its process"); !errors.Is(err, isle.ErrGone) {
		t.Fatalf("the call stuck in a child's start: %v, want ErrGone once its spawner was killed", err)
	}
	testwasm.WaitFor(t, "the child to end with its spawner", func() bool { return node.Processes() == 0 })
}
