package wasip1_test

import (
	"context"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// stuckWriter is a stdout nobody reads: its first Write says so and then
// blocks until the test ends.
type stuckWriter struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (w *stuckWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return 0, io.ErrClosedPipe
}

// signalWriter closes seen once "blocking" has been written to it.
type signalWriter struct {
	mu   sync.Mutex
	text strings.Builder
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.text.Write(b)
	hit := strings.Contains(w.text.String(), "blocking\n")
	w.mu.Unlock()
	if hit {
		w.once.Do(func() { close(w.seen) })
	}
	return len(b), nil
}

// Every WASI call that can block gives way to a kill: writes to a stdout
// nobody reads, reads of a stdin nobody writes, poll_oneoff on either, and
// a long real-clock sleep.
func TestBlockedCallsAreKillable(t *testing.T) {
	wasm := testwasm.Read(t, testwasm.C(t, "internal/wasip1/testdata/block.c", "-O1"))
	n := testNode(t)
	ctx := context.Background()
	mod, err := n.LoadModule(ctx, "block.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"write", "pollout", "read", "poll", "sleep"} {
		t.Run(mode, func(t *testing.T) {
			stuck := &stuckWriter{entered: make(chan struct{}), release: make(chan struct{})}
			defer close(stuck.release)
			inR, inW := io.Pipe()
			defer inW.Close()
			errw := &signalWriter{seen: make(chan struct{})}
			p, err := n.Spawn(ctx, mod, isle.Grants{Args: []string{"block", mode}, Stdin: inR, Stdout: stuck, Stderr: errw, Clock: true}, isle.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-errw.seen:
			case <-p.Done():
				exit, _ := p.Wait(ctx)
				t.Fatalf("ended before blocking: %v", exit)
			case <-time.After(deadline):
				t.Fatal("the guest never reached its blocking call")
			}
			if mode == "write" || mode == "pollout" {
				select {
				case <-stuck.entered:
				case <-time.After(deadline):
					t.Fatal("the host's writer was never called")
				}
			}
			p.Kill()
			wctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			exit, err := p.Wait(wctx)
			if err != nil {
				t.Fatalf("the kill did not end the blocked %s: %v", mode, err)
			}
			if exit.Kind != api.ExitKilled {
				t.Errorf("exit %v; want killed", exit)
			}
		})
	}
}

// A reactor blocked in a WASI call gives up its scheduler worker: with
// more reactors blocked in poll_oneoff than there are workers, another
// reactor still answers a call.
func TestBlockedReactorsFreeTheirWorkers(t *testing.T) {
	n := testNode(t)
	ctx := context.Background()
	sleeper, err := n.LoadModule(ctx, "sleeper.wasm", testwasm.Read(t,
		testwasm.C(t, "internal/wasip1/testdata/sleeper.c", "-O1", "-mexec-model=reactor")))
	if err != nil {
		t.Fatal(err)
	}
	echo, err := n.LoadModule(ctx, "echo.wasm", testwasm.Read(t,
		testwasm.C(t, "testdata/c/echo.c", "-O2", "-mexec-model=reactor")))
	if err != nil {
		t.Fatal(err)
	}
	var blocked []*isle.Process
	defer func() {
		for _, p := range blocked {
			p.Kill()
		}
	}()
	for range runtime.GOMAXPROCS(0) + 2 {
		inR, inW := io.Pipe()
		defer inW.Close()
		errw := &signalWriter{seen: make(chan struct{})}
		p, err := n.Spawn(ctx, sleeper, isle.Grants{Stdin: inR, Stderr: errw}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		blocked = append(blocked, p)
		if err := p.Send(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-errw.seen:
		case <-time.After(deadline):
			t.Fatal("a sleeper never reached its poll")
		}
	}
	e, err := n.Spawn(ctx, echo, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Kill()
	cctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	r, err := e.Call(cctx, isle.Message{Tag: 7, Data: []byte("still here")})
	if err != nil || string(r.Data) != "still here" {
		t.Fatalf("call past blocked reactors: %q, %v", r.Data, err)
	}
	for _, p := range blocked {
		p.Kill()
		wctx, cancel := context.WithTimeout(ctx, deadline)
		exit, err := p.Wait(wctx)
		cancel()
		if err != nil || exit.Kind != api.ExitKilled {
			t.Errorf("blocked reactor: exit %v, %v; want killed", exit, err)
		}
	}
}
