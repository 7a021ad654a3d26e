// Package clock is the clock capability: the host's monotonic and wall
// clocks, each behind its own right, so a process can be given elapsed
// time without the date (or neither).
package clock

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
)

// Kind is the clock's kind.
const Kind capkind.Kind = 6

func init() {
	capkind.Register(&capkind.Descriptor{
		Kind:    Kind,
		Name:    "clock",
		Summary: "the host's clocks",
		Rights: capkind.RightSet{
			{Name: "monotonic", Bit: isleapi.RightMonotonic, Doc: "elapsed time, counted from the node's start"},
			{Name: "wall", Bit: isleapi.RightWall, Doc: "the date and time"},
		},
		Parse: capkind.NoSpec,
		Open:  open,
		Funcs: []capkind.Func{{Name: "clock_now", Params: capkind.I32s("h", "which", "out_ptr"), Result: true, Fn: now}},
		Hint:  "grant a clock capability",
	})
}

// open shares one Clock per node: its origin is the node's start.
func open(env *capkind.Env, _ any, _ isleapi.Rights) (any, func(), error) {
	c, err := env.Shared("clock", func() (any, error) { return New(env.Started), nil })
	return c, nil, err
}

// Clock is the object behind a clock capability.
type Clock struct {
	// origin is where the monotonic clock counts from: the node's start,
	// so its readings reveal nothing about the host's uptime.
	origin time.Time
}

// New returns a clock whose monotonic readings count from origin, the
// node's start.
func New(origin time.Time) *Clock { return &Clock{origin: origin} }

// Which clock clock_now reads.
const (
	Monotonic = 0
	Wall      = 1
)

// now(h, which, out_ptr) writes the reading, in nanoseconds, as a u64.
func now(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "clock_now")
	a := abi.ArgsOf(stack)
	h, which, outPtr := a.U32(), a.U32(), a.U32()
	need := isleapi.RightMonotonic
	switch which {
	case Monotonic:
	case Wall:
		need = isleapi.RightWall
	default:
		c.Misuse("clock %d is neither monotonic (0) nor wall (1)", which)
	}
	out := c.Bytes(outPtr, 8)
	obj, code := c.Use(h, Kind, need)
	if code != 0 {
		abi.SetResult(stack, code)
		return
	}
	clk := obj.(*Clock)
	var ns int64
	if which == Monotonic {
		ns = int64(time.Since(clk.origin))
	} else {
		ns = time.Now().UnixNano()
	}
	binary.LittleEndian.PutUint64(out, uint64(ns))
	abi.SetResult(stack, 0)
}
