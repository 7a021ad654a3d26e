package abi

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// capFunctions take a handle of any kind: attenuation, inspection and
// revocation.
var capFunctions = []capkind.Func{
	{Name: "dup", Params: capkind.I32s("h", "rights"), Result: true, Fn: dup},
	{Name: "inspect", Params: capkind.I32s("h", "info_ptr"), Result: true, Fn: inspect},
	{Name: "revocable", Params: capkind.I32s("h", "rights", "revoker_ptr"), Result: true, Fn: revocable},
}

// anyCap returns the capability h names, whatever its kind, refusing reply
// handles, which are one-shot and cannot be copied.
func (c Ctx) anyCap(h uint32) *kernel.Cap {
	cp := c.Lookup(h)
	if cp.Kind == capkind.Reply {
		c.Misuse("handle %d is a reply handle, which is one-shot and cannot be copied", h)
	}
	return cp
}

// insert puts a new copy of a capability in the caller's table, counting
// it (kernel.Cap.AddRef).
func (c Ctx) insert(cp kernel.Cap) int32 {
	h, err := c.Handles.Insert(cp)
	if err != nil {
		return c.Code(err)
	}
	cp.AddRef()
	return int32(h)
}

// dup(h, rights) -> new handle carrying rights, which must be a subset.
func dup(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "dup")
	a := ArgsOf(stack)
	h, rights := a.U32(), isleapi.Rights(a.U32())
	cp := c.anyCap(h)
	if cp.Rev.Revoked() {
		SetResult(stack, ERevoked)
		return
	}
	n, err := cp.Attenuate(rights)
	if err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	SetResult(stack, c.insert(n))
}

// inspect(h, info_ptr) writes {kind, rights, revoked} as three u32.
func inspect(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "inspect")
	a := ArgsOf(stack)
	h, infoPtr := a.U32(), a.U32()
	cp := c.Lookup(h)
	b := c.Bytes(infoPtr, 12)
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
	a := ArgsOf(stack)
	h, rights, revokerPtr := a.U32(), isleapi.Rights(a.U32()), a.U32()
	cp := c.anyCap(h)
	out := c.Bytes(revokerPtr, 4)
	if cp.Rev.Revoked() {
		SetResult(stack, ERevoked)
		return
	}
	f, rev, err := cp.Revocable(rights)
	if err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	rh := c.insert(kernel.Cap{Kind: capkind.Revoker, Rights: isleapi.RightUse, Object: rev})
	if rh < 0 {
		SetResult(stack, rh)
		return
	}
	fh := c.insert(f)
	if fh < 0 {
		c.Handles.Remove(kernel.Handle(rh))
		SetResult(stack, fh)
		return
	}
	binary.LittleEndian.PutUint32(out, uint32(rh))
	SetResult(stack, fh)
}

// revoke(revoker) kills every copy of the forwarder, wherever it is.
func revoke(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "revoke")
	a := ArgsOf(stack)
	revoker := a.U32()
	obj, code := c.Use(revoker, capkind.Revoker, isleapi.RightUse)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	obj.(*kernel.Revocation).Revoke()
	SetResult(stack, 0)
}
