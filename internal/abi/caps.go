package abi

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/kernel"
)

// capFunctions handle capabilities of every kind: attenuation, inspection
// and revocation.
var capFunctions = []Func{
	{"dup", sig(2), ret32, dup},
	{"inspect", sig(2), ret32, inspect},
	{"revocable", sig(3), ret32, revocable},
	{"revoke", sig(1), ret32, revoke},
}

// anyCap returns the capability h names, whatever its kind, refusing reply
// handles, which are one-shot and cannot be copied.
func (c Ctx) anyCap(h uint32) *kernel.Cap {
	cp := c.Lookup(h)
	if cp.Kind == kernel.KindReply {
		c.Misuse("handle %d is a reply handle, which is one-shot and cannot be copied", h)
	}
	return cp
}

func (c Ctx) insert(cp kernel.Cap) int32 {
	h, err := c.P.Handles().Insert(cp)
	if err != nil {
		return c.Code(err)
	}
	return int32(h)
}

// dup(h, rights) -> new handle carrying rights, which must be a subset.
func dup(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "dup")
	cp := c.anyCap(u32(stack[0]))
	if cp.Rev.Revoked() {
		SetResult(stack, ERevoked)
		return
	}
	n, err := cp.Attenuate(kernel.Rights(u32(stack[1])))
	if err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	SetResult(stack, c.insert(n))
}

// inspect(h, info_ptr) writes {kind, rights, revoked} as three u32.
func inspect(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "inspect")
	cp := c.Lookup(u32(stack[0]))
	b := c.Bytes(u32(stack[1]), 12)
	binary.LittleEndian.PutUint32(b[0:], uint32(cp.Kind))
	binary.LittleEndian.PutUint32(b[4:], uint32(cp.Rights))
	revoked := uint32(0)
	if cp.Rev.Revoked() {
		revoked = 1
	}
	binary.LittleEndian.PutUint32(b[8:], revoked)
	SetResult(stack, 0)
}

// revocable(h, rights, revoker_ptr) -> a revocable forwarder; its revoker
// handle is written at revoker_ptr.
func revocable(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "revocable")
	cp := c.anyCap(u32(stack[0]))
	out := c.Bytes(u32(stack[2]), 4)
	if cp.Rev.Revoked() {
		SetResult(stack, ERevoked)
		return
	}
	f, rev, err := cp.Revocable(kernel.Rights(u32(stack[1])))
	if err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	rh := c.insert(kernel.Cap{Kind: kernel.KindRevoker, Rights: kernel.RightUse, Object: rev})
	if rh < 0 {
		SetResult(stack, rh)
		return
	}
	fh := c.insert(f)
	if fh < 0 {
		c.P.Handles().Remove(kernel.Handle(rh))
		SetResult(stack, fh)
		return
	}
	binary.LittleEndian.PutUint32(out, uint32(rh))
	SetResult(stack, fh)
}

// revoke(revoker) kills every copy of the forwarder, wherever it is.
func revoke(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "revoke")
	obj, code := c.Use(u32(stack[0]), kernel.KindRevoker, kernel.RightUse)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	obj.(*kernel.Revocation).Revoke()
	SetResult(stack, 0)
}
