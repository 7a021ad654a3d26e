package kv

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/kernel"
)

// Funcs is the key-value capability's part of the isle host module.
// docs/ABI.md, "Key-value", is the reference.
func Funcs() []abi.Func {
	return []abi.Func{
		{Name: "kv_get", Params: abi.I32s(5), Results: abi.RetI32, Fn: get},
		{Name: "kv_put", Params: abi.I32s(5), Results: abi.RetI32, Fn: put},
		{Name: "kv_delete", Params: abi.I32s(3), Results: abi.RetI32, Fn: del},
		{Name: "kv_list", Params: abi.I32s(7), Results: abi.RetI32, Fn: list},
	}
}

func u32(v uint64) uint32 { return uint32(v) }

// nonEmpty abandons the caller for an empty key: no bucket can hold one,
// so asking for it is a bug, not a condition to handle. It is checked
// after every range, as docs/ABI.md orders the checks.
func nonEmpty(c abi.Ctx, key []byte) {
	if len(key) == 0 {
		c.Misuse("empty key")
	}
}

// bucket resolves a KindKV handle that must carry need. code != 0 is an
// expected failure (a missing right, a revoked handle).
func bucket(c abi.Ctx, h uint32, need kernel.Rights) (*Bucket, int32) {
	obj, code := c.Use(h, kernel.KindKV, need)
	if code != 0 {
		return nil, code
	}
	return obj.(*Bucket), 0
}

// code maps a store error to its ABI code.
func code(err error) int32 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrNotFound):
		return abi.ENotFound
	case errors.Is(err, ErrTooBig):
		return abi.ETooBig
	case errors.Is(err, kernel.ErrIO):
		return abi.EIO
	}
	// ErrClosed: the node is shutting down under the caller. ErrKeyEmpty
	// cannot happen (nonEmpty abandons first). Either way the guest cannot
	// act on it better than on a storage failure.
	return abi.EIO
}

// get(h, key_ptr, key_len, buf_ptr, buf_cap) -> len | ENOTFOUND | ETOOBIG
//
// Copies the value to buf and returns its length. A value longer than a
// nonzero buf_cap copies nothing and returns ETOOBIG; buf_cap 0 copies
// nothing and returns the length, so a caller can size its buffer.
func get(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "kv_get")
	k := c.Bytes(u32(stack[1]), u32(stack[2]))
	bufCap := u32(stack[4])
	buf := c.Bytes(u32(stack[3]), bufCap)
	nonEmpty(c, k)
	b, rc := bucket(c, u32(stack[0]), kernel.RightGet)
	if rc != 0 {
		abi.SetResult(stack, rc)
		return
	}
	var r int32
	err := b.View(k, func(v []byte) {
		switch {
		case bufCap == 0:
			r = int32(len(v))
		case len(v) > int(bufCap):
			r = abi.ETooBig
		default:
			r = int32(copy(buf, v))
		}
	})
	if err != nil {
		r = code(err)
	}
	abi.SetResult(stack, r)
}

// put(h, key_ptr, key_len, val_ptr, val_len) -> 0 | ETOOBIG | EIO
//
// Returns once the write is committed and flushed to stable storage.
func put(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "kv_put")
	k := c.Bytes(u32(stack[1]), u32(stack[2]))
	v := c.Bytes(u32(stack[3]), u32(stack[4]))
	nonEmpty(c, k)
	b, rc := bucket(c, u32(stack[0]), kernel.RightPut)
	if rc != 0 {
		abi.SetResult(stack, rc)
		return
	}
	w, err := b.StartPut(k, v)
	abi.SetResult(stack, wait(c, w, err))
}

// del(h, key_ptr, key_len) -> 0 | ENOTFOUND | ETOOBIG | EIO
func del(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "kv_delete")
	k := c.Bytes(u32(stack[1]), u32(stack[2]))
	nonEmpty(c, k)
	b, rc := bucket(c, u32(stack[0]), kernel.RightRemove)
	if rc != 0 {
		abi.SetResult(stack, rc)
		return
	}
	w, err := b.StartDelete(k)
	abi.SetResult(stack, wait(c, w, err))
}

// wait blocks the caller until w is durable. The wait is a blocking host
// call like recv: a reactor's worker hands off its queue meanwhile, and a
// kill ends it. A write whose process was killed may or may not be stored,
// as after a crash; w owns copies of its data, so it can finish safely.
func wait(c abi.Ctx, w *Write, err error) int32 {
	if err != nil {
		return code(err)
	}
	c.P.Blocking(func() {
		select {
		case <-w.Done():
		case <-c.P.KillContext().Done():
		}
	})
	c.P.CheckKilled()
	return code(w.Err())
}

// ListRecordHeader is the size of the length that precedes each key in
// kv_list's buffer.
const ListRecordHeader = 2

// list(h, prefix_ptr, prefix_len, after_ptr, after_len, buf_ptr, buf_cap) -> count | ETOOBIG | EIO
//
// Writes the keys that start with prefix and sort after after (every key
// when after_len is 0), in byte order, as records {u16 len; key[len]}
// packed with no padding, as many whole records as fit in buf_cap (at
// most MaxList bytes), and returns how many it wrote. 0 means there are
// no more keys. ETOOBIG: the next key does not fit in buf_cap at all.
func list(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "kv_list")
	prefix := c.Bytes(u32(stack[1]), u32(stack[2]))
	after := c.Bytes(u32(stack[3]), u32(stack[4]))
	buf := c.Bytes(u32(stack[5]), u32(stack[6]))
	b, rc := bucket(c, u32(stack[0]), kernel.RightList)
	if rc != 0 {
		abi.SetResult(stack, rc)
		return
	}
	if len(prefix) > MaxKey || len(after) > MaxKey {
		abi.SetResult(stack, abi.ETooBig)
		return
	}
	if len(buf) > MaxList {
		buf = buf[:MaxList]
	}
	var count, off int32
	full := false
	err := b.List(prefix, after, func(k []byte) bool {
		need := ListRecordHeader + len(k)
		if int(off)+need > len(buf) {
			full = true
			return false
		}
		binary.LittleEndian.PutUint16(buf[off:], uint16(len(k)))
		copy(buf[int(off)+ListRecordHeader:], k)
		off += int32(need)
		count++
		return true
	})
	switch {
	case err != nil:
		abi.SetResult(stack, code(err))
	case count == 0 && full:
		abi.SetResult(stack, abi.ETooBig)
	default:
		abi.SetResult(stack, count)
	}
}
