package fuel

import (
	"fmt"

	"github.com/isle-run/isle/internal/wasm"
)

// renumberNames rewrites the "name" section for the shifted function
// indices. Subsections keyed by function index are renumbered; those keyed
// by indices the rewrite does not move are kept; unknown ones are dropped,
// since a name on the wrong function is worse than no name.
func (mod *module) renumberNames(payload []byte) ([]byte, error) {
	subs, err := wasm.DecodeNameSubsections(payload)
	if err != nil {
		return nil, err
	}
	out := subs[:0]
	for _, s := range subs {
		switch s.ID {
		case wasm.NameFunction:
			m, err := wasm.DecodeNameMap(s.Payload)
			if err != nil {
				return nil, fmt.Errorf("name section: function names: %w", err)
			}
			for i := range m {
				m[i].Index = mod.funcIndex(m[i].Index)
			}
			s.Payload = wasm.AppendNameMap(nil, m)
		case wasm.NameLocal, wasm.NameLabel:
			m, err := wasm.DecodeIndirectNameMap(s.Payload)
			if err != nil {
				return nil, fmt.Errorf("name section: subsection %d: %w", s.ID, err)
			}
			for i := range m {
				m[i].Index = mod.funcIndex(m[i].Index)
			}
			s.Payload = wasm.AppendIndirectNameMap(nil, m)
		case wasm.NameModule, wasm.NameType, wasm.NameTable, wasm.NameMemory,
			wasm.NameGlobal, wasm.NameElem, wasm.NameData, wasm.NameField, wasm.NameTag:
			// Keyed by indices that stay put: types and globals are only
			// appended to, and the rest do not change.
		default:
			continue
		}
		out = append(out, s)
	}
	return wasm.EncodeNameSubsections(out), nil
}
