package abi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/kernel"
)

// memory is a linear memory of len(b) bytes: the two methods Ctx uses.
type memory struct {
	api.Memory
	b []byte
}

func (m *memory) Size() uint32 { return uint32(len(m.b)) }

func (m *memory) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[off : off+n], true
}

// holder is a module with the memory it holds, or none.
type holder struct{ mem api.Memory }

func (h holder) Memory() api.Memory { return h.mem }

// ctx is a host call's context over a 64 KiB memory and an empty table.
func ctx() Ctx {
	return Ctx{Module: holder{&memory{b: make([]byte, 1<<16)}}, Handles: &kernel.HandleTable{}, Name: "f"}
}

// abandons runs f and returns the abandonment it panicked with.
func abandons(t *testing.T, f func()) (ab *fault.Abandon) {
	t.Helper()
	defer func() {
		r := recover()
		var ok bool
		if ab, ok = r.(*fault.Abandon); !ok {
			t.Fatalf("panicked with %v (%T); want an abandonment", r, r)
		}
	}()
	f()
	return nil
}

// misuse checks that f abandons the caller for misuse, with a reason that
// names the function and contains want.
func misuse(t *testing.T, want string, f func()) {
	t.Helper()
	ab := abandons(t, f)
	if ab == nil {
		t.Errorf("not abandoned; want misuse %q", want)
		return
	}
	if ab.Cause != isleapi.CauseMisuse || !strings.HasPrefix(ab.Detail, "f: ") || !strings.Contains(ab.Detail, want) {
		t.Errorf("%v %q; want misuse \"f: ...%s...\"", ab.Cause, ab.Detail, want)
	}
}

func TestBytesChecksRanges(t *testing.T) {
	t.Parallel()
	c := ctx()
	if b := c.Bytes(0xfff0, 16); len(b) != 16 {
		t.Errorf("the last 16 bytes: %d bytes", len(b))
	}
	if b := c.Bytes(0xffffffff, 0); b != nil {
		t.Error("an empty range anywhere is not nil")
	}
	misuse(t, "range [0xfff1, 0xfff1+16) is outside its 65536-byte memory", func() { c.Bytes(0xfff1, 16) })
	misuse(t, "range [0xfff0, 0xfff0+4294967040) is outside", func() { c.Bytes(0xfff0, 0xffffff00) })
	misuse(t, "range [0xffffffff, 0xffffffff+1)", func() { c.Bytes(0xffffffff, 1) })
	c.Module = holder{}
	misuse(t, "the module has no memory", func() { c.Bytes(0, 1) })
}

func TestHandlesAndKinds(t *testing.T) {
	t.Parallel()
	c := ctx()
	proc, _ := c.Handles.Insert(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: "p"})
	reply, _ := c.Handles.Insert(kernel.Cap{Kind: capkind.Reply})
	closed, _ := c.Handles.Insert(kernel.Cap{Kind: capkind.Process})
	c.Handles.Remove(closed)
	for _, h := range []uint32{0, 77, uint32(closed), uint32(proc) + 1<<16} {
		misuse(t, fmt.Sprintf("handle %d is not in the process's handle table", h), func() { c.Lookup(h) })
	}
	if cp := c.Lookup(uint32(proc)); cp.Object != "p" {
		t.Errorf("Lookup: %+v", cp)
	}
	misuse(t, fmt.Sprintf("handle %d is a process handle, not a reply handle", proc), func() { c.Cap(uint32(proc), capkind.Reply) })
	misuse(t, fmt.Sprintf("handle %d is a reply handle, not a kind 200 handle", reply), func() { c.Cap(uint32(reply), 200) })
	misuse(t, fmt.Sprintf("handle %d is a reply handle, which is one-shot and cannot be copied", reply), func() { c.anyCap(uint32(reply)) })
	if cp := c.Cap(uint32(reply), capkind.Reply); cp.Kind != capkind.Reply {
		t.Errorf("Cap: %+v", cp)
	}
}

// A missing right or a revoked handle is a code, not misuse.
func TestUseChecksRights(t *testing.T) {
	t.Parallel()
	c := ctx()
	h, _ := c.Handles.Insert(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend | isleapi.RightMonitor, Object: "p"})
	if obj, code := c.Use(uint32(h), capkind.Process, isleapi.RightSend|isleapi.RightMonitor); obj != "p" || code != 0 {
		t.Errorf("Use with the rights: %v, %d", obj, code)
	}
	if _, code := c.Use(uint32(h), capkind.Process, isleapi.RightKill); code != ERights {
		t.Errorf("Use without kill: %d, want ERIGHTS", code)
	}
	f, rev, err := c.Lookup(uint32(h)).Revocable(isleapi.RightSend)
	if err != nil {
		t.Fatal(err)
	}
	fh, _ := c.Handles.Insert(f)
	rev.Revoke()
	if _, code := c.Use(uint32(fh), capkind.Process, isleapi.RightSend); code != ERevoked {
		t.Errorf("Use of a revoked forwarder: %d, want EREVOKED", code)
	}
	misuse(t, "is a process handle, not a revoker handle", func() { c.Use(uint32(h), capkind.Revoker, isleapi.RightUse) })
}

func TestCode(t *testing.T) {
	t.Parallel()
	c := ctx()
	for err, want := range map[error]int32{
		kernel.ErrTimeout: ETimeout, kernel.ErrGone: EGone, kernel.ErrStartFailed: EGone, kernel.ErrFull: EFull,
		kernel.ErrTooBig: ETooBig, kernel.ErrRights: ERights, kernel.ErrRevoked: ERevoked, kernel.ErrLimit: ELimit,
		kernel.ErrTableFull: ELimit, kernel.ErrNoMatch: ENotFound, kernel.ErrIO: EIO, kernel.ErrDenied: EDenied,
		fmt.Errorf("store: %w", kernel.ErrIO): EIO,
	} {
		if got := c.Code(err); got != want {
			t.Errorf("Code(%v) = %d, want %d", err, got, want)
		}
	}
	ab := abandons(t, func() { c.Code(errors.New("a bug")) })
	if ab == nil || ab.Cause != isleapi.CauseHostFault || ab.Detail != "f: a bug" {
		t.Errorf("an unknown error: %+v; want a host fault", ab)
	}
}

func TestMessageChecks(t *testing.T) {
	t.Parallel()
	c := ctx()
	p1, _ := c.Handles.Insert(kernel.Cap{Kind: capkind.Process})
	p2, _ := c.Handles.Insert(kernel.Cap{Kind: capkind.Process})
	reply, _ := c.Handles.Insert(kernel.Cap{Kind: capkind.Reply})
	list := func(hs ...kernel.Handle) uint32 {
		b := c.Bytes(0x100, uint32(4*len(hs)))
		for i, h := range hs {
			b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(h), byte(h>>8), byte(h>>16), byte(h>>24)
		}
		return uint32(len(hs))
	}
	misuse(t, "tag 0xffff0001 is reserved for the system", func() { c.message(0xffff0001, 0, 0, 0, 0, false) })
	misuse(t, "17 handles in one message; the limit is 16", func() { c.message(1, 0, 0, 0x100, 17, false) })
	misuse(t, fmt.Sprintf("handle %d is listed twice", p1), func() { c.message(1, 0, 0, 0x100, list(p1, p2, p1), false) })
	misuse(t, "handle 9 is not in the process's handle table", func() { c.message(1, 0, 0, 0x100, list(p1, 9), false) })
	misuse(t, fmt.Sprintf("handle %d is a reply handle, which can be moved but not copied", reply), func() {
		c.message(1, 0, 0, 0x100, list(reply), true)
	})
	misuse(t, "outside", func() { c.message(1, 0xffff, 2, 0, 0, false) })
	m, hs, code := c.message(7, 0x10, 3, 0x100, list(p1, reply), false)
	if code != 0 || m.Tag != 7 || len(m.Data) != 3 || len(hs) != 2 || len(m.Caps) != 2 || m.Caps[1].Kind != capkind.Reply {
		t.Errorf("a good message: %+v, %v, %d", m, hs, code)
	}
	c.removeMoved(hs)
	if c.Handles.Len() != 1 {
		t.Errorf("%d handles left after the move; want 1", c.Handles.Len())
	}
	big := Ctx{Module: holder{&memory{b: make([]byte, 2<<20)}}, Handles: &kernel.HandleTable{}, Name: "f"}
	if _, _, code := big.message(1, 0, kernel.DefaultMaxMessage+1, 0, 0, false); code != ETooBig {
		t.Errorf("a payload over the limit: code %d, want ETOOBIG", code)
	}
}

func TestArgsReadInOrder(t *testing.T) {
	t.Parallel()
	stack := []uint64{7, uint64(0xffffffff), uint64(1) << 40, uint64(0xfffffffe), 3}
	a := ArgsOf(stack)
	h, neg, ns, level, last := a.U32(), a.I32(), a.I64(), a.I32(), a.U32()
	if h != 7 || neg != -1 || ns != 1<<40 || level != -2 || last != 3 {
		t.Errorf("read %d %d %d %d %d", h, neg, ns, level, last)
	}
	SetResult(stack, ENotFound)
	if int32(uint32(stack[0])) != ENotFound {
		t.Errorf("SetResult stored %#x", stack[0])
	}
}

func TestEnterOutsideAProcess(t *testing.T) {
	t.Parallel()
	ab := abandons(t, func() { Enter(context.Background(), nil, "send") })
	if ab == nil || ab.Cause != isleapi.CauseHostFault || ab.Detail != "send called outside a process" {
		t.Errorf("%+v; want a host fault", ab)
	}
}

// The kernel's own kinds are registered, with every function of the host
// module once, and open only what they name.
func TestKernelKinds(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, f := range Functions() {
		if names[f.Name] {
			t.Errorf("%s is in the host module twice", f.Name)
		}
		names[f.Name] = true
		if f.Fn == nil || len(f.Types()) != len(f.Params) {
			t.Errorf("%s is malformed", f.Name)
		}
	}
	for _, k := range []capkind.Kind{capkind.Process, capkind.Reply, capkind.Spawner, capkind.Revoker} {
		if capkind.Lookup(k) == nil {
			t.Errorf("kind %d is not registered", k)
		}
	}
	if _, _, err := spawnerKind.Open(nil, SpawnerModules{"w": "w.wasm"}, isleapi.RightUse); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("a spawner over paths opened: %v", err)
	}
	sp := &kernel.Spawner{}
	if obj, _, err := spawnerKind.Open(nil, sp, isleapi.RightUse); obj != sp || err != nil {
		t.Errorf("a spawner over modules: %v, %v", obj, err)
	}
	if _, _, err := processKind.Open(nil, nil, isleapi.RightSend); err == nil {
		t.Error("a process capability naming nothing opened")
	}
	if replyKind.Open != nil || revokerKind.Open != nil || replyKind.Granted() || revokerKind.Granted() {
		t.Error("reply and revoker handles can be granted")
	}
}
