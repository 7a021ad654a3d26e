//go:build linux

package capfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strconv"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// The operations on a name, each done by the *at system call on the
// directory that at resolved, on the last name alone. None lets the
// kernel follow a symlink: one that must be followed is errFollow, and
// at walks on to its target. An FS with no root directory (fast nil) is
// the tests' reference, which they hold the walk to: os.Root resolves
// its names (ops_root.go).

// statAt is Stat (follow) or Lstat of name.
func (f *FS) statAt(name string, follow bool) (sys.Stat_t, experimentalsys.Errno) {
	if f.fast == nil {
		return f.statRoot(name, follow) // the tests' reference
	}
	var raw unix.Stat_t
	err := f.at(name, func(dir int, base string) error {
		if err := unix.Fstatat(dir, base, &raw, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if follow && raw.Mode&unix.S_IFMT == unix.S_IFLNK {
			return errFollow
		}
		return nil
	})
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return statOf(&raw), 0
}

// openAt opens name with the host's flags. A special file is refused
// before it is opened, as opening one can block or act. The open itself
// never follows a symlink: the kernel answers ELOOP, or EEXIST and the
// like first, and without O_NOFOLLOW the walk goes on to the target.
func (f *FS) openAt(name string, oflag experimentalsys.Oflag, perm fs.FileMode) (*os.File, experimentalsys.Errno) {
	if f.fast == nil {
		return f.openRoot(name, oflag, perm) // the tests' reference
	}
	flag := osFlag(oflag)
	fd := -1
	err := f.at(name, func(dir int, base string) error {
		var st unix.Stat_t
		switch err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
		case err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK && flag&unix.O_NOFOLLOW != 0:
			if flag&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
				return syscall.EEXIST
			}
			return syscall.ELOOP // whatever else the flags say, as elsewhere
		case err == nil && special(fileMode(st.Mode)):
			return syscall.EACCES
		case err != nil && !errors.Is(err, syscall.ENOENT):
			return err
		}
		// Non-blocking, so that a FIFO swapped in since the look cannot
		// block the open where no kill reaches; checkOpened refuses it.
		var err error
		fd, err = unix.Openat(dir, base, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, uint32(perm&fs.ModePerm))
		if err == nil && flag&unix.O_NONBLOCK == 0 {
			if _, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flag); err != nil {
				_ = unix.Close(fd)
				fd = -1
			}
		}
		if errors.Is(err, syscall.ENOTDIR) && flag&unix.O_DIRECTORY != 0 && isLink(dir, base) == errFollow {
			err = syscall.ELOOP // O_DIRECTORY|O_NOFOLLOW of a symlink
		}
		if errors.Is(err, syscall.ELOOP) && flag&unix.O_NOFOLLOW == 0 {
			return errFollow // a symlink, which the kernel was not to follow
		}
		return err
	})
	if err != nil {
		return nil, toErrno(err)
	}
	return os.NewFile(uintptr(fd), path.Join(f.root.Name(), name)), 0
}

// mkdirAt makes the directory name.
func (f *FS) mkdirAt(name string, perm fs.FileMode) experimentalsys.Errno {
	if f.fast == nil {
		return f.mkdirRoot(name, perm) // the tests' reference
	}
	return toErrno(f.atSlash(name, func(dir int, base string) error {
		return unix.Mkdirat(dir, base, uint32(perm&fs.ModePerm))
	}))
}

// chmodAt sets name's permission bits, following a symlink at the end.
// fchmodat2 (Linux 6.6) refuses to act on a symlink; where it refuses, or
// is missing or filtered, the file is opened O_PATH|O_NOFOLLOW, a link is
// followed by the walk, and anything else is changed through
// /proc/self/fd, as Go's os.Root does: never through a name the kernel
// would follow.
func (f *FS) chmodAt(name string, perm fs.FileMode) experimentalsys.Errno {
	if f.fast == nil {
		return f.chmodRoot(name, perm) // the tests' reference
	}
	mode := uint32(perm & fs.ModePerm)
	return toErrno(f.at(name, func(dir int, base string) error {
		// EPERM may be a seccomp filter's answer to fchmodat2 (Docker's
		// default profile before 20.10): where it is a real refusal, the
		// change below answers the same.
		err := unix.Fchmodat(dir, base, mode, unix.AT_SYMLINK_NOFOLLOW)
		if !errors.Is(err, syscall.EOPNOTSUPP) && !refused(err) {
			return err
		}
		fd, err := unix.Openat(dir, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return errFollow
		}
		err = unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), mode, 0)
		if errors.Is(err, syscall.ENOENT) {
			return syscall.EOPNOTSUPP // no /proc
		}
		return err
	}))
}

// isLink is errFollow if base in dir is a symlink, and a failure to
// look at it.
func isLink(dir int, base string) error {
	t, err := typeOf(dir, base)
	if err == nil && t == unix.S_IFLNK {
		return errFollow
	}
	return err
}

// utimensAt sets name's times; on a symlink at the end, the link's own
// (follow false) or its target's.
func (f *FS) utimensAt(name string, atim, mtim int64, follow bool) experimentalsys.Errno {
	if f.fast == nil {
		return f.utimensRoot(name, atim, mtim, follow) // the tests' reference
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		_, errno := f.statAt(name, follow) // changes nothing, but must find its file
		return errno
	}
	ts := []unix.Timespec{unix.Timespec(toTimespec(atim)), unix.Timespec(toTimespec(mtim))}
	return toErrno(f.at(name, func(dir int, base string) error {
		if follow {
			if err := isLink(dir, base); err != nil {
				return err
			}
		}
		// Never through a link: one swapped in is touched itself.
		return unix.UtimesNanoAt(dir, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

// removeAt removes the file (or with dir, the empty directory) name.
func (f *FS) removeAt(name string, dir bool) experimentalsys.Errno {
	if f.fast == nil {
		return f.removeRoot(name, dir) // the tests' reference
	}
	flag := 0
	if dir {
		flag = unix.AT_REMOVEDIR
	}
	return toErrno(f.atSlash(name, func(d int, base string) error {
		return unix.Unlinkat(d, base, flag)
	}))
}

// renameAt renames from to to, as rename(2): an empty directory or a
// file at to is replaced.
func (f *FS) renameAt(from, to string) experimentalsys.Errno {
	if f.fast == nil {
		return f.renameRoot(from, to) // the tests' reference
	}
	return toErrno(f.atSlash(from, func(fromDir int, fromBase string) error {
		return f.atSlash(to, func(toDir int, toBase string) error {
			switch {
			case fromBase == ".":
				return syscall.EINVAL // POSIX's answer; Linux's EBUSY has no errno in wazero's set
			case toBase == ".":
				return renameDot(fromDir, fromBase)
			}
			return unix.Renameat(fromDir, fromBase, toDir, toBase)
		})
	}))
}

// renameDot is the answer to a rename onto a directory named ".":
// EISDIR for a file, EINVAL for a directory, as rename answers a
// directory moved onto its own parent.
func renameDot(fromDir int, fromBase string) error {
	switch t, err := typeOf(fromDir, fromBase); {
	case err != nil:
		return err
	case t != unix.S_IFDIR:
		return syscall.EISDIR
	}
	return syscall.EINVAL
}

// linkAt gives the file oldName (never following a symlink there) the
// new name newName.
func (f *FS) linkAt(oldName, newName string) experimentalsys.Errno {
	if f.fast == nil {
		return f.linkRoot(oldName, newName) // the tests' reference
	}
	return toErrno(f.at(oldName, func(oldDir int, oldBase string) error {
		return f.atSlash(newName, func(newDir int, newBase string) error {
			return unix.Linkat(oldDir, oldBase, newDir, newBase, 0)
		})
	}))
}

// symlinkAt makes name a symlink to target.
func (f *FS) symlinkAt(target, name string) experimentalsys.Errno {
	if f.fast == nil {
		return f.symlinkRoot(target, name) // the tests' reference
	}
	return toErrno(f.atSlash(name, func(dir int, base string) error {
		return unix.Symlinkat(target, dir, base)
	}))
}

// readlinkAt reads the symlink name.
func (f *FS) readlinkAt(name string) (string, experimentalsys.Errno) {
	if f.fast == nil {
		return f.readlinkRoot(name) // the tests' reference
	}
	var target string
	err := f.at(name, func(dir int, base string) (err error) {
		target, err = readLink(dir, base)
		return err
	})
	return target, toErrno(err)
}
