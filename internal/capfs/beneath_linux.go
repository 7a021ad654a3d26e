//go:build linux

package capfs

import (
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// beneath is what an FS and its narrowed views share to resolve names
// (walk_linux.go): the root directory, opened on first use.
type beneath struct {
	mu     sync.Mutex // guards dir and closed
	dir    *os.File   // the root directory, or nil before first use
	closed bool       // the FS is closed
}

// root returns the open root directory: EBADF once the FS is closed, and
// the error that kept it from opening (EMFILE, say) until it opens.
func (b *beneath) root(r *os.Root) (*os.File, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, syscall.EBADF
	case b.dir == nil:
		d, err := r.Open(".")
		if err != nil {
			return nil, err
		}
		b.dir = d
	}
	return b.dir, nil
}

// close closes the root directory, if it was opened. Calls still using
// it fail with EBADF, as os.Root's do once closed.
func (b *beneath) close() {
	if b == nil {
		return // the tests' os.Root reference
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != nil {
		_ = b.dir.Close()
	}
	b.closed = true
}

// plainPath reports whether the kernel can resolve name (from rel) in one
// openat2: clean, with no "..", so that only symlinks could lead it
// anywhere else.
func plainPath(name string) bool {
	if name != path.Clean(name) || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	return name != ".." && !strings.HasPrefix(name, "../") && !strings.Contains(name, "/../") && !strings.HasSuffix(name, "/..")
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
