package wasip1

import (
	"io"

	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// The costs of listing a directory. Reading an entry is a getdents share
// and an fstatat (os.File.Readdir stats each one): 3.4 µs on the 2-core
// test machine, where compiled C spends 13 to 20 fuel a nanosecond (see
// polite.Slice). Before, a listing cost its bytes alone, and a guest
// rereading a directory of 100,000 entries spent 20.6 s of the host's CPU
// on 54,000 fuel (found in review).
const (
	// readdirEntryFuel is charged for each entry read from the host.
	readdirEntryFuel = 1 << 16
	// readdirBatch is how many entries are read from the host at a time,
	// and so the most a descriptor keeps between calls: a listing is never
	// held whole, whatever the directory's size or the guest's buffer.
	readdirBatch = 32
	// listingMemory is charged to the process's memory from a
	// descriptor's first listing until it is closed: the batch (32 names
	// of up to 255 bytes, and their entries) and the 8 KiB buffer Go's
	// os.File keeps for reading a directory. 400 listed descriptors held
	// 4.4 MiB of the host's heap, 11 KiB each, with 20-byte names.
	listingMemory = 20 << 10
)

// listing is where a directory descriptor is in its listing. Entry i's
// cookie is i; "." and ".." are 0 and 1, as in wasmtime. The host's
// directory stream is read forward in batches: a cookie behind the
// stream rewinds it and reads forward again, so cookies are stable while
// the directory does not change, and each entry read is charged.
type listing struct {
	next    uint64                   // the cookie of pending[0]
	pending []experimentalsys.Dirent // read from the host, not yet passed
	self    experimentalsys.Dirent   // the directory itself, for . and ..
	dots    int                      // of ".", ".." still to pass at rewind
	end     bool                     // the stream is at its end
	host    Host                     // charged listingMemory until entry.close
}

// fdReaddir lists a directory from cookie on. Entry i's d_next is i+1.
// The last entry may be cut short by the buffer, as the specification
// says: a buffer returned full means there may be more, and the guest
// asks again from that entry's cookie.
func fdReaddir(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.dir(st[0], rightFdReaddir)
	if errno != 0 {
		return errno
	}
	buf, errno := read(mem, uint32(st[1]), uint32(st[2]))
	if errno != 0 {
		return errno
	}
	if errno := s.seekListing(e, st[3]); errno != 0 {
		return errno
	}
	l := e.listing
	used := 0
	for used < len(buf) {
		d, errno := s.peekEntry(e)
		if errno != 0 {
			return errno
		}
		if d == nil {
			break
		}
		var head [sizeDirent]byte
		put64(head[0:], l.next+1)
		put64(head[8:], d.Ino)
		put32(head[16:], uint32(len(d.Name)))
		head[20] = filetype(d.Type)
		n := copy(buf[used:], head[:])
		n += copy(buf[used+n:], d.Name)
		used += n
		if n < sizeDirent+len(d.Name) {
			break // cut short: the guest asks for it again
		}
		l.pop()
	}
	s.host.ChargeBytes(used)
	return putU32(mem, uint32(st[4]), uint32(used))
}

// seekListing moves e's listing to cookie: forward by reading and
// dropping entries, backward by rewinding the host's stream first.
func (s *State) seekListing(e *entry, cookie uint64) Errno {
	if e.listing == nil || cookie < e.listing.next {
		if errno := s.rewind(e); errno != 0 {
			return errno
		}
	}
	l := e.listing
	for l.next < cookie {
		d, errno := s.peekEntry(e)
		if errno != 0 {
			return errno
		}
		if d == nil {
			l.next = cookie // past the end: nothing to list
			return 0
		}
		l.pop()
	}
	return 0
}

// rewind starts e's listing over from cookie 0.
func (s *State) rewind(e *entry) Errno {
	f, errno := s.dirFile(e)
	if errno != 0 {
		return errno
	}
	if _, serr := f.Seek(0, io.SeekStart); serr != 0 {
		return fromSys(serr)
	}
	st, serr := f.Stat()
	if serr != 0 {
		return fromSys(serr)
	}
	s.host.ChargeWork(readdirEntryFuel)
	if e.listing == nil {
		if err := s.host.ChargeHost(listingMemory); err != nil {
			return errNomem
		}
		e.listing = new(listing)
	}
	*e.listing = listing{self: experimentalsys.Dirent{Ino: st.Ino, Type: st.Mode.Type()}, dots: 2, host: s.host}
	return 0
}

// peekEntry returns the entry at e's cookie without passing it, reading
// a batch from the host if none is pending; nil at the end.
// Precondition: e.listing is set.
func (s *State) peekEntry(e *entry) (*experimentalsys.Dirent, Errno) {
	l := e.listing
	if l.dots > 0 {
		d := l.self
		d.Name = [...]string{"..", "."}[l.dots-1]
		l.pending = append(l.pending[:0], d)
	}
	if len(l.pending) == 0 && !l.end {
		// Every batch is a point where a kill lands and the fuel its
		// reads were charged is paid for: a guest skipping to a far cookie
		// reads the whole directory in one call, and before, one call over
		// 100,000 entries on 1M fuel spent 6,554 times that (found in
		// review).
		s.host.CheckKilled()
		s.host.CheckFuel()
		ents, serr := e.file.Readdir(readdirBatch)
		if serr != 0 {
			return nil, fromSys(serr)
		}
		s.host.ChargeWork(int64(len(ents)) * readdirEntryFuel)
		l.pending, l.end = ents, len(ents) == 0
	}
	if len(l.pending) == 0 {
		return nil, 0
	}
	return &l.pending[0], 0
}

// pop passes the entry peekEntry returned.
func (l *listing) pop() {
	if l.dots > 0 {
		l.dots--
	}
	l.pending = l.pending[1:]
	l.next++
}
