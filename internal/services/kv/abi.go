package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// Kind is the key-value capability's kind.
const Kind capkind.Kind = 5

func init() {
	capkind.Register(&capkind.Descriptor{
		Kind:    Kind,
		Name:    "kv",
		Summary: "a bucket of the node's durable key-value store",
		Rights: capkind.RightSet{
			{Name: "get", Bit: isleapi.RightGet, Doc: "read a value"},
			{Name: "put", Bit: isleapi.RightPut, Doc: "store a value"},
			{Name: "remove", Bit: isleapi.RightRemove, Doc: "delete a key"},
			{Name: "list", Bit: isleapi.RightList, Doc: "list keys"},
		},
		Fields: []capkind.Field{
			{Key: "bucket", Type: capkind.String, Required: true,
				Example: `bucket = "app"`, Doc: "the bucket's name, 1 to 255 bytes; created if it does not exist"},
			{Key: "quota", Type: capkind.String, Example: `quota = "64MiB"`,
				Doc: "the most the bucket may hold through this grant, each key counting its bytes, its value's and 64; a put past it fails with `ELIMIT`"},
		},
		Parse: parse,
		Open:  open,
		Funcs: []capkind.Func{
			{Name: "kv_get", Params: capkind.I32s("h", "key_ptr", "key_len", "buf_ptr", "buf_cap"), Result: true, Fn: get},
			{Name: "kv_put", Params: capkind.I32s("h", "key_ptr", "key_len", "val_ptr", "val_len"), Result: true, Fn: put},
			{Name: "kv_delete", Params: capkind.I32s("h", "key_ptr", "key_len"), Result: true, Fn: del},
			{Name: "kv_list", Params: capkind.I32s("h", "prefix_ptr", "prefix_len", "after_ptr", "after_len", "buf_ptr", "buf_cap"), Result: true, Fn: list},
		},
		Hint: "grant a kv capability",
	})
}

// Spec is a grant of one bucket, by name, and the quota of the grant: the
// most the bucket may hold through it (0: no quota of its own).
type Spec struct {
	Bucket string
	Quota  uint64
}

// MaxQuota is the largest quota a grant can have.
const MaxQuota = 1 << 50

func parse(t *capkind.Table) (any, error) {
	name := t.String("bucket")
	if len(name) > MaxBucketName {
		return nil, capkind.Errorf("bucket", "%d bytes is too long a name; at most %d", len(name), MaxBucketName)
	}
	spec := Spec{Bucket: name}
	if q := t.String("quota"); q != "" {
		n, err := capkind.ParseSize(q, MaxQuota, "1PiB")
		if err != nil {
			return nil, capkind.Errorf("quota", "%v", err)
		}
		spec.Quota = n
	}
	return spec, nil
}

// Grant is the object of a kv capability: a bucket, and the quota of the
// grant that gave it. Every copy of the handle shares the grant's quota,
// as it shares its rights.
type Grant struct {
	*Bucket
	// Quota bounds what the bucket may hold for puts through this grant
	// (0: none of its own; the store's bound still holds).
	Quota int64
}

// open grants the bucket, opening the node's store, kv.db in its data
// directory, on first use; the node closes it.
func open(env *capkind.Env, spec any, _ isleapi.Rights) (any, func(), error) {
	sp := spec.(Spec)
	if env.DataDir == "" {
		return nil, nil, fmt.Errorf("key-value bucket %q: the node has no data directory (set isle.Config.DataDir)", sp.Bucket)
	}
	if sp.Quota > MaxQuota {
		return nil, nil, fmt.Errorf("key-value bucket %q: a quota of %d bytes is over the most, %d", sp.Bucket, sp.Quota, uint64(MaxQuota))
	}
	s, err := env.Shared("kv", func() (any, error) { return Open(filepath.Join(env.DataDir, "kv.db"), env.KVMaxBytes) })
	if err != nil {
		return nil, nil, err
	}
	b, err := s.(*Store).Bucket(sp.Bucket)
	if err != nil {
		return nil, nil, err
	}
	return &Grant{Bucket: b, Quota: int64(sp.Quota)}, nil, nil
}

// nonEmpty abandons the caller for an empty key: no bucket can hold one,
// so asking for it is a bug, not a condition to handle. It is checked
// after every range, as docs/ABI.md orders the checks.
func nonEmpty(c abi.Ctx, key []byte) {
	if len(key) == 0 {
		c.Misuse("empty key")
	}
}

// bucket resolves a key-value handle that must carry need. code != 0 is
// an expected failure (a missing right, a revoked handle).
func bucket(c abi.Ctx, h uint32, need isleapi.Rights) (*Grant, int32) {
	obj, code := c.Use(h, Kind, need)
	if code != 0 {
		return nil, code
	}
	return obj.(*Grant), 0
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
	case errors.Is(err, ErrQuota), errors.Is(err, ErrFull):
		return abi.ELimit
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
	a := abi.ArgsOf(stack)
	h, keyPtr, keyLen, bufPtr, bufCap := a.U32(), a.U32(), a.U32(), a.U32(), a.U32()
	k := c.Bytes(keyPtr, keyLen)
	buf := c.Bytes(bufPtr, bufCap)
	nonEmpty(c, k)
	b, rc := bucket(c, h, isleapi.RightGet)
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
			c.P.ChargeBytes(int(r))
		}
	})
	if err != nil {
		r = code(err)
	}
	abi.SetResult(stack, r)
}

// put(h, key_ptr, key_len, val_ptr, val_len) -> 0 | ETOOBIG | ELIMIT | EIO
//
// Returns once the write is committed and flushed to stable storage.
func put(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "kv_put")
	a := abi.ArgsOf(stack)
	h, keyPtr, keyLen, valPtr, valLen := a.U32(), a.U32(), a.U32(), a.U32(), a.U32()
	k := c.Bytes(keyPtr, keyLen)
	v := c.Bytes(valPtr, valLen)
	nonEmpty(c, k)
	b, rc := bucket(c, h, isleapi.RightPut)
	if rc != 0 {
		abi.SetResult(stack, rc)
		return
	}
	c.P.ChargeBytes(len(k) + len(v))
	w, err := b.StartPut(k, v, b.Quota)
	abi.SetResult(stack, wait(c, w, err))
}

// del(h, key_ptr, key_len) -> 0 | ENOTFOUND | ETOOBIG | EIO
func del(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "kv_delete")
	a := abi.ArgsOf(stack)
	h, keyPtr, keyLen := a.U32(), a.U32(), a.U32()
	k := c.Bytes(keyPtr, keyLen)
	nonEmpty(c, k)
	b, rc := bucket(c, h, isleapi.RightRemove)
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
	a := abi.ArgsOf(stack)
	h, prefixPtr, prefixLen, afterPtr, afterLen, bufPtr, bufCap := a.U32(), a.U32(), a.U32(), a.U32(), a.U32(), a.U32(), a.U32()
	prefix := c.Bytes(prefixPtr, prefixLen)
	after := c.Bytes(afterPtr, afterLen)
	buf := c.Bytes(bufPtr, bufCap)
	b, rc := bucket(c, h, isleapi.RightList)
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
		c.P.ChargeBytes(int(off))
		abi.SetResult(stack, count)
	}
}
