// Package random is the entropy capability.
package random

import (
	"context"
	"io"
	"sync"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/kernel"
)

// Source is the object behind a KindRandom capability. Its reader may be
// shared by several processes (a seeded stream, say), so reads are
// serialised.
type Source struct {
	mu sync.Mutex
	r  io.Reader
}

// New wraps an entropy source.
func New(r io.Reader) *Source { return &Source{r: r} }

// MaxFill bounds one random_fill, so that one call cannot hold the source.
const MaxFill = 1 << 16

// Funcs is the random capability's part of the isle host module.
func Funcs() []abi.Func {
	return []abi.Func{{Name: "random_fill", Params: abi.I32s(3), Results: abi.RetI32, Fn: fill}}
}

// fill(h, ptr, len) fills the buffer with entropy.
func fill(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "random_fill")
	n := uint32(stack[2])
	buf := c.Bytes(uint32(stack[1]), n)
	obj, code := c.Use(uint32(stack[0]), kernel.KindRandom, kernel.RightUse)
	if code != 0 {
		abi.SetResult(stack, code)
		return
	}
	if n > MaxFill {
		abi.SetResult(stack, abi.ETooBig)
		return
	}
	s := obj.(*Source)
	s.mu.Lock()
	_, err := io.ReadFull(s.r, buf)
	s.mu.Unlock()
	if err != nil {
		abi.SetResult(stack, c.Code(kernel.ErrIO))
		return
	}
	abi.SetResult(stack, 0)
}
