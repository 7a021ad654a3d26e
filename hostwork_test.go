package isle_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/httpwire"
	"github.com/isle-run/isle/internal/testwasm"
)

// What a host call does for the guest in proportion to what it asked
// costs fuel, as the same work in the guest's own code would: a reactor
// copying a 1 MiB message with msg_read in a loop spends a budget of 20M
// fuel and is abandoned for it. Before, each call was charged its few
// instructions, and the loop ran until its tree's timeout.
func TestHostCallWorkCostsFuel(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/msgloop.wat"))
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Fuel: 20_000_000, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, isle.Message{Tag: 1, Data: make([]byte, 1<<20)}); err != nil {
		t.Fatal(err)
	}
	exit, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseFuelExhausted {
		t.Fatalf("a loop of msg_read over 1 MiB under 20M fuel ended %v; want abandoned for fuel", exit)
	}
	if spent := p.Stats().Fuel; spent < 20_000_000 {
		t.Fatalf("it was charged %d fuel, less than the budget it ran out of", spent)
	}
}

// A kill, and a tree's timeout, land in a guest looping on a WASI call
// that does much work each time (poll_oneoff over 52,428 ready clocks).
// Before, WASI calls were no place for a kill to land and cost no fuel,
// so the loop reached its next fuel yield after about 140,000 calls: a
// A call of an import costs 64 fuel whatever it does, about what compiled
// code spends in the call's transition: a loop of the cheapest call,
// self, reaches the end of its slice, where the node's other goroutines
// get their turn, about as soon as a loop of instructions does. Before, a
// call cost what any call does (1), and beside four guests looping on
// self a neighbour reactor's calls took twice as long, 40 to 44 ms at
// worst (BenchmarkNeighbourBesideSpinners).
func TestHostCallsCostFuel(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/selfloop.wat"))
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	const calls = 100_000
	if _, err := p.Call(ctx, isle.Message{Tag: calls}); err != nil {
		t.Fatal(err)
	}
	if spent := p.Stats().Fuel; spent < calls*64 {
		t.Errorf("%d calls of self cost %d fuel, %.1f each; want at least 64 each", calls, spent, float64(spent)/calls)
	}
}

// kill, or Node.Close, waited for tens of minutes.
func TestKillLandsInWASICallLoop(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/pollloop.wat"))
	ctx := testwasm.Context(t)
	for _, c := range []struct {
		name   string
		limits isle.Limits
		kill   bool
		want   string
	}{
		{"kill", isle.Limits{}, true, "killed"},
		{"timeout", isle.Limits{Timeout: 200 * time.Millisecond}, false, "timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := node.Spawn(ctx, mod, isle.Grants{}, c.limits)
			if err != nil {
				t.Fatal(err)
			}
			if c.kill {
				testwasm.WaitFor(t, "the guest to be charged for its calls", func() bool { return p.Stats().Fuel > 0 })
				p.Kill()
			}
			// Far longer than a kill takes (about a millisecond), far
			// shorter than the old code's wait.
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			exit, err := p.Wait(wctx)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the %s had not landed 20 s later; %d fuel charged", c.name, p.Stats().Fuel)
			}
			if err != nil {
				t.Fatal(err)
			}
			if exit.Kind != api.ExitKilled || !strings.Contains(exit.Killed, c.want) {
				t.Fatalf("the guest ended %v; want killed (%s)", exit, c.want)
			}
		})
	}
}

// A message a command has taken, and holds as its current message until
// its next receive, counts in its memory as it did while queued. Before,
// taking it gave its cost back, and 301 commands each holding a 1 MiB
// message made the node hold 304 MiB for a tree charged 23 MiB.
func TestCurrentMessageIsCharged(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/holder.wat"))
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	idle := p.Stats().Memory
	const size = 1 << 20
	if err := p.Send(ctx, isle.Message{Tag: 1, Data: make([]byte, size)}); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the holder to take the message and wait for another", func() bool {
		st := p.Stats()
		info, err := node.Inspect(p.ID())
		return err == nil && st.Queued == 0 && info.State == "waiting"
	})
	if held := p.Stats().Memory; held < idle+size-2<<10 {
		t.Fatalf("a command holding a %d-byte message as its current one is charged %d bytes, %d before it came", size, held, idle)
	}
	// Its tree cannot take more than its limit through messages it holds.
	if err := p.Send(ctx, isle.Message{Tag: 2, Data: make([]byte, 3<<20)}); err == nil || !strings.Contains(err.Error(), "memory limit") {
		t.Fatalf("a 3 MiB message to a 4 MiB tree holding 1 MiB as its current message: %v, want its memory limit", err)
	}
}

// An HTTP response is charged to its process's memory as it arrives: a
// process limited to 2 MiB that fetches 16 MiB gets ELIMIT, and one with
// room gets the whole response, held as its current message. Before, ten
// processes limited to 2 MiB each held 16 MiB responses, 252 MiB of host
// memory charged to no one.
func TestHTTPResponseIsCharged(t *testing.T) {
	big := make([]byte, 16<<20-4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(big) }))
	t.Cleanup(srv.Close)
	node := startNode(t, nodeConfig(t))
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/httpfetch.wat"))
	ctx := testwasm.Context(t)
	req := httpwire.AppendRequest(nil, &httpwire.Request{Method: "GET", Target: srv.URL + "/"})
	for _, c := range []struct {
		limit uint64
		code  uint32
	}{{2 << 20, 7}, {64 << 20, 4}} { // ELIMIT; ETOOBIG, for the 0-byte buffer
		p, err := node.Spawn(ctx, mod, isle.Grants{Caps: map[string]isle.Capability{"web": isle.HTTPCap(srv.URL)}},
			isle.Limits{Memory: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Send(ctx, isle.Message{Tag: 1, Data: req}); err != nil {
			t.Fatal(err)
		}
		exit, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if exit.Kind != api.ExitNormal || exit.Code != c.code {
			t.Fatalf("a %d MiB process fetching 16 MiB ended %v; want exit code %d", c.limit>>20, exit, c.code)
		}
		if peak := p.Stats().PeakMemory; c.code == 4 && peak < uint64(len(big)) {
			t.Fatalf("a process that got a %d-byte response peaked at %d bytes charged", len(big), peak)
		}
	}
}
