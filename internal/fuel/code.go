package fuel

import (
	"fmt"
	"math"

	"github.com/isle-run/isle/internal/wasm"
)

// rewriteCode instruments every body. It returns the new code section
// payload (nil if the module has none) and the map from its offsets back to
// the original's.
func (mod *module) rewriteCode() ([]byte, *OffsetMap, error) {
	om := &OffsetMap{}
	sec := mod.m.Section(wasm.SectionCode)
	if sec == nil {
		return nil, om, nil
	}
	old := sec.Payload
	w := &bodyRewriter{mod: mod, check: newCheckCode(mod.fuelGlobal, mod.yieldFunc)}
	dst := make([]byte, 0, len(old)+len(old)/4+64)
	_, p, _ := wasm.ReadU32(old, 0) // the count, already decoded
	dst = append(dst, old[:p]...)
	om.add(0, 0, p)
	prevEnd := p
	for i, c := range mod.code {
		fidx := mod.counts.ImportedFuncs + uint32(i)
		locals, start, err := wasm.Locals(c.Body)
		if err == nil {
			locals += uint64(len(mod.types[mod.funcs[i]].Params))
			err = w.scan(c.Body, start, locals)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("function %d: %w", fidx, err)
		}
		// The size field keeps its width where it can, like patched indices.
		width := c.Offset - prevEnd
		at := len(dst)
		dst = wasm.AppendU32Width(dst, uint32(w.newLen(c.Body)), width)
		om.add(at, prevEnd, min(len(dst)-at, width))
		dst = w.emit(dst, c.Body, c.Offset, om)
		prevEnd = c.Offset + len(c.Body)
		if len(dst) > math.MaxUint32 {
			return nil, nil, fmt.Errorf("code section grows beyond 4 GiB")
		}
	}
	return dst, om, nil
}
