// Package clock is the clock capability: the host's monotonic and wall
// clocks, each behind its own right, so a process can be given elapsed
// time without the date (or neither).
package clock

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/kernel"
)

// Clock is the object behind a KindClock capability.
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

// Funcs is the clock's part of the isle host module.
func Funcs() []abi.Func {
	return []abi.Func{{Name: "clock_now", Params: abi.I32s(3), Results: abi.RetI32, Fn: now}}
}

// now(h, which, out_ptr) writes the reading, in nanoseconds, as a u64.
func now(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "clock_now")
	which := uint32(stack[1])
	need := kernel.RightMonotonic
	switch which {
	case Monotonic:
	case Wall:
		need = kernel.RightWall
	default:
		c.Misuse("clock %d is neither monotonic (0) nor wall (1)", which)
	}
	out := c.Bytes(uint32(stack[2]), 8)
	obj, code := c.Use(uint32(stack[0]), kernel.KindClock, need)
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
