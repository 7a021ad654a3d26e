package linmem

import (
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
)

// keepNoneWarm makes every free drop its pages, as before warm regions,
// and returns what undoes it. Not for parallel tests.
func keepNoneWarm() func() {
	Release()
	return CapWarm(0)
}

// resident reports, page by page, which pages of b are in memory.
func resident(t *testing.T, b []byte) []bool {
	t.Helper()
	vec := make([]byte, uint64(len(b))/pageSize)
	if err := mincore(b, vec); err != nil {
		t.Fatalf("mincore: %v", err)
	}
	out := make([]bool, len(vec))
	for i, v := range vec {
		out[i] = v&1 != 0
	}
	return out
}

// ranMemory is a one-page memory whose guest has run and written every
// byte of pages 2 and 5, and read page 9.
func ranMemory(t *testing.T) (experimental.LinearMemory, []byte) {
	t.Helper()
	a := &Allocator{Limit: 64 << 10}
	m := a.Allocate(0, 1<<32)
	b := m.Reallocate(65536)
	a.Run()
	for _, p := range []uint64{2, 5} {
		for i := p * pageSize; i < (p+1)*pageSize; i++ {
			b[i] = byte(i) | 1
		}
	}
	if b[9*pageSize] != 0 {
		t.Fatal("a fresh memory reads non-zero")
	}
	return m, b
}

// A small memory freed after its guest ran keeps its pages, zeroed, and
// the next memory of its size takes them, with no fault; Release gives
// them back. Not parallel: it counts the package's warm bytes.
func TestWarmRegionsComeBackZeroAndResident(t *testing.T) {
	Release()
	m, b := ranMemory(t)
	m.Free()
	if got := WarmBytes(); got < 6*int64(pageSize) || got > 65536 {
		t.Fatalf("%d bytes warm after a memory that wrote pages 2 and 5 was freed; want 6 to 16 pages", got)
	}
	for i, v := range b {
		if v != 0 {
			t.Fatalf("byte %d reads %#x in a warm region", i, v)
		}
	}
	a := &Allocator{Limit: 64 << 10}
	m = a.Allocate(0, 1<<32)
	again := m.Reallocate(65536)
	if unsafe.SliceData(again) != unsafe.SliceData(b) {
		t.Fatal("the next small memory did not take the warm region")
	}
	if r := resident(t, again); !r[2] || !r[5] {
		t.Fatalf("pages 2 and 5 are not resident in the warm region taken again: %v", r)
	}
	if got := WarmBytes(); got != 0 {
		t.Fatalf("%d bytes still warm after the only warm region was taken", got)
	}
	a.Run()
	again[5*pageSize] = 7
	m.Free()
	Release()
	if got := WarmBytes(); got != 0 {
		t.Fatalf("%d bytes warm after Release", got)
	}
	if r := resident(t, b); r[2] || r[5] {
		t.Fatalf("pages are still resident after Release: %v", r)
	}
}

// Past the least cap on warm pages, a freed memory drops its pages as
// before; once its caps are gone, 64 MiB is the bound again. Not parallel:
// it caps warm pages.
func TestWarmLimitHolds(t *testing.T) {
	Release()
	limit := 24 * int64(pageSize) // a region takes 16 until it is scrubbed, then 10
	defer CapWarm(2 * limit)()    // a looser cap changes nothing
	defer CapWarm(limit)()
	defer Release()
	m1, b1 := ranMemory(t)
	m2, b2 := ranMemory(t)
	m1.Free()
	m2.Free()
	if got := WarmBytes(); got > limit {
		t.Fatalf("%d bytes warm, over the limit of %d", got, limit)
	}
	if r1, r2 := resident(t, b1), resident(t, b2); (r1[2] || r1[5]) == (r2[2] || r2[5]) {
		t.Fatalf("want exactly one of two freed memories warm under a limit of 24 pages: %v, %v", r1, r2)
	}
	Release()
	release := CapWarm(limit / 2)
	if got := warmLimit.Load(); got != limit/2 {
		t.Fatalf("the bound is %d under caps of %d, %d and %d", got, limit, 2*limit, limit/2)
	}
	release()
	release()
	if got := warmLimit.Load(); got != limit {
		t.Fatalf("the bound is %d once the cap of %d is released (twice); want %d", got, limit/2, limit)
	}
}

// A region warm for warmFor gives its pages back by itself. Not parallel:
// it sets warmFor.
func TestWarmRegionsCool(t *testing.T) {
	Release()
	old := warmFor.Swap(int64(10 * time.Millisecond))
	cooled := make(chan int64, 100)
	f := func() {
		select {
		case cooled <- WarmBytes():
		default:
		}
	}
	afterCool.Store(&f)
	defer func() { warmFor.Store(old); afterCool.Store(nil) }()
	m, b := ranMemory(t)
	m.Free()
	if WarmBytes() == 0 {
		t.Fatal("nothing warm after a memory that wrote pages was freed")
	}
	deadline := time.After(30 * time.Second)
	for left := int64(1); left != 0; {
		select {
		case left = <-cooled:
		case <-deadline:
			t.Fatalf("%d bytes still warm 30 s after they were freed, with warmFor 10ms", WarmBytes())
		}
	}
	if r := resident(t, b); r[2] || r[5] {
		t.Fatalf("pages are still resident after the region cooled: %v", r)
	}
}

// A warm region's pages stay the pool's to give back whatever its next
// owner does: one that never runs, or writes less than the owner before
// it, still hands them back at free, so that Release and the timer find
// them. (A review found 112 MiB of such pages out of every count.) Not
// parallel: it counts the package's warm bytes.
func TestWarmPagesOutliveNoOwner(t *testing.T) {
	Release()
	for _, run := range []bool{false, true} {
		m, b := ranMemory(t) // pages 2 and 5 written, 9 read
		m.Free()
		a := &Allocator{Limit: 64 << 10}
		if !run {
			a.NotRun(0) // a process killed before its first turn
		}
		next := a.Allocate(0, 1<<32)
		again := next.Reallocate(65536)
		if unsafe.SliceData(again) != unsafe.SliceData(b) {
			t.Fatal("the next small memory did not take the warm region")
		}
		if run {
			a.Run()
			again[0] = 1 // less than the owner before it wrote
		}
		next.Free()
		Release()
		if r := resident(t, b); r[2] || r[5] {
			t.Fatalf("run %v: the pages of the owner before are resident after Release, with %d bytes counted warm: %v", run, WarmBytes(), r)
		}
	}
}
