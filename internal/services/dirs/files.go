package dirs

import (
	"io/fs"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/internal/kernel"
)

// emptyDir is the mount point itself: a directory that lists nothing, so
// that a process cannot enumerate handles it could not use anyway.
type emptyDir struct {
	experimentalsys.DirFile
	rewind[int64]
}

// Dev implements experimentalsys.File.
func (emptyDir) Dev() (uint64, experimentalsys.Errno) { return 0, 0 }

// Ino implements experimentalsys.File.
func (emptyDir) Ino() (sys.Inode, experimentalsys.Errno) { return 0, 0 }

// Stat implements experimentalsys.File.
func (emptyDir) Stat() (sys.Stat_t, experimentalsys.Errno) {
	return sys.Stat_t{Mode: fs.ModeDir | 0o500, Nlink: 1}, 0
}

// Readdir implements experimentalsys.File.
func (emptyDir) Readdir(int) ([]experimentalsys.Dirent, experimentalsys.Errno) { return nil, 0 }

// Sync implements experimentalsys.File.
func (emptyDir) Sync() experimentalsys.Errno { return 0 }

// Datasync implements experimentalsys.File.
func (emptyDir) Datasync() experimentalsys.Errno { return 0 }

// Utimens implements experimentalsys.File.
func (emptyDir) Utimens(int64, int64) experimentalsys.Errno { return experimentalsys.EPERM }

// Close implements experimentalsys.File.
func (emptyDir) Close() experimentalsys.Errno { return 0 }

// rewind gives emptyDir a Seek. It is generic only so that go vet does not
// mistake it for a malformed io.Seeker: wazero's File.Seek returns an Errno.
type rewind[Off ~int64] struct{}

// Seek implements experimentalsys.File: there is nothing to move past.
func (rewind[Off]) Seek(Off, int) (int64, experimentalsys.Errno) { return 0, 0 }

// revocableFile is a file opened through a revocable handle: once the
// handle is revoked, the file refuses every operation, so revocation also
// reaches what was opened before it.
type revocableFile struct {
	experimentalsys.File
	rev *kernel.Revocation
}

// live implements experimentalsys.File.
func (f *revocableFile) live() experimentalsys.Errno {
	if f.rev.Revoked() {
		return experimentalsys.EPERM
	}
	return 0
}

// Read implements experimentalsys.File.
func (f *revocableFile) Read(b []byte) (int, experimentalsys.Errno) {
	if e := f.live(); e != 0 {
		return 0, e
	}
	return f.File.Read(b)
}

// Pread implements experimentalsys.File.
func (f *revocableFile) Pread(b []byte, off int64) (int, experimentalsys.Errno) {
	if e := f.live(); e != 0 {
		return 0, e
	}
	return f.File.Pread(b, off)
}

// Write implements experimentalsys.File.
func (f *revocableFile) Write(b []byte) (int, experimentalsys.Errno) {
	if e := f.live(); e != 0 {
		return 0, e
	}
	return f.File.Write(b)
}

// Pwrite implements experimentalsys.File.
func (f *revocableFile) Pwrite(b []byte, off int64) (int, experimentalsys.Errno) {
	if e := f.live(); e != 0 {
		return 0, e
	}
	return f.File.Pwrite(b, off)
}

// Readdir implements experimentalsys.File.
func (f *revocableFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if e := f.live(); e != 0 {
		return nil, e
	}
	return f.File.Readdir(n)
}

// Truncate implements experimentalsys.File.
func (f *revocableFile) Truncate(size int64) experimentalsys.Errno {
	if e := f.live(); e != 0 {
		return e
	}
	return f.File.Truncate(size)
}

// Stat implements experimentalsys.File.
func (f *revocableFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if e := f.live(); e != 0 {
		return sys.Stat_t{}, e
	}
	return f.File.Stat()
}

// Utimens implements experimentalsys.File.
func (f *revocableFile) Utimens(atim, mtim int64) experimentalsys.Errno {
	if e := f.live(); e != 0 {
		return e
	}
	return f.File.Utimens(atim, mtim)
}
