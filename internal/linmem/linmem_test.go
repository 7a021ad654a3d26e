package linmem

import (
	"testing"
	"unsafe"
)

func TestGrowWithinLimitAndZeroOnReuse(t *testing.T) {
	t.Parallel()
	a := &Allocator{Limit: 1 << 20}
	m := a.Allocate(0, 1<<32)
	b := m.Reallocate(65536)
	if len(b) != 65536 || cap(b) != 65536 {
		t.Fatalf("len %d cap %d", len(b), cap(b))
	}
	for i := range b {
		b[i] = 0xAB
	}
	b2 := m.Reallocate(2 * 65536)
	if unsafe.SliceData(b2) != unsafe.SliceData(b) || b2[0] != 0xAB {
		t.Fatal("growth within the region moved or lost data")
	}
	if m.Reallocate(1<<20+65536) != nil {
		t.Fatal("grew past the limit")
	}
	if a.PeakBytes() != 2*65536 {
		t.Fatalf("peak %d", a.PeakBytes())
	}
	m.Free()
	// The next memory of the same class reuses the region, zeroed.
	m2 := (&Allocator{Limit: 1 << 20}).Allocate(0, 1<<32)
	c := m2.Reallocate(2 * 65536)
	if unsafe.SliceData(c) != unsafe.SliceData(b) {
		t.Log("region not reused (another test may have taken it)")
	}
	for i, v := range c {
		if v != 0 {
			t.Fatalf("byte %d of a recycled memory is %#x, not zero", i, v)
		}
	}
	m2.Free()
}

func TestMoveOnceWhenOutgrowingTheFirstRegion(t *testing.T) {
	t.Parallel()
	a := &Allocator{Limit: 256 << 20}
	m := a.Allocate(0, 1<<32)
	b := m.Reallocate(65536)
	b[100] = 7
	big := m.Reallocate(firstRegion + 65536)
	if big == nil || big[100] != 7 {
		t.Fatal("moving to a larger region lost data")
	}
	again := m.Reallocate(200 << 20)
	if unsafe.SliceData(again) != unsafe.SliceData(big) {
		t.Fatal("moved a second time")
	}
	m.Free()
}
