package linmem

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
)

// testImage is 16 pages of a known pattern with a hole of zero pages.
func testImage(t *testing.T) (*Image, []byte) {
	t.Helper()
	data := make([]byte, 16*pageSize)
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	clear(data[4*pageSize : 9*pageSize])
	im, err := NewImage("test", data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = im.Close() })
	return im, data
}

func TestImageClonesStartFromItAndDoNotShareWrites(t *testing.T) {
	t.Parallel()
	im, data := testImage(t)
	if !bytes.Equal(im.Bytes(), data) {
		t.Fatal("the image's view differs from what it was made of")
	}
	size := uint64(len(data)) + 65536 // the guest's memory goes on past the image
	a, b := &Allocator{Image: im}, &Allocator{Image: im}
	ma, mb := a.Allocate(0, 1<<32), b.Allocate(0, 1<<32)
	ba, bb := ma.Reallocate(size), mb.Reallocate(size)
	if !bytes.Equal(ba[:len(data)], data) || !bytes.Equal(bb[:len(data)], data) {
		t.Fatal("a clone does not start with the image")
	}
	if !isZero(ba[len(data):]) {
		t.Fatal("the memory past the image is not zero")
	}
	ba[5] = 0xEE
	ba[5*pageSize] = 0xEE
	if bb[5] != data[5] || bb[5*pageSize] != 0 || im.Bytes()[5] != data[5] {
		t.Fatal("a write by one clone reached another clone or the image")
	}
	if im.Fallbacks() != 0 {
		t.Fatalf("%d clones copied the image instead of mapping it", im.Fallbacks())
	}
	region := unsafe.SliceData(ba)
	ma.Free()
	mb.Free()
	// The freed regions are anonymous zero memory again, whoever gets them.
	for range 2 {
		m := (&Allocator{}).Allocate(0, 1<<32)
		c := m.Reallocate(size)
		if unsafe.SliceData(c) == region && !isZero(c) {
			t.Fatal("a region freed by a clone still shows the image or its writes")
		}
		defer m.Free()
	}
}

// A clone's untouched pages are not its own: they stay the memfd's,
// shared, and only written pages become private.
func TestImageClonePrivateMemoryIsWhatItWrites(t *testing.T) {
	t.Parallel()
	im, data := testImage(t)
	a := &Allocator{Image: im}
	m := a.Allocate(0, 1<<32)
	b := m.Reallocate(uint64(len(data)))
	defer m.Free()
	sum := 0
	for i := 0; i < len(b); i += int(pageSize) {
		sum += int(b[i]) // read every page
	}
	b[0] = 1 // write one
	private, err := PrivateBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if private != pageSize {
		t.Fatalf("a clone that wrote one page of %d holds %d bytes private, want %d (read sum %d)",
			len(b)/int(pageSize), private, pageSize, sum)
	}
}

// TestImageMappingsStayWithinTheirShare checks that past images' share of
// the host's mappings, clones copy their image in rather than map it (the
// host's mapping count, read from outside, stops growing), read the same,
// and map again once others are freed. Not parallel: it sets the share.
func TestImageMappingsStayWithinTheirShare(t *testing.T) {
	im, data := testImage(t)
	defer func(c int64) { imageMapCap = c }(imageMapCap)
	imageMapCap = imageMaps.Load() + 3*mappingsPerImage
	before, fell := hostMappings(t), im.Fallbacks()
	var ms []experimental.LinearMemory
	for i := range 6 {
		m := (&Allocator{Image: im}).Allocate(0, 1<<32)
		if b := m.Reallocate(uint64(len(data)) + 65536); !bytes.Equal(b[:len(data)], data) {
			t.Fatalf("clone %d does not start from the image", i)
		}
		ms = append(ms, m)
	}
	grew, copied := hostMappings(t)-before, im.Fallbacks()-fell
	t.Logf("6 clones, room for 3 mappings: %d copied, %d host mappings more", copied, grew)
	if copied != 3 {
		t.Fatalf("%d of 6 clones copied the image, want the 3 past the share", copied)
	}
	if grew > 3*mappingsPerImage+4 {
		t.Fatalf("6 clones added %d host mappings, past 3 clones' %d", grew, 3*mappingsPerImage)
	}
	for _, m := range ms {
		m.Free()
	}
	m := (&Allocator{Image: im}).Allocate(0, 1<<32)
	defer m.Free()
	m.Reallocate(uint64(len(data)))
	if im.Fallbacks() != fell+3 {
		t.Fatal("a clone copied the image once the others were freed")
	}
}

// hostMappings counts the host process's mappings.
func hostMappings(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}
