package wasip1

import (
	"io/fs"
	"path"
	"strings"

	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// at resolves a path argument against directory descriptor fd, which
// must have right. It returns the directory and the path in its file
// system, with any trailing slash stripped and reported in slash.
func (s *State) at(mem api.Memory, fd uint64, right uint64, ptr, n uint64) (d *entry, p string, slash bool, errno Errno) {
	if d, errno = s.dir(fd, right); errno != 0 {
		return nil, "", false, errno
	}
	guest, errno := str(mem, uint32(ptr), uint32(n))
	if errno != 0 {
		return nil, "", false, errno
	}
	if p, errno = s.resolve(d, guest); errno != 0 {
		return nil, "", false, errno
	}
	if strings.HasSuffix(p, "/") {
		return d, strings.TrimRight(p, "/"), true, 0
	}
	return d, p, false, 0
}

// mustBeDir is the check a trailing slash asks for: the path, followed,
// names a directory.
func mustBeDir(fsys experimentalsys.FS, p string) Errno {
	st, serr := fsys.Stat(p)
	if serr != 0 {
		return fromSys(serr)
	}
	if !st.Mode.IsDir() {
		return errNotdir
	}
	return 0
}

func pathCreateDirectory(s *State, mem api.Memory, st []uint64) Errno {
	d, p, _, errno := s.at(mem, st[0], rightPathCreateDirectory, st[1], st[2])
	if errno != 0 {
		return errno
	}
	return fromSys(d.fs.Mkdir(p, 0o777))
}

func pathFilestatGet(s *State, mem api.Memory, st []uint64) Errno {
	d, p, slash, errno := s.at(mem, st[0], rightPathFilestatGet, st[2], st[3])
	if errno != 0 {
		return errno
	}
	if uint32(st[1])&^lookupSymlinkFollow != 0 {
		return errInval
	}
	follow := uint32(st[1])&lookupSymlinkFollow != 0 || slash
	var res sys.Stat_t
	var serr experimentalsys.Errno
	if follow {
		res, serr = d.fs.Stat(p)
	} else {
		res, serr = d.fs.Lstat(p)
	}
	if serr != 0 {
		return fromSys(serr)
	}
	if slash && !res.Mode.IsDir() {
		return errNotdir
	}
	return putFilestat(mem, uint32(st[4]), &res)
}

// lutimenser is a file system that can set a symlink's own times.
type lutimenser interface {
	Lutimens(p string, atim, mtim int64) experimentalsys.Errno
}

// pathFilestatSetTimes sets times on the file, or without SYMLINK_FOLLOW
// on a symlink itself, as utimensat(AT_SYMLINK_NOFOLLOW) does.
func pathFilestatSetTimes(s *State, mem api.Memory, st []uint64) Errno {
	d, p, slash, errno := s.at(mem, st[0], rightPathFilestatSetTimes, st[2], st[3])
	if errno != 0 {
		return errno
	}
	if uint32(st[1])&^lookupSymlinkFollow != 0 {
		return errInval
	}
	atim, mtim, errno := s.times(st[4], st[5], uint32(st[6]))
	if errno != 0 {
		return errno
	}
	if slash {
		if errno := mustBeDir(d.fs, p); errno != 0 {
			return errno
		}
	}
	if uint32(st[1])&lookupSymlinkFollow != 0 || slash {
		return fromSys(d.fs.Utimens(p, atim, mtim))
	}
	if l, ok := d.fs.(lutimenser); ok {
		return fromSys(l.Lutimens(p, atim, mtim))
	}
	lst, serr := d.fs.Lstat(p)
	if serr != 0 {
		return fromSys(serr)
	}
	if isSymlink(lst.Mode) {
		return errNotsup
	}
	return fromSys(d.fs.Utimens(p, atim, mtim))
}

// pathLink makes a hard link. With SYMLINK_FOLLOW a symlink at the old
// path is followed (inside the file system) and its target linked, as
// linkat(AT_SYMLINK_FOLLOW) does; without it the link itself is linked.
func pathLink(s *State, mem api.Memory, st []uint64) Errno {
	od, op, oslash, errno := s.at(mem, st[0], rightPathLinkSource, st[2], st[3])
	if errno != 0 {
		return errno
	}
	nd, np, nslash, errno := s.at(mem, st[4], rightPathLinkTarget, st[5], st[6])
	if errno != 0 {
		return errno
	}
	if uint32(st[1])&^lookupSymlinkFollow != 0 {
		return errInval
	}
	if od.fs != nd.fs {
		return errXdev
	}
	if uint32(st[1])&lookupSymlinkFollow != 0 {
		if op, errno = s.followLinks(od.fs, op); errno != 0 {
			return errno
		}
	}
	if oslash || nslash {
		// Hard links to directories are never allowed; a trailing slash
		// names one or fails.
		if errno := mustBeDir(od.fs, op); errno != 0 {
			return errno
		}
		return errPerm
	}
	return fromSys(od.fs.Link(op, np))
}

// followLinks resolves symlinks at the end of p, in fsys. A link that
// leads out of the file system's root is EPERM, as the file system
// itself answers for escapes. Each hop walks p from the root twice (an
// Lstat and a Readlink), and is charged so before it does, as resolve
// charges the first walk: before, a link through 39 links at a depth of
// 1,900 walked 150,000 levels charged as 2 (found in review).
func (s *State) followLinks(fsys experimentalsys.FS, p string) (string, Errno) {
	for range 40 {
		s.chargeWalk(p, 2)
		st, serr := fsys.Lstat(p)
		if serr != 0 {
			return "", fromSys(serr)
		}
		if !isSymlink(st.Mode) {
			return p, 0
		}
		target, serr := fsys.Readlink(p)
		if serr != 0 {
			return "", fromSys(serr)
		}
		if path.IsAbs(target) {
			return "", errPerm
		}
		next := path.Join(path.Dir(p), target)
		if next == ".." || strings.HasPrefix(next, "../") {
			return "", errPerm
		}
		p = next
	}
	return "", errLoop
}

func pathOpen(s *State, mem api.Memory, st []uint64) Errno {
	d, errno := s.get(uint32(st[0]))
	if errno != 0 {
		return errno
	}
	switch d.kind {
	case kindDir:
	case kindFile:
		return errNotdir
	default:
		return errBadf
	}
	dirflags, oflags, base, inh, fdflags := uint32(st[1]), uint32(st[4]), st[5], st[6], uint32(st[7])
	need := rightPathOpen
	if oflags&oflagCreat != 0 {
		need |= rightPathCreateFile
	}
	if errno := d.need(need); errno != 0 {
		return errno
	}
	if dirflags&^lookupSymlinkFollow != 0 || oflags&^0xf != 0 || fdflags&^uint32(fdflagsAll) != 0 {
		return errInval
	}
	// A directory cannot be created, exclusively opened or truncated by
	// path_open: EINVAL, as in wasmtime and Linux.
	if oflags&oflagDirectory != 0 && oflags&(oflagCreat|oflagExcl|oflagTrunc) != 0 {
		return errInval
	}
	guest, errno := str(mem, uint32(st[2]), uint32(st[3]))
	if errno != 0 {
		return errno
	}
	p, errno := s.resolve(d, guest)
	if errno != 0 {
		return errno
	}
	read, write := base&rightFdRead != 0, base&rightFdWrite != 0
	flag := openFlags(read, write, dirflags, oflags, uint16(fdflags))
	if strings.HasSuffix(p, "/") {
		if oflags&oflagCreat != 0 {
			return errIsdir
		}
		p = strings.TrimRight(p, "/")
		flag |= experimentalsys.O_DIRECTORY
	}
	// Every bound is checked before the host opens anything: a guest at
	// one makes no host descriptor, not even for a moment.
	if s.open >= s.maxFiles {
		return errMfile
	}
	if errno := s.take(); errno != 0 {
		return errno
	}
	f, serr := d.fs.OpenFile(p, flag, 0o666)
	if serr != 0 {
		s.untake()
		return fromSys(serr)
	}
	e := &entry{fs: d.fs, file: f, charged: s.files, read: read, write: write, flags: uint16(fdflags)}
	if isDir, _ := f.IsDir(); isDir {
		e.kind, e.name = kindDir, path.Clean(p)
		e.base = base & rightsDir & d.inheriting
		e.inheriting = inh & d.inheriting
	} else {
		e.kind = kindFile
		e.base = base & rightsFile & d.inheriting
		if !read {
			e.base &^= rightFdRead
		}
		if !write {
			e.base &^= rightFdWrite
		}
		e.inheriting = e.base
	}
	fd, errno := s.insert(e)
	if errno != 0 {
		e.close()
		return errno
	}
	return putU32(mem, uint32(st[8]), fd)
}

// openFlags is the file system's open flag for a path_open.
func openFlags(read, write bool, dirflags, oflags uint32, fdflags uint16) experimentalsys.Oflag {
	flag := experimentalsys.O_RDONLY
	switch {
	case read && write:
		flag = experimentalsys.O_RDWR
	case write:
		flag = experimentalsys.O_WRONLY
	}
	for _, m := range []struct {
		on bool
		f  experimentalsys.Oflag
	}{
		{oflags&oflagCreat != 0, experimentalsys.O_CREAT},
		{oflags&oflagDirectory != 0, experimentalsys.O_DIRECTORY},
		{oflags&oflagExcl != 0, experimentalsys.O_EXCL},
		{oflags&oflagTrunc != 0, experimentalsys.O_TRUNC},
		{fdflags&fdflagAppend != 0, experimentalsys.O_APPEND},
		{fdflags&fdflagDsync != 0, experimentalsys.O_DSYNC},
		{fdflags&fdflagRsync != 0, experimentalsys.O_RSYNC},
		{fdflags&fdflagSync != 0, experimentalsys.O_SYNC},
		{dirflags&lookupSymlinkFollow == 0, experimentalsys.O_NOFOLLOW},
	} {
		if m.on {
			flag |= m.f
		}
	}
	return flag
}

// pathReadlink writes the link's text, truncated to the buffer as
// readlink(2) truncates, and how much it wrote.
func pathReadlink(s *State, mem api.Memory, st []uint64) Errno {
	d, p, _, errno := s.at(mem, st[0], rightPathReadlink, st[1], st[2])
	if errno != 0 {
		return errno
	}
	target, serr := d.fs.Readlink(p)
	if serr != 0 {
		return fromSys(serr)
	}
	buf, errno := read(mem, uint32(st[3]), uint32(st[4]))
	if errno != 0 {
		return errno
	}
	n := copy(buf, target)
	return putU32(mem, uint32(st[5]), uint32(n))
}

func pathRemoveDirectory(s *State, mem api.Memory, st []uint64) Errno {
	d, p, _, errno := s.at(mem, st[0], rightPathRemoveDirectory, st[1], st[2])
	if errno != 0 {
		return errno
	}
	return fromSys(d.fs.Rmdir(p))
}

// pathRename renames within one file system; across two it is EXDEV, which
// tells a program to copy instead.
func pathRename(s *State, mem api.Memory, st []uint64) Errno {
	od, op, oslash, errno := s.at(mem, st[0], rightPathRenameSource, st[1], st[2])
	if errno != 0 {
		return errno
	}
	nd, np, nslash, errno := s.at(mem, st[3], rightPathRenameTarget, st[4], st[5])
	if errno != 0 {
		return errno
	}
	if od.fs != nd.fs {
		return errXdev
	}
	if oslash || nslash {
		lst, serr := od.fs.Lstat(op)
		if serr != 0 {
			return fromSys(serr)
		}
		if !lst.Mode.IsDir() {
			return errNotdir
		}
	}
	return fromSys(od.fs.Rename(op, np))
}

func pathSymlink(s *State, mem api.Memory, st []uint64) Errno {
	target, errno := str(mem, uint32(st[0]), uint32(st[1]))
	if errno != 0 {
		return errno
	}
	d, p, slash, errno := s.at(mem, st[2], rightPathSymlink, st[3], st[4])
	if errno != 0 {
		return errno
	}
	if target == "" {
		return errNoent
	}
	if slash {
		// A symlink is never a directory, so the name cannot end in "/".
		if _, serr := d.fs.Lstat(p); serr == 0 {
			return errExist
		}
		return errNoent
	}
	return fromSys(d.fs.Symlink(target, p))
}

func pathUnlinkFile(s *State, mem api.Memory, st []uint64) Errno {
	d, p, slash, errno := s.at(mem, st[0], rightPathUnlinkFile, st[1], st[2])
	if errno != 0 {
		return errno
	}
	if slash {
		lst, serr := d.fs.Lstat(p)
		switch {
		case serr != 0:
			return fromSys(serr)
		case lst.Mode.IsDir():
			return errIsdir
		}
		return errNotdir
	}
	return fromSys(d.fs.Unlink(p))
}

func isSymlink(m fs.FileMode) bool { return m&fs.ModeSymlink != 0 }
