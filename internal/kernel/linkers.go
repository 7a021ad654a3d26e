package kernel

// linkers is the set of processes linked to a Service or a Remote. A
// service outlives any number of linkers, and a Go map never gives back
// the room it grew to, so the set is rebuilt once it has shrunk to a
// quarter of its largest, and dropped when empty. The linkers' own ends
// are charged to them (linkCost); this keeps what they leave behind after
// they go in proportion to who is still linked.
//
// The zero value is an empty set. Precondition for every method: the
// owner's mu is held.
type linkers struct {
	m    map[*Process]struct{}
	peak int // the most entries m held since it was made
}

// minRebuild is the size below which a set is not worth rebuilding.
const minRebuild = 64

// add adds p, reporting whether it was there already.
func (s *linkers) add(p *Process) (had bool) {
	if s.m == nil {
		s.m = map[*Process]struct{}{}
	}
	_, had = s.m[p]
	s.m[p] = struct{}{}
	s.peak = max(s.peak, len(s.m))
	return had
}

// remove removes p, reporting whether it was there.
func (s *linkers) remove(p *Process) (had bool) {
	if _, had = s.m[p]; !had {
		return false
	}
	delete(s.m, p)
	switch n := len(s.m); {
	case n == 0:
		*s = linkers{}
	case s.peak >= minRebuild && 4*n <= s.peak:
		m := make(map[*Process]struct{}, n)
		for q := range s.m {
			m[q] = struct{}{}
		}
		s.m, s.peak = m, n
	}
	return true
}

// len returns how many processes are linked.
func (s *linkers) len() int { return len(s.m) }

// take empties the set, returning what it held.
func (s *linkers) take() map[*Process]struct{} {
	m := s.m
	*s = linkers{}
	return m
}
