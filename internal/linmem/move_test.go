package linmem

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestMoveHoldsNoSecondCopy checks, from the host's own peak RSS, that a
// memory outgrowing its first region moves its pages rather than copying
// them: a copy holds the written bytes twice until it ends, beyond what
// any account charges. It does so twice in a row, so that a region whose
// pages were moved out once moves them again. Not parallel: it reads the
// whole host's peak.
func TestMoveHoldsNoSecondCopy(t *testing.T) {
	for round := range 2 {
		a := &Allocator{Limit: 256 << 20}
		m := a.Allocate(0, 1<<32)
		b := m.Reallocate(firstRegion)
		for i := 0; i < len(b); i += int(pageSize) {
			b[i] = byte(i>>12) | 1
		}
		before := resetPeakRSS(t)
		big := m.Reallocate(firstRegion + 65536)
		grew := peakRSS(t) - before
		if big == nil {
			t.Fatal("could not grow past the first region")
		}
		for i := 0; i < firstRegion; i += int(pageSize) {
			if big[i] != byte(i>>12)|1 {
				t.Fatalf("round %d: byte %d is %#x after the move, want %#x", round, i, big[i], byte(i>>12)|1)
			}
		}
		if !bytes.Equal(b[:pageSize], make([]byte, pageSize)) {
			t.Fatalf("round %d: the old region still holds the memory's bytes", round)
		}
		t.Logf("round %d: moving %d MiB raised the host's peak RSS by %d KiB", round, firstRegion>>20, grew>>10)
		if grew > firstRegion/4 {
			t.Fatalf("round %d: moving %d MiB raised the host's peak RSS by %d MiB: the pages were copied, not moved",
				round, firstRegion>>20, grew>>20)
		}
		m.Free()
	}
}

// resetPeakRSS makes the host's peak RSS its current RSS and returns it.
func resetPeakRSS(t *testing.T) int64 {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	return peakRSS(t)
}

// peakRSS is the host's peak RSS (VmHWM), in bytes.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	_, v, ok := bytes.Cut(status, []byte("VmHWM:"))
	if !ok {
		t.Fatal("no VmHWM in /proc/self/status")
	}
	v, _, _ = bytes.Cut(v, []byte("kB"))
	kib, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return kib << 10
}

// BenchmarkGrowPastFirstRegion times the memory.grow that takes a memory
// with 64 MiB written past its first region, beside its anchor: what
// wazero's own memory does at every grow, a new Go slice and a copy.
func BenchmarkGrowPastFirstRegion(b *testing.B) {
	b.Run("linmem", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			m := (&Allocator{Limit: 256 << 20}).Allocate(0, 1<<32)
			touchPages(m.Reallocate(firstRegion))
			b.StartTimer()
			if m.Reallocate(firstRegion+65536) == nil {
				b.Fatal("could not grow")
			}
			b.StopTimer()
			m.Free()
		}
	})
	b.Run("anchor=go-slice-copy", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			old := make([]byte, firstRegion)
			touchPages(old)
			b.StartTimer()
			grown := make([]byte, firstRegion+65536)
			copy(grown, old)
			b.StopTimer()
			sink = grown
		}
	})
}

var sink []byte

func touchPages(b []byte) {
	for i := 0; i < len(b); i += int(pageSize) {
		b[i] = 1
	}
}

// TestMovesIntoFewRegions checks that past maxMoveTargets regions, a move
// copies rather than split one more region's mapping, and that a region
// already split still takes moves.
func TestMovesIntoFewRegions(t *testing.T) {
	defer func(n int) { maxMoveTargets = n }(maxMoveTargets)
	grow := func() (held int64, region []byte) {
		t.Helper()
		m := (&Allocator{Limit: 256 << 20}).Allocate(0, 1<<32)
		touchPages(m.Reallocate(firstRegion))
		before := resetPeakRSS(t)
		big := m.Reallocate(firstRegion + 65536)
		held = peakRSS(t) - before
		if big == nil || big[0] != 1 || big[firstRegion-int(pageSize)] != 1 {
			t.Fatal("growing past the first region failed or lost data")
		}
		m.Free()
		return held, big
	}
	_, seen := grow() // a target now, if it was not before
	moveTargets.mu.Lock()
	maxMoveTargets = len(moveTargets.seen)
	moveTargets.mu.Unlock()
	if held, again := grow(); unsafe.SliceData(again) == unsafe.SliceData(seen) && held > firstRegion/4 {
		t.Fatalf("a move into a region that took pages before copied (peak RSS rose %d MiB)", held>>20)
	}
	// Hold the known targets, so that the next move needs a new one.
	var hold []*memory
	defer func() {
		for _, m := range hold {
			m.Free()
		}
	}()
	for {
		m := (&Allocator{Limit: 256 << 20}).Allocate(0, 1<<32).(*memory)
		m.Reallocate(firstRegion + 65536) // nothing written: no move, no target
		hold = append(hold, m)
		moveTargets.mu.Lock()
		_, known := moveTargets.seen[uintptr(unsafe.Pointer(unsafe.SliceData(m.region)))]
		moveTargets.mu.Unlock()
		if !known {
			break
		}
	}
	hold[len(hold)-1].Free()
	hold = hold[:len(hold)-1]
	if held, _ := grow(); held < firstRegion/2 {
		t.Fatalf("past maxMoveTargets, a move raised the peak RSS by only %d MiB: it moved pages into a new region", held>>20)
	}
}

// TestImagedMemoryMovesWithItsImage checks that a clone of an image that
// outgrows its first region moves too: its pages keep what it wrote,
// those it only read stay the image's (shared, not private), nothing is
// held twice meanwhile, and the freed regions read zero.
func TestImagedMemoryMovesWithItsImage(t *testing.T) {
	im, data := testImage(t)
	m := (&Allocator{Image: im, Limit: 256 << 20}).Allocate(0, 1<<32)
	b := m.Reallocate(firstRegion)
	b[5] = 0xEE // a page of the image, written
	for i := len(data); i < 32<<20; i += int(pageSize) {
		b[i] = byte(i>>12) | 1
	}
	before := resetPeakRSS(t)
	big := m.Reallocate(firstRegion + 65536)
	grew := peakRSS(t) - before
	if big == nil || unsafe.SliceData(big) == unsafe.SliceData(b) {
		t.Fatal("the memory did not move to a larger region")
	}
	want := bytes.Clone(data)
	want[5] = 0xEE
	if !bytes.Equal(big[:len(data)], want) {
		t.Fatal("the image's part of the memory changed in the move")
	}
	for i := len(data); i < 32<<20; i += int(pageSize) {
		if big[i] != byte(i>>12)|1 {
			t.Fatalf("byte %d is %#x after the move, want %#x", i, big[i], byte(i>>12)|1)
		}
	}
	if private, err := PrivateBytes(big[:len(data)]); err != nil || private != pageSize {
		t.Fatalf("after the move the image's part holds %d private bytes (%v), want the one page written", private, err)
	}
	t.Logf("moving 32 MiB written past a %d KiB image raised the host's peak RSS by %d KiB", len(data)>>10, grew>>10)
	if grew > 8<<20 {
		t.Fatalf("moving raised the host's peak RSS by %d MiB: the pages were copied", grew>>20)
	}
	if !isZero(b[:pageSize]) || !isZero(b[len(data):len(data)+int(pageSize)]) {
		t.Fatal("the old region still shows the memory after the move")
	}
	other := (&Allocator{Image: im}).Allocate(0, 1<<32)
	if c := other.Reallocate(uint64(len(data))); !bytes.Equal(c, data) {
		t.Fatal("another clone does not start from the image")
	}
	other.Free()
	m.Free()
	if !isZero(big[:len(data)+int(pageSize)]) {
		t.Fatal("the freed region still shows the image or the memory")
	}
}

// TestMoveTargetsStayOneMapping moves memories of different sizes, from
// first regions of several slabs, into the same target region, one after
// another. Each move splits the target into mappings of its own, which
// cannot merge with those of a move from another slab; freeing the
// target maps it afresh, so it never holds more than one, and counts of
// the host's mappings stay bounded (an outside review had one target in
// 76 mappings after 1,000 such moves).
func TestMoveTargetsStayOneMapping(t *testing.T) {
	const n = 120 // first regions of 64 MiB: about eight slabs
	var ms []*memory
	for i := range n {
		m := (&Allocator{Limit: 256 << 20}).Allocate(0, 1<<32).(*memory)
		b := m.Reallocate(uint64(n+8-i) * 65536)
		b[0], b[len(b)-1] = 1, 2
		ms = append(ms, m)
	}
	// Take them a slab at a time, round robin, so that consecutive moves
	// come from different slabs.
	bySlab := map[uintptr][]*memory{}
	var slabs []uintptr
	for _, m := range ms {
		s := uintptr(unsafe.Pointer(unsafe.SliceData(m.region))) >> 30
		if len(bySlab[s]) == 0 {
			slabs = append(slabs, s)
		}
		bySlab[s] = append(bySlab[s], m)
	}
	var order []*memory
	for len(order) < n {
		for _, s := range slabs {
			if l := bySlab[s]; len(l) > 0 {
				order, bySlab[s] = append(order, l[0]), l[1:]
			}
		}
	}
	var target []byte
	most := 0
	for _, m := range order {
		w := m.dirty
		big := m.Reallocate(firstRegion + 65536)
		if big == nil || big[0] != 1 || big[w-1] != 2 || big[w] != 0 {
			t.Fatal("growing past the first region failed or lost data")
		}
		if target == nil {
			target = unsafe.Slice(unsafe.SliceData(big), 256<<20)
		}
		m.Free()
		most = max(most, mappingsIn(t, target))
	}
	t.Logf("%d moves from %d slabs: the target region was at most %d mappings once freed", n, len(slabs), most)
	if most > 1 {
		t.Fatalf("a freed target region is %d mappings, not one", most)
	}
}

// mappingsIn counts the host's mappings that overlap r.
func mappingsIn(t *testing.T, r []byte) int {
	t.Helper()
	lo := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(r))))
	hi := lo + uint64(len(r))
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if s, e, ok := mappingRange(line); ok && s < hi && e > lo {
			n++
		}
	}
	return n
}
