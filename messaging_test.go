package isle_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

func reactor(t testing.TB, src string) string {
	return testwasm.C(t, src, "-O2", "-mexec-model=reactor")
}

func TestReactorCallFromHost(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/echo.c"))
	if !mod.Reactor() {
		t.Fatal("echo.c is not recognised as a reactor")
	}
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Call(ctx, isle.Message{Tag: 42, Data: []byte("hello")})
	if err != nil || r.Tag != 42 || string(r.Data) != "hello" {
		t.Fatalf("call: %+v, %v", r, err)
	}
	// A small reply's payload lives inside its message, which goes back
	// to the pool: the caller's copy must outlive it, whatever calls
	// reuse the message after.
	kept := make([]isle.Message, 64)
	for i := range kept {
		if kept[i], err = p.Call(ctx, isle.Message{Tag: 7, Data: []byte{byte(i), 'k', 'e', 'p', 't'}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range kept {
		if want := string([]byte{byte(i), 'k', 'e', 'p', 't'}); string(r.Data) != want {
			t.Fatalf("reply %d reads %q after later calls, want %q", i, r.Data, want)
		}
	}
	big := make([]byte, 200_000)
	for i := range big {
		big[i] = byte(i)
	}
	r, err = p.Call(ctx, isle.Message{Tag: 43, Data: big})
	if err != nil || string(r.Data) != string(big) {
		t.Fatalf("big call: %d bytes, %v", len(r.Data), err)
	}
	for range 10 {
		if err := p.Send(ctx, isle.Message{Tag: 5, Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	r, err = p.Call(ctx, isle.Message{Tag: 1})
	if err != nil || binary.LittleEndian.Uint32(r.Data) != 10 {
		t.Fatalf("count: %v, %v", r.Data, err)
	}
	p.Kill()
	exit, _ := p.Wait(ctx)
	if exit.Killed != "killed" {
		t.Fatalf("exit %v", exit)
	}
	if err := p.Send(ctx, isle.Message{Tag: 5}); !errors.Is(err, isle.ErrGone) {
		t.Fatalf("send to dead: %v", err)
	}
}

func TestReactorPingPong(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/pingpong.c"))
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{Spawn: map[string]*isle.Module{"pingpong": mod}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	n := uint32(10000)
	start := time.Now()
	if _, err := p.Call(ctx, isle.Message{Tag: 1, Data: binary.LittleEndian.AppendUint32(nil, n)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d round trips, %v each", n, time.Since(start)/time.Duration(n))
}
