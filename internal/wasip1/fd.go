package wasip1

import (
	"io"
	"io/fs"
	"math"

	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// Descriptor kinds for the checks every fd_ function starts with. An
// operation on the wrong kind is EBADF, except that seeking a stream is
// ESPIPE, as in wasmtime; a kind that allows the operation but a
// descriptor without the right is ENOTCAPABLE.

// file returns fd if it is an open file (not a directory or stream).
func (s *State) file(fd uint64, right uint64) (*entry, Errno) {
	e, errno := s.get(uint32(fd))
	if errno != 0 {
		return nil, errno
	}
	if e.kind != kindFile {
		return nil, errBadf
	}
	return e, e.need(right)
}

// fileOrDir returns fd if it is an open file or directory.
func (s *State) fileOrDir(fd uint64, right uint64) (*entry, Errno) {
	e, errno := s.get(uint32(fd))
	if errno != 0 {
		return nil, errno
	}
	if e.kind != kindFile && e.kind != kindDir {
		return nil, errBadf
	}
	return e, e.need(right)
}

// dir returns fd if it is an open directory.
func (s *State) dir(fd uint64, right uint64) (*entry, Errno) {
	e, errno := s.get(uint32(fd))
	if errno != 0 {
		return nil, errno
	}
	if e.kind != kindDir {
		return nil, errBadf
	}
	return e, e.need(right)
}

func fdAdvise(s *State, _ api.Memory, st []uint64) Errno {
	_, errno := s.file(st[0], rightFdAdvise)
	if errno != 0 {
		return errno
	}
	if uint32(st[3]) > 5 { // normal, sequential, random, willneed, dontneed, noreuse
		return errInval
	}
	return 0 // advice only
}

// fdAllocate makes sure the file has room for [offset, offset+len), as
// posix_fallocate does: a file shorter than that grows, with zeros.
func fdAllocate(s *State, _ api.Memory, st []uint64) Errno {
	e, errno := s.file(st[0], rightFdAllocate)
	if errno != 0 {
		return errno
	}
	if !e.write {
		return errBadf
	}
	off, n := st[1], st[2]
	if off > math.MaxInt64 || n > math.MaxInt64-off {
		return errFbig
	}
	stat, serr := e.file.Stat()
	if serr != 0 {
		return fromSys(serr)
	}
	if end := int64(off + n); end > stat.Size {
		return fromSys(e.file.Truncate(end))
	}
	return 0
}

func fdDatasync(s *State, _ api.Memory, st []uint64) Errno {
	e, errno := s.file(st[0], rightFdDatasync)
	if errno != 0 {
		return errno
	}
	return fromSys(e.file.Datasync())
}

func fdSync(s *State, _ api.Memory, st []uint64) Errno {
	e, errno := s.file(st[0], rightFdSync)
	if errno != 0 {
		return errno
	}
	return fromSys(e.file.Sync())
}

// fdFdstatGet reports the descriptor's type, flags and rights. Rights are
// the descriptor's own: what path_open granted (the requested rights that
// apply to what was opened, less reading or writing if it was not opened
// for them), less what fd_fdstat_set_rights dropped.
func fdFdstatGet(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	var ft uint8
	switch e.kind {
	case kindStdin, kindStdout:
		ft = filetypeUnknown
		if e.term || isTerminal(e.stream) {
			ft = filetypeCharacterDevice
		}
	case kindDir:
		ft = filetypeDirectory
	case kindFile:
		stat, serr := e.file.Stat()
		if serr != 0 {
			return fromSys(serr)
		}
		ft = filetype(stat.Mode)
	}
	b, errno := read(mem, uint32(st[1]), sizeFdstat)
	if errno != 0 {
		return errno
	}
	clear(b)
	b[0] = ft
	put16(b[2:], e.flags)
	put64(b[8:], e.base)
	put64(b[16:], e.inheriting)
	return 0
}

func filetype(m fs.FileMode) uint8 {
	switch {
	case m.IsRegular():
		return filetypeRegularFile
	case m.IsDir():
		return filetypeDirectory
	case m&fs.ModeSymlink != 0:
		return filetypeSymbolicLink
	case m&fs.ModeCharDevice != 0:
		return filetypeCharacterDevice
	case m&fs.ModeDevice != 0:
		return filetypeBlockDevice
	}
	return filetypeUnknown
}

// fdFdstatSetFlags changes APPEND and NONBLOCK. The synchronous flags are
// fixed at open, as in wasmtime: asking for others than the descriptor
// has is EINVAL. Passing the same ones (a program setting NONBLOCK on top
// of what F_GETFL returned) or none (libc's F_SETFL passes only APPEND
// and NONBLOCK) leaves them as they are.
func fdFdstatSetFlags(s *State, _ api.Memory, st []uint64) Errno {
	e, errno := s.file(st[0], rightFdFdstatSetFlags)
	if errno != 0 {
		return errno
	}
	flags := uint16(st[1])
	syncs := flags & fdflagsSyncs
	if uint32(st[1])&^uint32(fdflagsAll) != 0 || (syncs != 0 && syncs != e.flags&fdflagsSyncs) {
		return errInval
	}
	if app := flags&fdflagAppend != 0; app != e.file.IsAppend() {
		if serr := e.file.SetAppend(app); serr != 0 {
			return fromSys(serr)
		}
	}
	e.flags = flags&^fdflagsSyncs | e.flags&fdflagsSyncs
	return 0
}

// fdFdstatSetRights drops rights. Rights never grow back: asking for one
// the descriptor lacks is ENOTCAPABLE.
func fdFdstatSetRights(s *State, _ api.Memory, st []uint64) Errno {
	e, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	base, inh := st[1], st[2]
	if base&^e.base != 0 || inh&^e.inheriting != 0 {
		return errNotcapable
	}
	e.base, e.inheriting = base, inh
	return 0
}

func fdFilestatGet(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	if errno := e.need(rightFdFilestatGet); errno != 0 {
		return errno
	}
	var stat sys.Stat_t
	switch e.kind {
	case kindStdin, kindStdout:
		// Streams have no file behind them that the guest may see.
		stat.Mode = fs.ModeNamedPipe
		if e.term || isTerminal(e.stream) {
			stat.Mode = fs.ModeDevice | fs.ModeCharDevice
		}
	case kindFile:
		var serr experimentalsys.Errno
		if stat, serr = e.file.Stat(); serr != 0 {
			return fromSys(serr)
		}
	case kindDir:
		var serr experimentalsys.Errno
		if e.file != nil {
			stat, serr = e.file.Stat()
		} else {
			stat, serr = e.fs.Stat(e.name)
		}
		if serr != 0 {
			return fromSys(serr)
		}
	}
	return putFilestat(mem, uint32(st[1]), &stat)
}

func putFilestat(mem api.Memory, ptr uint32, st *sys.Stat_t) Errno {
	b, errno := read(mem, ptr, sizeFilestat)
	if errno != 0 {
		return errno
	}
	clear(b)
	put64(b, st.Dev)
	put64(b[8:], st.Ino)
	b[16] = filetype(st.Mode)
	put64(b[24:], st.Nlink)
	put64(b[32:], uint64(st.Size))
	put64(b[40:], uint64(st.Atim))
	put64(b[48:], uint64(st.Mtim))
	put64(b[56:], uint64(st.Ctim))
	return 0
}

func fdFilestatSetSize(s *State, _ api.Memory, st []uint64) Errno {
	e, errno := s.file(st[0], rightFdFilestatSetSize)
	if errno != 0 {
		return errno
	}
	if st[1] > math.MaxInt64 {
		return errFbig
	}
	return fromSys(e.file.Truncate(int64(st[1])))
}

func fdFilestatSetTimes(s *State, _ api.Memory, st []uint64) Errno {
	e, errno := s.fileOrDir(st[0], rightFdFilestatSetTimes)
	if errno != 0 {
		return errno
	}
	atim, mtim, errno := s.times(st[1], st[2], uint32(st[3]))
	if errno != 0 {
		return errno
	}
	f := e.file
	if e.kind == kindDir {
		if f, errno = s.dirFile(e); errno != 0 {
			return errno
		}
	}
	return fromSys(f.Utimens(atim, mtim))
}

// times turns fst_flags into the two timestamps to set. "Now" is the
// guest's own clock, so a virtual clock stays virtual on disk too.
func (s *State) times(atim, mtim uint64, flags uint32) (int64, int64, Errno) {
	if flags&^uint32(fstAtim|fstAtimNow|fstMtim|fstMtimNow) != 0 ||
		flags&(fstAtim|fstAtimNow) == fstAtim|fstAtimNow ||
		flags&(fstMtim|fstMtimNow) == fstMtim|fstMtimNow {
		return 0, 0, errInval
	}
	one := func(v uint64, set, now uint32) (int64, Errno) {
		switch {
		case flags&set != 0:
			if v > math.MaxInt64 {
				return 0, errInval
			}
			return int64(v), 0
		case flags&now != 0:
			return s.clock.Now(clockRealtime), 0
		}
		return experimentalsys.UTIME_OMIT, 0
	}
	a, errno := one(atim, fstAtim, fstAtimNow)
	if errno != 0 {
		return 0, 0, errno
	}
	m, errno := one(mtim, fstMtim, fstMtimNow)
	return a, m, errno
}

// Reads and writes.

func fdRead(s *State, mem api.Memory, st []uint64) Errno {
	return s.readv(mem, st[0], uint32(st[1]), uint32(st[2]), -1, uint32(st[3]))
}

func fdPread(s *State, mem api.Memory, st []uint64) Errno {
	if st[3] > math.MaxInt64 {
		return errInval
	}
	return s.readv(mem, st[0], uint32(st[1]), uint32(st[2]), int64(st[3]), uint32(st[4]))
}

// readv reads into the iovecs, at the file's offset (at < 0) or at at.
func (s *State) readv(mem api.Memory, fd uint64, iovs, n uint32, at int64, result uint32) Errno {
	e, errno := s.get(uint32(fd))
	if errno != 0 {
		return errno
	}
	switch {
	case e.kind == kindStdin && at >= 0:
		return errSpipe
	case e.kind == kindStdin:
	case e.kind != kindFile || !e.read:
		return errBadf
	}
	need := rightFdRead
	if at >= 0 {
		need |= rightFdSeek
	}
	if errno := e.need(need); errno != 0 {
		return errno
	}
	bufs, errno := readIovecs(mem, iovs, n)
	if errno != 0 {
		return errno
	}
	total := 0
	for i := range bufs.len() {
		b, _ := bufs.at(i)
		if len(b) == 0 {
			continue
		}
		var got int
		var serr experimentalsys.Errno
		switch {
		case e.kind == kindStdin:
			if i > 0 && !e.in.ready() {
				return putU32(mem, result, uint32(total)) // never block for more
			}
			got, errno = s.readStdin(e.in, b)
		case at >= 0:
			got, serr = e.file.Pread(b, at+int64(total))
			errno = fromSys(serr)
		default:
			got, serr = e.file.Read(b)
			errno = fromSys(serr)
		}
		total += got
		if errno != 0 {
			if total > 0 {
				break
			}
			return errno
		}
		if got < len(b) {
			break
		}
	}
	s.host.ChargeBytes(total)
	return putU32(mem, result, uint32(total))
}

func fdWrite(s *State, mem api.Memory, st []uint64) Errno {
	return s.writev(mem, st[0], uint32(st[1]), uint32(st[2]), -1, uint32(st[3]))
}

func fdPwrite(s *State, mem api.Memory, st []uint64) Errno {
	if st[3] > math.MaxInt64 {
		return errInval
	}
	return s.writev(mem, st[0], uint32(st[1]), uint32(st[2]), int64(st[3]), uint32(st[4]))
}

// writev writes the iovecs in order, at the file's offset (at < 0) or at
// at. A write to a file opened with APPEND appends, even with an offset,
// as on Linux.
func (s *State) writev(mem api.Memory, fd uint64, iovs, n uint32, at int64, result uint32) Errno {
	e, errno := s.get(uint32(fd))
	if errno != 0 {
		return errno
	}
	switch {
	case e.kind == kindStdout && at >= 0:
		return errSpipe
	case e.kind == kindStdout:
	case e.kind != kindFile || !e.write:
		return errBadf
	}
	need := rightFdWrite
	if at >= 0 {
		need |= rightFdSeek
	}
	if errno := e.need(need); errno != 0 {
		return errno
	}
	bufs, errno := readIovecs(mem, iovs, n)
	if errno != 0 {
		return errno
	}
	total := 0
	for i := range bufs.len() {
		b, _ := bufs.at(i)
		if len(b) == 0 {
			continue
		}
		var put int
		var serr experimentalsys.Errno
		switch {
		case e.kind == kindStdout:
			if e.tap != nil {
				e.tap(b)
			}
			put, errno = s.writeOut(e.out, b)
		case at >= 0:
			put, serr = e.file.Pwrite(b, at+int64(total))
			errno = fromSys(serr)
		default:
			put, serr = e.file.Write(b)
			errno = fromSys(serr)
		}
		total += put
		if errno != 0 {
			if total > 0 {
				break
			}
			return errno
		}
		if put < len(b) {
			break
		}
	}
	s.host.ChargeBytes(total)
	return putU32(mem, result, uint32(total))
}

// fdSeek moves the offset. A stream is ESPIPE, a directory EBADF.
func fdSeek(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	switch e.kind {
	case kindStdin, kindStdout:
		return errSpipe
	case kindDir:
		return errBadf
	}
	off, whence := int64(st[1]), uint32(st[2])
	// FD_SEEK implies FD_TELL, and FD_TELL allows a seek that does not
	// move.
	if e.base&rightFdSeek == 0 && (off != 0 || whence != io.SeekCurrent || e.base&rightFdTell == 0) {
		return errNotcapable
	}
	if whence > io.SeekEnd {
		return errInval
	}
	pos, serr := e.file.Seek(off, int(whence))
	if serr != 0 {
		return fromSys(serr)
	}
	return putU64(mem, uint32(st[3]), uint64(pos))
}

func fdTell(s *State, mem api.Memory, st []uint64) Errno {
	e, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	switch e.kind {
	case kindStdin, kindStdout:
		return errSpipe
	case kindDir:
		return errBadf
	}
	if e.base&(rightFdTell|rightFdSeek) == 0 {
		return errNotcapable
	}
	pos, serr := e.file.Seek(0, io.SeekCurrent)
	if serr != 0 {
		return fromSys(serr)
	}
	return putU64(mem, uint32(st[1]), uint64(pos))
}
