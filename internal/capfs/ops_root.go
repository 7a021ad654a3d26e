package capfs

import (
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// The operations on a name through os.Root, which resolves it: on every
// platform but Linux (ops_other.go), and on Linux as the reference the
// tests hold the walk to. os.Root follows symlinks inside the root out of
// a Charger's sight.

// statRoot is Stat (follow) or Lstat of name.
func (f *FS) statRoot(name string, follow bool) (sys.Stat_t, experimentalsys.Errno) {
	stat := f.root.Lstat
	if follow {
		stat = f.root.Stat
	}
	fi, err := stat(name)
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// openRoot opens name with the host's flags. os.Root always follows a
// final symlink, so O_NOFOLLOW is enforced here: refuse a link seen
// first, and after the open anything swapped in meanwhile.
func (f *FS) openRoot(name string, oflag experimentalsys.Oflag, perm fs.FileMode) (*os.File, experimentalsys.Errno) {
	flag, nofollow := osFlag(oflag), oflag&experimentalsys.O_NOFOLLOW != 0
	var before *sys.Stat_t
	if nofollow {
		st, errno := f.statRoot(name, false)
		switch {
		case errno == 0 && st.Mode&fs.ModeSymlink != 0:
			if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
				return nil, experimentalsys.EEXIST
			}
			return nil, experimentalsys.ELOOP
		case errno == 0:
			before = &st
		case errno != experimentalsys.ENOENT:
			return nil, errno
		}
	}
	if st, errno := f.statRoot(name, true); errno == 0 && special(st.Mode) {
		return nil, experimentalsys.EACCES
	}
	file, err := f.root.OpenFile(name, flag, perm)
	if err != nil {
		return nil, toErrno(err)
	}
	if nofollow {
		st, err := file.Stat()
		if err != nil {
			_ = file.Close()
			return nil, toErrno(err)
		}
		if !f.sameAsNamed(name, before, st) {
			_ = file.Close()
			return nil, experimentalsys.ELOOP // replaced, likely by a symlink
		}
	}
	return file, 0
}

// sameAsNamed reports whether the opened file st is what the name saw
// before the open, or (created during it) what the name names now.
func (f *FS) sameAsNamed(name string, before *sys.Stat_t, st fs.FileInfo) bool {
	if before != nil {
		return sameFile(*before, st)
	}
	now, errno := f.statRoot(name, false)
	return errno == 0 && now.Mode&fs.ModeSymlink == 0 && sameFile(now, st)
}

// sameFile reports whether a and b are the same file, as os.SameFile.
func sameFile(a sys.Stat_t, b fs.FileInfo) bool {
	sb := sys.NewStat_t(b)
	return a.Dev == sb.Dev && a.Ino == sb.Ino
}

// mkdirRoot makes the directory name.
func (f *FS) mkdirRoot(name string, perm fs.FileMode) experimentalsys.Errno {
	return toErrno(f.root.Mkdir(name, perm&fs.ModePerm))
}

// chmodRoot sets name's permission bits. It may act on a symlink swapped
// in for the file during the call (see os.Root's documentation).
func (f *FS) chmodRoot(name string, perm fs.FileMode) experimentalsys.Errno {
	return toErrno(f.root.Chmod(name, perm&fs.ModePerm))
}

// utimensRoot sets name's times; on a symlink at the end, the link's own
// (follow false) or its target's.
func (f *FS) utimensRoot(name string, atim, mtim int64, follow bool) experimentalsys.Errno {
	if follow {
		return toErrno(f.root.Chtimes(name, toTime(atim), toTime(mtim)))
	}
	name = path.Clean(name)
	parent, base := path.Split(name)
	if base == "." || base == ".." || base == "" {
		return f.utimensRoot(name, atim, mtim, true) // a directory, never a link
	}
	if parent == "" {
		parent = "."
	}
	d, err := f.root.Open(parent)
	if err != nil {
		return toErrno(err)
	}
	defer d.Close()
	return lutimensat(d, base, atim, mtim)
}

// toTime converts wazero's nanoseconds; os.Root.Chtimes leaves a time
// unchanged when given the zero time.Time, which is UTIME_OMIT.
func toTime(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// removeRoot removes the file (or with dir, the empty directory) name.
// os.Root has only Remove, which takes both; a swap between the look and
// the remove can only affect entries inside the root.
func (f *FS) removeRoot(name string, dir bool) experimentalsys.Errno {
	fi, err := f.root.Lstat(name)
	if err != nil {
		return toErrno(err)
	}
	if dir && !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	if !dir && fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return toErrno(f.root.Remove(name))
}

// renameRoot renames from to to, as rename(2). os.Root.Rename answers
// EEXIST whenever the destination is a directory; POSIX (and wazero's
// contract) distinguish the cases, and replace an empty one.
func (f *FS) renameRoot(from, to string) experimentalsys.Errno {
	if dst, err := f.root.Lstat(to); err == nil && dst.IsDir() {
		src, err := f.root.Lstat(from)
		if err != nil {
			return toErrno(err)
		}
		if os.SameFile(src, dst) {
			return 0
		}
		if !src.IsDir() {
			return experimentalsys.EISDIR
		}
		if inside(to, from) {
			return experimentalsys.EINVAL // a directory into itself
		}
		// Not atomic, but both steps stay inside the root.
		if err := f.root.Remove(to); err != nil {
			return toErrno(err)
		}
	}
	return toErrno(f.root.Rename(from, to))
}

// inside reports whether name is lexically below dir.
func inside(name, dir string) bool {
	name, dir = path.Clean(name), path.Clean(dir)
	return dir == "." || strings.HasPrefix(name, dir+"/")
}

// linkRoot gives the file oldName the new name newName.
func (f *FS) linkRoot(oldName, newName string) experimentalsys.Errno {
	return toErrno(f.root.Link(oldName, newName))
}

// symlinkRoot makes name a symlink to target.
func (f *FS) symlinkRoot(target, name string) experimentalsys.Errno {
	return toErrno(f.root.Symlink(target, name))
}

// readlinkRoot reads the symlink name.
func (f *FS) readlinkRoot(name string) (string, experimentalsys.Errno) {
	dst, err := f.root.Readlink(name)
	if err != nil {
		return "", toErrno(err)
	}
	return dst, 0
}
