package wasip1

import "github.com/tetratelabs/wazero/api"

// The descriptor table: closing, renumbering and preopens.

func fdClose(s *State, _ api.Memory, st []uint64) Errno {
	if _, errno := s.get(uint32(st[0])); errno != 0 {
		return errno
	}
	return s.remove(uint32(st[0])).close()
}

// Preopens.

func fdPrestatGet(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	if e.preopen == "" {
		return errBadf
	}
	b, errno := read(mem, uint32(st[1]), 8)
	if errno != 0 {
		return errno
	}
	clear(b)
	put32(b[4:], uint32(len(e.preopen)))
	return 0
}

// fdPrestatDirName writes the preopen's name, without a NUL, into a
// buffer at least that long: a shorter one is ENAMETOOLONG. Any other
// open descriptor is ENOTDIR, as in wasmtime.
func fdPrestatDirName(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	if e.preopen == "" {
		return errNotdir
	}
	if uint32(st[2]) < uint32(len(e.preopen)) {
		return errNametoolong
	}
	if mem == nil || !mem.WriteString(uint32(st[1]), e.preopen) {
		return errFault
	}
	return 0
}

// fdRenumber moves fd onto to, closing what to was. Both must be open;
// any descriptor may move, preopens and standard streams included, and
// renumbering a descriptor onto itself does nothing.
func fdRenumber(s *State, _ api.Memory, st []uint64) Errno {
	from, to := uint32(st[0]), uint32(st[1])
	if _, errno := s.get(from); errno != 0 {
		return errno
	}
	if _, errno := s.get(to); errno != 0 {
		return errno
	}
	if from == to {
		return 0
	}
	old := s.remove(to)
	e := s.remove(from)
	for uint32(len(s.fds)) <= to {
		s.fds = append(s.fds, nil)
	}
	s.fds[to] = e
	s.open++
	old.close()
	return 0
}
