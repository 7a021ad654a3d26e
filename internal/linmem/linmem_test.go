package linmem

import (
	"syscall"
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
	// A one-page start has a region of one page: its first growth moves
	// it to the first region, keeping its bytes, and growth within that
	// region does not move it again.
	b1 := m.Reallocate(2 * 65536)
	if unsafe.SliceData(b1) == unsafe.SliceData(b) || b1[0] != 0xAB || b1[65535] != 0xAB || b1[65536] != 0 {
		t.Fatal("growth out of a small start did not move, or lost data")
	}
	b2 := m.Reallocate(3 * 65536)
	if unsafe.SliceData(b2) != unsafe.SliceData(b1) || b2[0] != 0xAB {
		t.Fatal("growth within the region moved or lost data")
	}
	if m.Reallocate(1<<20+65536) != nil {
		t.Fatal("grew past the limit")
	}
	if a.PeakBytes() != 3*65536 {
		t.Fatalf("peak %d", a.PeakBytes())
	}
	m.Free()
	// The next memory of the same class reuses the region, zeroed.
	m2 := (&Allocator{Limit: 1 << 20}).Allocate(0, 1<<32)
	c := m2.Reallocate(smallStart + 65536) // not a small start: b2's class
	if unsafe.SliceData(c) != unsafe.SliceData(b2) {
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

// TestFreeDropsOnlyWhatMayBeWritten checks that freeing a memory whose
// guest never ran drops only its preloaded bytes (none: no system call),
// that a preloaded page comes back zeroed, and that once the guest has run
// the whole memory is dropped. Not parallel: it replaces madvise, and
// keeps no region warm (warm.go), so that every free drops its pages.
func TestFreeDropsOnlyWhatMayBeWritten(t *testing.T) {
	defer keepNoneWarm()()
	var dropped []int
	madvise = func(b []byte, advice int) error {
		// A whole PMD of free regions goes when the last of them does
		// (what earlier tests left decides when): not this memory's drop.
		if uint64(len(b)) != pmdSize {
			dropped = append(dropped, len(b))
		}
		return syscall.Madvise(b, advice)
	}
	defer func() { madvise = syscall.Madvise }()
	free := func(preloaded uint64, run bool, write func(b []byte)) []byte {
		t.Helper()
		dropped = dropped[:0]
		a := &Allocator{Limit: 1 << 20}
		a.NotRun(preloaded)
		m := a.Allocate(0, 1<<32)
		b := m.Reallocate(4 * 65536)
		write(b)
		if run {
			a.Run()
		}
		m.Free()
		return b
	}

	free(0, false, func([]byte) {})
	if len(dropped) != 0 {
		t.Fatalf("a never-run memory with nothing preloaded was dropped: %v", dropped)
	}

	b := free(100, false, func(b []byte) { copy(b, "data segment") })
	if len(dropped) != 1 || uint64(dropped[0]) != pageSize {
		t.Fatalf("dropped %v, want one page for 100 preloaded bytes", dropped)
	}
	if b[0] != 0 { // the region is still mapped, in the free list
		t.Fatalf("a preloaded byte reads %#x after Free, not zero", b[0])
	}

	b = free(0, true, func(b []byte) { b[3*65536] = 1 })
	if len(dropped) != 1 || dropped[0] != 4*65536 {
		t.Fatalf("dropped %v after the guest ran, want the whole %d bytes", dropped, 4*65536)
	}
	if b[3*65536] != 0 {
		t.Fatal("a byte the guest wrote survived Free")
	}
}

// TestWithoutNotRunEverythingIsDropped checks the safe default: an
// allocator never told that its guest has not run drops every byte.
func TestWithoutNotRunEverythingIsDropped(t *testing.T) {
	t.Parallel()
	m := (&Allocator{Limit: 1 << 20}).Allocate(0, 1<<32)
	b := m.Reallocate(2 * 65536)
	b[2*65536-1] = 9
	m.Free()
	if b[2*65536-1] != 0 {
		t.Fatal("a written byte survived Free")
	}
}
