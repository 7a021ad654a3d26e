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
		const n = 4096
		start := testwasm.PageTables(t)
		mems := make([]experimental.LinearMemory, n)
		for i := range mems {
			a := &Allocator{Limit: limit, Image: im}
			a.NotRun(0)
			mems[i] = a.Allocate(0, 1<<32)
			b := mems[i].Reallocate(im.Size())
			a.Run()
			_ = b[0]                 // the image's first page, read
			b[im.Size()-1] = byte(i) // its last, written (copied)
		}
		live := testwasm.PageTables(t)
		for _, m := range mems {
			m.Free()
		}
		dead := testwasm.PageTables(t)
		t.Logf("limit %d: %d image clones: page tables %d KiB at start, %d live, %d after they were freed", limit, n, start, live, dead)
		if grew := live - start; grew < n*int64(pageSize>>10)/64 || dead-start > grew/8 {
			t.Errorf("limit %d: page tables grew %d KiB for %d image clones and %d KiB of it stayed after they were freed", limit, grew, n, dead-start)
		}
	}
}
