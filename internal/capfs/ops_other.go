//go:build !linux

package capfs

import (
	"io/fs"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// Here os.Root resolves every name (ops_root.go): only the path the guest
// wrote is charged, not what symlinks add to it.

// beneath has no use here.
type beneath struct{}

func (b *beneath) close() {}

func (f *FS) statAt(name string, follow bool) (sys.Stat_t, experimentalsys.Errno) {
	return f.statRoot(name, follow)
}

func (f *FS) openAt(name string, flag experimentalsys.Oflag, perm fs.FileMode) (*os.File, experimentalsys.Errno) {
	return f.openRoot(name, flag, perm)
}

func (f *FS) mkdirAt(name string, perm fs.FileMode) experimentalsys.Errno {
	return f.mkdirRoot(name, perm)
}

func (f *FS) chmodAt(name string, perm fs.FileMode) experimentalsys.Errno {
	return f.chmodRoot(name, perm)
}

func (f *FS) utimensAt(name string, atim, mtim int64, follow bool) experimentalsys.Errno {
	return f.utimensRoot(name, atim, mtim, follow)
}

func (f *FS) removeAt(name string, dir bool) experimentalsys.Errno { return f.removeRoot(name, dir) }

func (f *FS) renameAt(from, to string) experimentalsys.Errno { return f.renameRoot(from, to) }

func (f *FS) linkAt(oldName, newName string) experimentalsys.Errno {
	return f.linkRoot(oldName, newName)
}

func (f *FS) symlinkAt(target, name string) experimentalsys.Errno {
	return f.symlinkRoot(target, name)
}

func (f *FS) readlinkAt(name string) (string, experimentalsys.Errno) { return f.readlinkRoot(name) }
