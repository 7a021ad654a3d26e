package fuel

import (
	"fmt"
	"math"

	"github.com/isle-run/isle/internal/wasm"
)

// rewriteCode instruments every body and appends the helpers. It returns
// the new code section payload (nil if the module has none) and the map
// from its offsets back to the original's.
func (mod *module) rewriteCode() ([]byte, *OffsetMap, error) {
	om := &OffsetMap{}
	sec := mod.m.Section(wasm.SectionCode)
	if sec == nil {
		return nil, om, nil
	}
	old := sec.Payload
	in := &mod.inj
	w := &bodyRewriter{mod: mod,
		check: newCheckCode(in.fuelGlobal, in.yieldFunc),
		stack: newStackCode(in.stackGlobal, in.fuelGlobal, mod.helperFor(helperKey{kind: helperEntrySlow}))}
	dst := make([]byte, 0, len(old)+len(old)/4+64)
	_, p, _ := wasm.ReadU32(old, 0) // the count, already decoded
	dst = append(dst, old[:p]...)   // rewritten once the helpers are known
	om.add(0, 0, p)
	prevEnd := p
	mod.frames = make([]int64, len(mod.code))
	for i, c := range mod.code {
		fidx := mod.counts.ImportedFuncs + uint32(i)
		sig := mod.types[mod.funcs[i]]
		locals, wide, start, err := localDecls(c.Body)
		if err == nil {
			w.est.reset(sig, locals, wide)
			err = w.scan(c.Body, start, locals+uint64(len(sig.Params)), sig)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("function %d: %w", fidx, err)
		}
		mod.frames[i] = w.frameSize
		if !w.calls {
			mod.frames[i] = 0
		}
		// The size field keeps its width where it can, like patched indices.
		width := c.Offset - prevEnd
		n := w.newLen(c.Body)
		at := len(dst)
		dst = wasm.AppendU32Width(dst, uint32(n), width)
		om.add(at, prevEnd, min(len(dst)-at, width))
		bodyAt := len(dst)
		dst = w.emit(dst, c.Body, c.Offset, om)
		if len(dst)-bodyAt != n {
			panic(fmt.Sprintf("fuel: function %d: rewritten body is %d bytes, computed %d", fidx, len(dst)-bodyAt, n))
		}
		prevEnd = c.Offset + len(c.Body)
		if len(dst) > math.MaxUint32 {
			return nil, nil, fmt.Errorf("code section grows beyond 4 GiB")
		}
	}
	for _, h := range in.helpers {
		b := mod.helperBody(h.key)
		dst = append(wasm.AppendU32(dst, uint32(len(b))), b...)
	}
	return setCount(dst, p, uint32(len(mod.code)+len(in.helpers)), om), om, nil
}

// setCount writes the function count over the first width bytes of a code
// section payload, keeping the width if it can. If the count needs more
// bytes, everything after it moves, and so do the offset map's spans.
func setCount(dst []byte, width int, n uint32, om *OffsetMap) []byte {
	if wasm.U32Len(n) <= width {
		wasm.AppendU32Width(dst[:0], n, width)
		return dst
	}
	out := wasm.AppendU32(make([]byte, 0, len(dst)+5), n)
	shift := len(out) - width
	out = append(out, dst[width:]...)
	om.shift(width, shift)
	return out
}
