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
