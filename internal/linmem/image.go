package linmem

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Image is the initial contents of linear memories that start from a
// snapshot: a sealed memfd that every memory started from it maps
// MAP_PRIVATE over the start of its region. Pages the process only reads
// stay the memfd's, shared by every clone; a page it writes is copied for
// it alone by the host kernel. Nothing is copied at spawn.
type Image struct {
	fd   int
	size uint64
	// view is a read-only shared mapping of the whole image, for a memory
	// that cannot map it (see Allocator.Image) and for tests.
	view []byte
	// fallbacks counts memories that copied the image instead.
	fallbacks atomic.Int64
}

// NewImage makes an image of data, whose length must be a multiple of the
// host page size. The memfd is sealed: nothing can change or resize it
// once made.
func NewImage(name string, data []byte) (*Image, error) {
	if uint64(len(data))%pageSize != 0 || len(data) == 0 {
		return nil, fmt.Errorf("image of %d bytes: not a positive multiple of the page size %d", len(data), pageSize)
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd for image %s: %w", name, err)
	}
	im := &Image{fd: fd, size: uint64(len(data))}
	if err := im.fill(data); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return im, nil
}

// fill writes data into the memfd (only its non-zero pages, so an image
// of mostly zeros stays mostly holes), seals it and maps the view.
func (im *Image) fill(data []byte) error {
	if err := unix.Ftruncate(im.fd, int64(len(data))); err != nil {
		return err
	}
	for off := 0; off < len(data); off += int(pageSize) {
		page := data[off : off+int(pageSize)]
		if isZero(page) {
			continue
		}
		end := off + int(pageSize)
		for end < len(data) && !isZero(data[end:end+int(pageSize)]) {
			end += int(pageSize)
		}
		if _, err := unix.Pwrite(im.fd, data[off:end], int64(off)); err != nil {
			return err
		}
		off = end - int(pageSize)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(im.fd), unix.F_ADD_SEALS, seals); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	view, err := syscall.Mmap(im.fd, 0, len(data), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map: %w", err)
	}
	im.view = view
	return nil
}

func isZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

// Size is the image's length in bytes.
func (im *Image) Size() uint64 { return im.size }

// Bytes is a read-only view of the image.
func (im *Image) Bytes() []byte { return im.view }

// Fallbacks counts the memories that copied the image because mapping it
// failed (the host's limit on mappings, vm.max_map_count, is the likely
// cause).
func (im *Image) Fallbacks() int64 { return im.fallbacks.Load() }

// Close releases the image's descriptor and view. Memories mapped from it
// keep working: a mapping holds the file itself. Call it once no memory
// will be allocated from it again.
func (im *Image) Close() error {
	if im.view != nil {
		_ = syscall.Munmap(im.view)
		im.view = nil
	}
	return unix.Close(im.fd)
}

// mapOver maps the image copy-on-write over the start of r, or copies it
// in if the mapping fails or images are at their share of the host's
// mappings (maps.go). It reports how many bytes of r are now a mapping of
// the image, to be undone by put.
func (im *Image) mapOver(r []byte) uint64 {
	n := min(im.size, uint64(len(r)))
	if !takeImageMapping() {
		im.fallbacks.Add(1)
		copy(r, im.view[:n])
		return 0
	}
	_, err := unix.MmapPtr(im.fd, 0, unsafe.Pointer(unsafe.SliceData(r)), uintptr(n),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	if err != nil {
		dropImageMapping()
		// Checked before anything is unmapped (the map count is), so r is
		// still its anonymous zero pages: fill it the slow way.
		im.fallbacks.Add(1)
		copy(r, im.view[:n])
		return 0
	}
	return n
}

// mapZero maps fresh anonymous zero pages over r, replacing whatever
// mappings r held (an image, the pages a process copied from it, or the
// pieces moves split a region into) with one. It reports false if that
// failed, and the region must not be reused.
func mapZero(r []byte) bool {
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(unsafe.SliceData(r)), uintptr(len(r)),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_FIXED|unix.MAP_NORESERVE)
	return err == nil
}
