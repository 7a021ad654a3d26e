package isle_test

import (
	"strings"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// A guest that misuses the ABI is abandoned with a reason naming the
// function and the fault; it never gets an error code it could ignore, and
// the node is unharmed.
func TestABIMisuseAbandons(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/abuse.wat"))
	cases := []string{
		0:  "send: range [0x7fff0000, 0x7fff0000+16) is outside its 65536-byte memory",
		1:  "send: range [0xfff0, 0xfff0+4294967040) is outside",
		2:  "send: handle 65602 is not in the process's handle table",
		3:  "send: tag 0xffff0001 is reserved for the system",
		4:  "send: unknown flags 0x80",
		5:  "recv: range [0xfffffff8, 0xfffffff8+16) is outside",
		6:  "msg_read: offset 100000 is past the message's 0 bytes",
		7:  "send: 17 handles in one message; the limit is 16",
		8:  "close: handle 65537 is not in the process's handle table",
		9:  "reply: handle 65537 is a process handle, not a reply handle",
		10: "kill: handle 0 is not in the process's handle table",
		11: "kill: handle 65537 is not in the process's handle table",
	}
	ctx := testwasm.Context(t)
	for tag, want := range cases {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Send(ctx, isle.Message{Tag: uint32(tag)}); err != nil {
			t.Fatal(err)
		}
		exit, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseMisuse ||
			!strings.Contains(exit.Abandon.Detail, want) {
			t.Errorf("misuse %d: %v; want misuse %q", tag, exit, want)
			continue
		}
		if len(exit.Abandon.Frames) == 0 || exit.Abandon.Frames[0].Function == "" {
			t.Errorf("misuse %d: no wasm frames in %v", tag, exit)
		}
	}
}

// demonitor of a ref whose DOWN has arrived, or that was never a monitor,
// is no misuse: it returns 0 and the process goes on, as in Erlang.
func TestDemonitorOfAConsumedRefIsHarmless(t *testing.T) {
	t.Parallel()
	node := sharedNode(t)
	gone, err := node.Spawn(testwasm.Context(t), load(t, node, testwasm.WAT(t, "testdata/wat/noop.wat")), isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Wait(testwasm.Context(t)); err != nil {
		t.Fatal(err)
	}
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/demonitor.wat"))
	exit := run(t, node, mod, isle.Grants{Processes: map[string]*isle.Process{"gone": gone}}, isle.Limits{})
	if exit.Kind != api.ExitNormal || exit.Code != 42 {
		t.Fatalf("exit %v; want code 42 (1 to 5 name the step that failed)", exit)
	}
}

// A module without a linear memory that hands isle or WASI a pointer gets
// what a bad pointer gets: isle abandons it as misuse, WASI answers
// EFAULT. Neither is a fault in isle.
func TestMemorylessGuestPointers(t *testing.T) {
	t.Parallel()
	node := sharedNode(t)
	exit := run(t, node, load(t, node, testwasm.WAT(t, "testdata/wat/nomemory.wat")), isle.Grants{}, isle.Limits{})
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseMisuse ||
		!strings.Contains(exit.Abandon.Detail, "send: the module has no memory") {
		t.Errorf("isle send with a pointer and no memory: %v; want misuse naming the missing memory", exit)
	}
	exit = run(t, node, load(t, node, testwasm.WAT(t, "testdata/wat/nomemorywasi.wat")), isle.Grants{}, isle.Limits{})
	if exit.Kind != api.ExitNormal || exit.Code != 21 {
		t.Errorf("fd_write with a pointer and no memory: %v; want exit code 21 (EFAULT)", exit)
	}
}
