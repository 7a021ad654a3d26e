//go:build !linux

package capfs

import (
	"io/fs"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// beneath has no fast path here: os.Root resolves every path.
type beneath struct{}

func (b *beneath) close() {}

// openBeneath is os.Root's OpenFile here.
func (f *FS) openBeneath(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return f.root.OpenFile(name, flag, perm)
}

// statBeneath never answers here.
func (f *FS) statBeneath(string, bool) (sys.Stat_t, experimentalsys.Errno, bool) {
	return sys.Stat_t{}, 0, false
}
