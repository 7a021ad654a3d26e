package linmem

import (
	"bytes"
	"testing"
	"unsafe"
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
