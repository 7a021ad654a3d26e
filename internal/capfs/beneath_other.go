//go:build !linux

package capfs

import (
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// beneath has no fast path here: os.Root resolves every path.
type beneath struct{}

func (b *beneath) close() {}

// statBeneath never answers here.
func (f *FS) statBeneath(string, bool) (sys.Stat_t, experimentalsys.Errno, bool) {
	return sys.Stat_t{}, 0, false
}
