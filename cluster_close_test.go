package isle_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// A node closing while spawns are blocked in their start functions' recv
// (a child of one of its processes, one its Go host asked for, and one
// another node asked for) closes before its deadline, and every spawner
// sees its spawn end.
func TestClusterCloseWithBlockedStartFunctions(t *testing.T) {
	ctx := testwasm.Context(t)
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	startrecv := load(t, b, testwasm.WAT(t, "testdata/wat/startrecv.wat"))
	if err := b.Publish("workers", isle.SpawnerCap(map[string]*isle.Module{"remote": startrecv}), "a"); err != nil {
		t.Fatal(err)
	}
	r, err := a.Lookup(ctx, "b", "workers")
	if err != nil {
		t.Fatal(err)
	}
	pa := remoteProcWith(t, a, map[string]isle.Capability{"spawner": isle.RemoteCap(r, api.RightUse)})
	type answer struct {
		m   isle.Message
		err error
	}
	remote := make(chan answer, 1)
	go func() {
		m, err := pa.Call(ctx, isle.Message{Tag: rSpawn})
		remote <- answer{m, err}
	}()
	host := make(chan error, 1)
	go func() {
		_, err := b.Spawn(ctx, startrecv, isle.Grants{}, isle.Limits{})
		host <- err
	}()
	root, out := hostile(t, b, isle.Limits{}, "spawnstart")
	out.wait(t, ctx, "spawning")
	testwasm.WaitFor(t, "three start functions on b to block in recv", func() bool {
		waiting := 0
		for _, p := range b.Snapshot().Processes {
			if p.State == "waiting" {
				waiting++
			}
		}
		return waiting == 3
	})

	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Close(closeCtx); err != nil {
		t.Fatalf("closing b with three start functions blocked: %v", err)
	}
	if n := b.Processes(); n != 0 {
		t.Fatalf("b runs %d processes after Close", n)
	}
	if exit, err := root.Wait(ctx); err != nil || exit.Kind != api.ExitKilled {
		t.Fatalf("the local spawner: %v, %v; want killed", exit, err)
	}
	select {
	case err := <-host:
		if err == nil {
			t.Fatal("the Go host's spawn of a start function that never returns succeeded")
		}
	case <-ctx.Done():
		t.Fatal("the Go host's spawn never returned")
	}
	select {
	case got := <-remote:
		w := words(got.m.Data)
		if got.err != nil || len(w) == 0 || w[0] >= 0 {
			t.Fatalf("a's spawn on b: %v, %v; want a failed spawn (a negative handle)", w, got.err)
		}
	case <-ctx.Done():
		t.Fatal("a's spawn on b never returned")
	}
}

// A process killed while it waits for a spawn on another node leaves no
// child there: the start, blocked in recv, is ended, and says why.
func TestClusterAbandonedRemoteSpawnEnds(t *testing.T) {
	ctx := testwasm.Context(t)
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	startrecv := load(t, b, testwasm.WAT(t, "testdata/wat/startrecv.wat"))
	if err := b.Publish("workers", isle.SpawnerCap(map[string]*isle.Module{"remote": startrecv}), "a"); err != nil {
		t.Fatal(err)
	}
	r, err := a.Lookup(ctx, "b", "workers")
	if err != nil {
		t.Fatal(err)
	}
	pa := remoteProcWith(t, a, map[string]isle.Capability{"spawner": isle.RemoteCap(r, api.RightUse)})
	before := b.Processes()
	answered := make(chan error, 1)
	go func() {
		_, err := pa.Call(ctx, isle.Message{Tag: rSpawn})
		answered <- err
	}()
	testwasm.WaitFor(t, "the start on b to block in recv", func() bool {
		for _, p := range b.Snapshot().Processes {
			if p.State == "waiting" {
				return true
			}
		}
		return false
	})
	pa.Kill()
	if err := testwasm.Await(t, answered, "the killed spawner's call to end"); err == nil {
		t.Fatal("a spawner killed while it waited answered")
	}
	testwasm.WaitFor(t, "the abandoned start on b to end", func() bool { return b.Processes() == before })
	for _, e := range b.RecentExits() {
		if strings.Contains(e.Exit, "its spawner gave up") {
			return
		}
	}
	t.Fatalf("no exit on b says its spawner gave up: %+v", b.RecentExits())
}
