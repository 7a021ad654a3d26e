//go:build linux

package capfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// A stat of a path with no symlink and no ".." on the way to its last
// name is resolved by the kernel in one openat2 call beneath the
// capability's root, instead of os.Root's openat a level: a stat 16
// levels deep cost 71 µs against bare wazero's 4.7. RESOLVE_NO_SYMLINKS
// makes the kernel refuse a symlink on the way (ELOOP) and RESOLVE_BENEATH
// any step out of the root; either, or a kernel without openat2, sends the
// call to os.Root, which resolves such paths as it always has.

// beneath is what an FS and its narrowed views share for that: the root
// directory, opened on first use.
type beneath struct {
	mu  sync.Mutex // guards dir and off
	dir *os.File   // the root directory, or nil before first use
	off bool       // openat2 is missing here, or the FS is closed: os.Root does it all
}

// root returns the open root directory, or nil if the fast path is off.
func (b *beneath) root(r *os.Root) *os.File {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir == nil && !b.off {
		d, err := r.Open(".")
		if err != nil {
			return nil // out of descriptors for now, say: the next call tries again
		}
		b.dir = d
	}
	return b.dir
}

// disable turns the fast path off for good, as openat2 is missing.
func (b *beneath) disable() {
	b.mu.Lock()
	b.off = true
	b.mu.Unlock()
}

// close closes the root directory, if it was opened. Calls still using
// it fail with EBADF, as os.Root's do once closed.
func (b *beneath) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != nil {
		_ = b.dir.Close()
	}
	b.off = true
}

// plainPath reports whether name (from rel) can take the fast path: clean,
// with no "..", so that only symlinks could lead it anywhere else.
func plainPath(name string) bool {
	if name != path.Clean(name) || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	return name != ".." && !strings.HasPrefix(name, "../") && !strings.Contains(name, "/../") && !strings.HasSuffix(name, "/..")
}

// statBeneath stats name (from rel) through openat2, following a final
// symlink if follow. ok is false where the fast path does not answer and
// os.Root must: a symlink on the way or at the end, or anything else the
// kernel would not say of the same path through os.Root.
func (f *FS) statBeneath(name string, follow bool) (st sys.Stat_t, errno experimentalsys.Errno, ok bool) {
	if !plainPath(name) {
		return st, 0, false
	}
	d := f.fast.root(f.root)
	if d == nil {
		return st, 0, false
	}
	dir, base := path.Split(name)
	var raw unix.Stat_t
	var err error
	cerr := control(d, func(rootfd int) error {
		parent := rootfd
		if dir != "" {
			parent, err = unix.Openat2(rootfd, strings.TrimSuffix(dir, "/"), &unix.OpenHow{
				Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
			})
			if err != nil {
				return nil
			}
			defer unix.Close(parent)
		}
		err = unix.Fstatat(parent, base, &raw, unix.AT_SYMLINK_NOFOLLOW)
		return nil
	})
	if cerr != 0 {
		return st, 0, false
	}
	var e syscall.Errno
	switch {
	case err == nil:
	case errors.As(err, &e) && (e == syscall.ENOENT || e == syscall.ENOTDIR):
		return st, fromSyscall(e), true
	case errors.Is(err, syscall.ENOSYS):
		f.fast.disable()
		return st, 0, false
	default: // ELOOP for a symlink on the way, EACCES, EXDEV, EAGAIN...
		return st, 0, false
	}
	if follow && raw.Mode&unix.S_IFMT == unix.S_IFLNK {
		return st, 0, false
	}
	return statOf(&raw), 0, true
}

// openBeneath opens name (from rel) with the host's flags as os.Root
// would, through openat2 where the path is plain; any refusal or failure
// there, a symlink on the way or at the end among them, leaves the open to
// os.Root, which answers it as before.
func (f *FS) openBeneath(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if !plainPath(name) {
		return f.root.OpenFile(name, flag, perm)
	}
	d := f.fast.root(f.root)
	if d == nil {
		return f.root.OpenFile(name, flag, perm)
	}
	how := unix.OpenHow{
		Flags:   uint64(flag) | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flag&os.O_CREATE != 0 {
		how.Mode = uint64(perm & fs.ModePerm)
	}
	fd, err := -1, error(nil)
	if control(d, func(rootfd int) error {
		fd, err = unix.Openat2(rootfd, name, &how)
		return nil
	}) != 0 || err != nil {
		if errors.Is(err, syscall.ENOSYS) {
			f.fast.disable()
		}
		return f.root.OpenFile(name, flag, perm)
	}
	return os.NewFile(uintptr(fd), path.Join(f.root.Name(), name)), nil
}

// statOf is sys.NewStat_t of what os.Lstat would return for raw.
func statOf(raw *unix.Stat_t) sys.Stat_t {
	return sys.Stat_t{
		Dev:   raw.Dev,
		Ino:   sys.Inode(raw.Ino),
		Mode:  fileMode(raw.Mode),
		Nlink: uint64(raw.Nlink),
		Size:  raw.Size,
		Atim:  raw.Atim.Nano(),
		Mtim:  raw.Mtim.Nano(),
		Ctim:  raw.Ctim.Nano(),
	}
}

// fileMode is the fs.FileMode Go's os package gives a host mode.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
