package linmem

import (
	"testing"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/isle-run/isle/internal/testwasm"
)

// Clones of an image whose memory fits a region smaller than a PMD (a C
// reactor's 64 KiB to 1 MiB) give their page tables back too once they
// die. A clone's memory is usually exactly the image's size, so its dirty
// bytes never pass the imaged ones; it still faulted the image's pages in
// (and copied the ones it wrote), and its PMD holds a page table for them.
func TestDeadSmallImageClonesReturnPageTables(t *testing.T) {
	testwasm.NeedPTReclaim(t)
	im, _ := testImage(t) // 16 pages
	for _, limit := range []uint64{64 << 10, 1 << 20} {
		checkPageTablesReturned(t, "image clones", limit, func(i int) experimental.LinearMemory {
			a := &Allocator{Limit: limit, Image: im}
			a.NotRun(0)
			m := a.Allocate(0, 1<<32)
			b := m.Reallocate(im.Size())
			a.Run()
			_ = b[0]                 // the image's first page, read
			b[im.Size()-1] = byte(i) // its last, written (copied)
			return m
		})
	}
}
