package fuel

import "sort"

// span says that new[New:New+Len] was copied from old[Old:Old+Len].
type span struct {
	New, Old, Len uint32
}

// OffsetMap maps offsets in the rewritten code section to the original
// one. It is a sorted list of copied spans; the bytes between spans are
// injected code.
type OffsetMap struct {
	spans []span
}

// add records a copied span, merging it with the previous one when both
// continue each other.
func (m *OffsetMap) add(newOff, oldOff, n int) {
	if n <= 0 {
		return
	}
	if k := len(m.spans); k > 0 {
		s := &m.spans[k-1]
		if int(s.New+s.Len) == newOff && int(s.Old+s.Len) == oldOff {
			s.Len += uint32(n)
			return
		}
	}
	m.spans = append(m.spans, span{New: uint32(newOff), Old: uint32(oldOff), Len: uint32(n)})
}

// shift moves the bytes from newOffset on by delta, the bytes before it
// being replaced: what spans covered of them is dropped.
func (m *OffsetMap) shift(newOffset, delta int) {
	out := m.spans[:0]
	for _, s := range m.spans {
		if cut := newOffset - int(s.New); cut > 0 {
			if int(s.Len) <= cut {
				continue
			}
			s.New, s.Old, s.Len = uint32(newOffset), s.Old+uint32(cut), s.Len-uint32(cut)
		}
		s.New += uint32(delta)
		out = append(out, s)
	}
	m.spans = out
}

// Original returns the offset in the original code section that a byte at
// newOffset of the rewritten one was copied from. It reports false for
// injected bytes and offsets past the end.
func (m *OffsetMap) Original(newOffset uint64) (uint64, bool) {
	if m == nil {
		return 0, false
	}
	i := sort.Search(len(m.spans), func(i int) bool { return uint64(m.spans[i].New) > newOffset }) - 1
	if i < 0 {
		return 0, false
	}
	s := m.spans[i]
	if d := newOffset - uint64(s.New); d < uint64(s.Len) {
		return uint64(s.Old) + d, true
	}
	return 0, false
}

// rewritten maps an original offset forward. An offset where code was
// injected maps past the injected bytes, onto the original instruction; an
// offset just past a span (the end of a function) maps just past its copy.
func (m *OffsetMap) rewritten(oldOffset uint64) uint64 {
	i := sort.Search(len(m.spans), func(i int) bool { return uint64(m.spans[i].Old) > oldOffset }) - 1
	if i < 0 {
		return oldOffset
	}
	s := m.spans[i]
	return uint64(s.New) + min(oldOffset-uint64(s.Old), uint64(s.Len))
}
