// Package dirs makes directory capabilities that arrive at run time usable
// through ordinary WASI file calls.
//
// WASI preview 1 fixes a process's preopened directories when it starts.
// So every process that uses WASI and can hold a directory handle (one
// was granted, or it can receive handles in messages: see
// kernel.Kernel.mayHoldDirs) gets one more preopen, at MountPoint, whose
// top-level names are the
// handle numbers of the directory capabilities in its own table: a
// directory handle 65539 is the path /.cap/65539. Each operation resolves
// the handle afresh, so closing, moving away or revoking the handle takes
// the path away at once, and an attenuated handle gets exactly its rights.
package dirs

import (
	"io/fs"
	"strconv"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/internal/capfs"
	"github.com/isle-run/isle/internal/kernel"
)

// MountPoint is where a process finds its directory handles.
const MountPoint = kernel.HandleMount

// FS is one process's view of its directory handles. Like the handle table
// it reads, only the process's own goroutine or turn uses it.
type FS struct {
	experimentalsys.UnimplementedFS
	p      *kernel.Process
	charge capfs.Charger // pays for what symlinks add to paths; may be nil
}

// ChargedTo returns f charging c for what symlinks add to its paths (see
// capfs.FS.ChargedTo).
func (f *FS) ChargedTo(c capfs.Charger) experimentalsys.FS {
	return &FS{p: f.p, charge: c}
}

// New returns the handle file system of p.
func New(p *kernel.Process) experimentalsys.FS { return &FS{p: p} }

// resolve splits "HANDLE/rest" and returns the directory the handle names,
// narrowed to the handle's rights. isRoot is true for the mount itself.
func (f *FS) resolve(p string) (dir *capfs.FS, rev *kernel.Revocation, rest string, isRoot bool, errno experimentalsys.Errno) {
	p = strings.TrimLeft(p, "/")
	if p == "" || p == "." {
		return nil, nil, "", true, 0
	}
	first, rest, _ := strings.Cut(p, "/")
	if rest == "" {
		rest = "."
	}
	n, err := strconv.ParseUint(first, 10, 32)
	if err != nil {
		return nil, nil, "", false, experimentalsys.ENOENT
	}
	c, ok := f.p.Handles().Get(kernel.Handle(n))
	if !ok || c.Kind != Kind {
		return nil, nil, "", false, experimentalsys.ENOENT
	}
	if c.Rev.Revoked() {
		return nil, nil, "", false, experimentalsys.EPERM
	}
	dir = c.Object.(*capfs.FS)
	if want := c.Rights; want != dir.Rights() {
		if want == 0 {
			return nil, nil, "", false, experimentalsys.EACCES
		}
		if dir, err = dir.Narrow(want); err != nil {
			return nil, nil, "", false, experimentalsys.EACCES
		}
	}
	if f.charge != nil {
		dir = dir.WithCharger(f.charge)
	}
	return dir, c.Rev, rest, false, 0
}

// OpenFile implements experimentalsys.FS.
func (f *FS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	dir, rev, rest, isRoot, errno := f.resolve(p)
	if errno != 0 {
		return nil, errno
	}
	if isRoot {
		return emptyDir{}, 0
	}
	file, errno := dir.OpenFile(rest, flag, perm)
	if errno != 0 || rev == nil {
		return file, errno
	}
	return &revocableFile{File: file, rev: rev}, 0
}

// Lstat implements experimentalsys.FS.
func (f *FS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	dir, _, rest, isRoot, errno := f.resolve(p)
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	if isRoot {
		return emptyDir{}.Stat()
	}
	return dir.Lstat(rest)
}

// Stat implements experimentalsys.FS.
func (f *FS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	dir, _, rest, isRoot, errno := f.resolve(p)
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	if isRoot {
		return emptyDir{}.Stat()
	}
	return dir.Stat(rest)
}

// in resolves a path that must name something inside a handle's directory.
func (f *FS) in(p string) (*capfs.FS, string, experimentalsys.Errno) {
	dir, _, rest, isRoot, errno := f.resolve(p)
	if errno == 0 && isRoot {
		errno = experimentalsys.EPERM // the mount itself cannot change
	}
	return dir, rest, errno
}

// pair resolves two paths that must be in the same handle's directory.
func (f *FS) pair(a, b string) (*capfs.FS, string, string, experimentalsys.Errno) {
	da, ra, errno := f.in(a)
	if errno != 0 {
		return nil, "", "", errno
	}
	db, rb, errno := f.in(b)
	if errno != 0 {
		return nil, "", "", errno
	}
	if da.String() != db.String() || headOf(a) != headOf(b) {
		return nil, "", "", experimentalsys.EPERM // across capabilities
	}
	return da, ra, rb, 0
}

func headOf(p string) string {
	h, _, _ := strings.Cut(strings.TrimLeft(p, "/"), "/")
	return h
}

// Mkdir implements experimentalsys.FS.
func (f *FS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	dir, rest, errno := f.in(p)
	if errno != 0 {
		return errno
	}
	return dir.Mkdir(rest, perm)
}

// Chmod implements experimentalsys.FS.
func (f *FS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	dir, rest, errno := f.in(p)
	if errno != 0 {
		return errno
	}
	return dir.Chmod(rest, perm)
}

// Rename implements experimentalsys.FS. Both ends must be in one handle.
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	dir, a, b, errno := f.pair(from, to)
	if errno != 0 {
		return errno
	}
	return dir.Rename(a, b)
}

// Rmdir implements experimentalsys.FS.
func (f *FS) Rmdir(p string) experimentalsys.Errno {
	dir, rest, errno := f.in(p)
	if errno != 0 {
		return errno
	}
	return dir.Rmdir(rest)
}

// Unlink implements experimentalsys.FS.
func (f *FS) Unlink(p string) experimentalsys.Errno {
	dir, rest, errno := f.in(p)
	if errno != 0 {
		return errno
	}
	return dir.Unlink(rest)
}

// Link implements experimentalsys.FS. Both ends must be in one handle.
func (f *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	dir, a, b, errno := f.pair(oldPath, newPath)
	if errno != 0 {
		return errno
	}
	return dir.Link(a, b)
}

// Symlink implements experimentalsys.FS. The link text is checked by the
// directory capability, relative to where the link is made.
func (f *FS) Symlink(target, link string) experimentalsys.Errno {
	dir, rest, errno := f.in(link)
	if errno != 0 {
		return errno
	}
	return dir.Symlink(target, rest)
}

// Readlink implements experimentalsys.FS.
func (f *FS) Readlink(p string) (string, experimentalsys.Errno) {
	dir, rest, errno := f.in(p)
	if errno != 0 {
		return "", errno
	}
	return dir.Readlink(rest)
}

// Utimens implements experimentalsys.FS.
func (f *FS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	dir, rest, errno := f.in(p)
	if errno != 0 {
		return errno
	}
	return dir.Utimens(rest, atim, mtim)
}

// Lutimens sets the times of a symlink itself (see capfs.FS.Lutimens).
func (f *FS) Lutimens(p string, atim, mtim int64) experimentalsys.Errno {
	dir, rest, errno := f.in(p)
	if errno != 0 {
		return errno
	}
	return dir.Lutimens(rest, atim, mtim)
}
