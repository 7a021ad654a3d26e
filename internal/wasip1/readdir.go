package wasip1

import (
	"io"

	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// fdReaddir lists a directory from cookie on. Entry i's d_next is i+1;
// "." and ".." come first, as in wasmtime. The listing is read whole at
// cookie 0 and served from memory after that, so cookies stay stable
// while the guest pages through it. The last entry may be cut short by
// the buffer, as the specification says: a buffer returned full means
// there may be more.
func fdReaddir(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.dir(st[0], rightFdReaddir)
	if errno != 0 {
		return errno
	}
	buf, errno := read(mem, uint32(st[1]), uint32(st[2]))
	if errno != 0 {
		return errno
	}
	cookie := st[3]
	if cookie == 0 || e.dirents == nil {
		if errno := s.list(e); errno != 0 {
			return errno
		}
	}
	used := 0
	for i := cookie; i < uint64(len(e.dirents)) && used < len(buf); i++ {
		d := &e.dirents[i]
		var head [sizeDirent]byte
		put64(head[0:], i+1)
		put64(head[8:], d.Ino)
		put32(head[16:], uint32(len(d.Name)))
		head[20] = filetype(d.Type)
		used += copy(buf[used:], head[:])
		used += copy(buf[used:], d.Name)
	}
	s.host.ChargeBytes(used)
	return putU32(mem, uint32(st[4]), uint32(used))
}

// list reads directory e afresh.
func (s *State) list(e *entry) Errno {
	f, errno := s.dirFile(e)
	if errno != 0 {
		return errno
	}
	if _, serr := f.Seek(0, io.SeekStart); serr != 0 {
		return fromSys(serr)
	}
	ents, serr := f.Readdir(-1)
	if serr != 0 {
		return fromSys(serr)
	}
	st, serr := f.Stat()
	if serr != 0 {
		return fromSys(serr)
	}
	self := experimentalsys.Dirent{Ino: st.Ino, Type: st.Mode.Type()}
	dot, dotdot := self, self
	dot.Name, dotdot.Name = ".", ".."
	e.dirents = append(append(make([]experimentalsys.Dirent, 0, len(ents)+2), dot, dotdot), ents...)
	return 0
}
