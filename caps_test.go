package isle_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// callInts calls a caps.c scenario and decodes its int32 results.
func callInts(t *testing.T, p *isle.Process, tag uint32) []int32 {
	t.Helper()
	r, err := p.Call(testwasm.Context(t), isle.Message{Tag: tag})
	if err != nil {
		t.Fatalf("scenario %d: %v", tag, err)
	}
	out := make([]int32, len(r.Data)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(r.Data[4*i:]))
	}
	return out
}

func wantInts(t *testing.T, what string, got []int32, want ...int32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

const (
	eRights   = -5
	eRevoked  = -6
	eNotFound = -8
	eLimit    = -7
)

func spawnCaps(t *testing.T, node *isle.Node, mod *isle.Module, caps map[string]isle.Capability) *isle.Process {
	t.Helper()
	p, err := node.Spawn(context.Background(), mod, isle.Grants{Caps: caps}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A process given nothing finds nothing under any name.
func TestConfinedProcessHasNoGrants(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/caps.c"))
	p := spawnCaps(t, node, mod, nil)
	got := callInts(t, p, 1)
	for i, code := range got {
		if code != eNotFound {
			t.Fatalf("grant %d returned %d; a process given nothing must find nothing", i, code)
		}
	}
}

// An attenuated handle cannot regain the rights it lost, by any route.
func TestAttenuationNeverWidens(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/caps.c"))
	target := spawnCaps(t, node, mod, nil)
	p := spawnCaps(t, node, mod, map[string]isle.Capability{
		"peer": isle.ProcessCap(target, api.RightSend|api.RightMonitor|api.RightKill),
	})
	// dup wider, kill, revocable wider, monitor: all ERIGHTS; send works;
	// inspect shows exactly the send right on a process handle.
	wantInts(t, "attenuate", callInts(t, p, 2), eRights, eRights, eRights, eRights, 0, int32(api.RightSend), 1)
	if !answers(t, target) {
		t.Fatal("the narrowed handle killed its target")
	}
}

// answers reports whether a caps.c process still answers a call. A kill
// takes effect before the killed reactor's next turn, so a process that
// answers after a kill was tried has not been killed.
func answers(t *testing.T, p *isle.Process) bool {
	t.Helper()
	_, err := p.Call(testwasm.Context(t), isle.Message{Tag: 8}) // T_TELL: a harmless question
	if err != nil && !errors.Is(err, isle.ErrGone) {
		t.Fatalf("call: %v", err)
	}
	return err == nil
}

// Revoking a forwarder kills it at the end of a chain of three hops; the
// holder gets EREVOKED and lives on.
func TestRevocationThroughThreeHops(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/caps.c"))
	target := spawnCaps(t, node, mod, nil)
	d := spawnCaps(t, node, mod, nil)
	c := spawnCaps(t, node, mod, map[string]isle.Capability{"next": isle.ProcessCap(d, api.RightSend)})
	b := spawnCaps(t, node, mod, map[string]isle.Capability{"next": isle.ProcessCap(c, api.RightSend)})
	a := spawnCaps(t, node, mod, map[string]isle.Capability{
		"next":   isle.ProcessCap(b, api.RightSend),
		"target": isle.ProcessCap(target, api.RightSend),
	})
	wantInts(t, "start", callInts(t, a, 4), 0, 0)
	// Wait for the forwarder to reach d: a -> b -> c -> d.
	var use []int32
	testwasm.WaitFor(t, "the forwarder to reach d", func() bool {
		use = callInts(t, d, 5)
		return use[0] == 0
	})
	if use[1] != 0 || use[2] <= 0 {
		t.Fatalf("before revocation, d's copy: %v", use)
	}
	wantInts(t, "revoke", callInts(t, a, 6), 0)
	wantInts(t, "after revocation", callInts(t, d, 5), eRevoked, 1, eRevoked)
	if !answers(t, d) {
		t.Fatal("using a revoked handle abandoned its holder")
	}
}

// A forwarder can be wrapped in forwarders only so deep: every use walks
// the chain, so a guest nesting without end would make each use of it, its
// own or a receiver's, cost the host as much as it liked. The deepest
// forwarder still works, and dies with the first.
func TestRevocationChainsAreBounded(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/caps.c"))
	target := spawnCaps(t, node, mod, nil)
	p := spawnCaps(t, node, mod, map[string]isle.Capability{"target": isle.ProcessCap(target, api.RightSend)})
	// made, the refusal, a send through the deepest, revoking the first, a
	// send after it.
	wantInts(t, "nesting", callInts(t, p, 10), 16, eLimit, 0, 0, eRevoked)
	if !answers(t, p) {
		t.Fatal("nesting forwarders abandoned the process")
	}
}

// A handle given to one child is no right of its sibling: the same number
// in the sibling's table names nothing, and using it abandons the sibling.
func TestHandlesDoNotLeakToSiblings(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/caps.c"))
	target := spawnCaps(t, node, mod, nil)
	parent := spawnCaps(t, node, mod, map[string]isle.Capability{
		"peer":    isle.ProcessCap(target, api.RightSend),
		"spawner": isle.SpawnerCap(map[string]*isle.Module{"caps": mod}),
	})
	got := callInts(t, parent, 7)
	if got[0] != 4 || got[1] <= 0 || got[2] != 0 || got[3] <= 0 || got[4] != 2 || got[5] != 1 {
		t.Fatalf("family: %v; want the sibling abandoned (kind 2) for using its sibling's handle number", got)
	}
}
