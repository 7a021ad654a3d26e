package kernel

import (
	"math"
	"testing"

	"github.com/isle-run/isle/internal/wasm"
)

// TestPreloadedBytes checks the bound on what instantiation writes into
// linear memory, which decides what an exit before the guest runs drops.
func TestPreloadedBytes(t *testing.T) {
	t.Parallel()
	active := func(off int32, n int) wasm.Data {
		e := append([]byte{0x41}, wasm.AppendS64(nil, int64(off))...)
		return wasm.Data{Offset: append(e, 0x0b), Init: make([]byte, n)}
	}
	module := func(start bool, data ...wasm.Data) []byte {
		m := &wasm.Module{}
		if start {
			m.Put(wasm.SectionStart, []byte{0})
		}
		if data != nil {
			m.Put(wasm.SectionData, wasm.EncodeData(data))
		}
		return m.Encode()
	}
	globalOffset := wasm.Data{Offset: wasm.Expr{0x23, 0, 0x0b}, Init: []byte{1}}
	for _, c := range []struct {
		name string
		bin  []byte
		want uint64
	}{
		{"no data", module(false), 0},
		{"two segments", module(false, active(1024, 10), active(100, 4)), 1034},
		{"passive only", module(false, wasm.Data{Flags: 1, Init: make([]byte, 50)}), 0},
		{"offset past 2 GiB", module(false, active(-65536, 1)), 1<<32 - 65536 + 1},
		{"offset not a constant", module(false, globalOffset), math.MaxUint64},
		{"start function", module(true, active(0, 1)), math.MaxUint64},
	} {
		got, err := preloadedBytes(c.bin)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: preloaded %d bytes, want %d", c.name, got, c.want)
		}
	}
}
