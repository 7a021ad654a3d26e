package kernel

import (
	"context"
	"testing"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

func newKernel(t *testing.T) *Kernel {
	t.Helper()
	k, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close(context.Background()) })
	return k
}

func runToExit(t *testing.T, k *Kernel, wasm string, spec Spec) api.Exit {
	t.Helper()
	ctx := context.Background()
	m, err := k.Load(ctx, wasm, testwasm.Read(t, wasm))
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Spawn(ctx, m, spec)
	if err != nil {
		t.Fatal(err)
	}
	exit, err := p.Wait(testwasm.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return exit
}

func TestExitKinds(t *testing.T) {
	t.Parallel()
	k := newKernel(t)
	if e := runToExit(t, k, testwasm.WAT(t, "testdata/wat/noop.wat"), Spec{}); !e.Normal() {
		t.Errorf("noop: %v", e)
	}
	if e := runToExit(t, k, testwasm.WAT(t, "testdata/wat/exit.wat"), Spec{}); e.Kind != api.ExitNormal || e.Code != 7 {
		t.Errorf("exit: %v", e)
	}
	e := runToExit(t, k, testwasm.WAT(t, "testdata/wat/stack.wat", "--debug-names"), Spec{})
	if e.Kind != api.ExitAbandoned || e.Abandon.Cause != api.CauseStackExhausted {
		t.Errorf("stack: %v", e)
	}
}

// Loaders racing on the same bytes all get the one Module that won, and
// the losers' compiled code is given back without taking the winner's:
// wazero counts each compilation of the same bytes as a hold on one copy,
// so closing a loser's must leave the code the winner runs.
func TestConcurrentLoadsShareOneModule(t *testing.T) {
	t.Parallel()
	k := newKernel(t)
	path := testwasm.WAT(t, "testdata/wat/exit.wat")
	bin := testwasm.Read(t, path)
	const n = 8
	mods := make(chan *Module, n)
	for range n {
		go func() {
			m, err := k.Load(context.Background(), path, bin)
			if err != nil {
				t.Error(err)
			}
			mods <- m
		}()
	}
	first := <-mods
	for range n - 1 {
		if m := <-mods; m != first {
			t.Fatal("two loads of the same bytes returned different modules")
		}
	}
	for range 3 {
		p, err := k.Spawn(context.Background(), first, Spec{})
		if err != nil {
			t.Fatal(err)
		}
		if exit, err := p.Wait(testwasm.Context(t)); err != nil || exit.Code != 7 {
			t.Fatalf("a process of the shared module ended %v, %v; want exit code 7", exit, err)
		}
	}
}
