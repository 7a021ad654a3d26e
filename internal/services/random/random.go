// Package random is the entropy capability.
package random

import (
	"context"
	"crypto/rand"
	"io"
	"sync"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// Kind is the entropy capability's kind.
const Kind capkind.Kind = 7

func init() {
	capkind.Register(&capkind.Descriptor{
		Kind:    Kind,
		Name:    "random",
		Summary: "a source of entropy",
		Rights:  capkind.Use,
		Parse:   capkind.NoSpec,
		Open:    open,
		Funcs:   []capkind.Func{{Name: "random_fill", Params: capkind.I32s("h", "ptr", "len"), Result: true, Fn: fill}},
		Hint:    "grant a random capability",
	})
}

// open returns the spec, a *Source that every process granted the same
// capability shares; nil (a manifest's grant) is the host's cryptographic
// source.
func open(_ *capkind.Env, spec any, _ isleapi.Rights) (any, func(), error) {
	if s, ok := spec.(*Source); ok {
		return s, nil, nil
	}
	return New(rand.Reader), nil, nil
}

// Source is the object behind a random capability. One is shared by every
// process granted the same capability, and its reader (a seeded stream,
// say) need not be safe for concurrent use, so reads are serialised.
type Source struct {
	mu sync.Mutex
	r  io.Reader
}

// New wraps an entropy source.
func New(r io.Reader) *Source { return &Source{r: r} }

// MaxFill bounds one random_fill, so that one call cannot hold the source.
const MaxFill = 1 << 16

// fill(h, ptr, len) fills the buffer with entropy.
func fill(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "random_fill")
	a := abi.ArgsOf(stack)
	h, ptr, n := a.U32(), a.U32(), a.U32()
	buf := c.Bytes(ptr, n)
	obj, code := c.Use(h, Kind, isleapi.RightUse)
	if code != 0 {
		abi.SetResult(stack, code)
		return
	}
	if n > MaxFill {
		abi.SetResult(stack, abi.ETooBig)
		return
	}
	s := obj.(*Source)
	c.P.ChargeBytes(len(buf))
	s.mu.Lock()
	_, err := io.ReadFull(s.r, buf)
	s.mu.Unlock()
	if err != nil {
		abi.SetResult(stack, c.Code(kernel.ErrIO))
		return
	}
	abi.SetResult(stack, 0)
}
