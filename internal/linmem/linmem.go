// Package linmem gives each wasm process a linear memory carved from large,
// lazily committed reservations, so that spawning costs no system call,
// growing rarely moves, and an untouched page costs no resident memory.
//
// wazero's default memory is a Go slice that is reallocated and copied on
// every memory.grow; a guest growing to 2 GiB leaves old copies alive until
// the Go GC frees them (8.6 GB RSS measured for a guest growing to 2 GiB).
// Here:
//
//   - Memories come in power-of-two size classes, carved from slabs of at
//     least 1 GiB mapped PROT_READ|PROT_WRITE with MAP_NORESERVE. Nothing
//     is committed until the guest touches it. wazero bounds-checks every
//     access against the memory's current length, so the rest of the
//     region needs no guard.
//   - A process first gets a region of min(limit, 64 MiB). Growth within it
//     is free. A process that grows past 64 MiB moves once, to a region of
//     its full limit, and never again; its pages move with mremap rather
//     than being copied (movePages). A memory that starts at 256 KiB or
//     less (and not from an image) starts in a region of its own size
//     class instead, so that small processes share page-table pages, and
//     moves to the first region when it first grows past it.
//   - A freed region is returned to the kernel with MADV_DONTNEED, which
//     drops its pages and makes it read as zero, and then reused: no
//     process ever sees another's data, and the next spawn needs no mmap.
//     A region smaller than a PMD is zeroed in place instead, for a while,
//     keeping its pages for the next process (warm.go).
//     Only what may have been written is dropped: until guest code runs
//     (see Allocator.NotRun), that is just what instantiation copied in,
//     so a process that never ran and has no data segment costs no
//     system call at exit either.
//   - Page tables go back too. Linux (6.x, CONFIG_PT_RECLAIM) frees a
//     page-table page when MADV_DONTNEED zaps the whole span it maps (a
//     PMD, 2 MiB with 4 KiB pages), and slabs are PMD-aligned for that. A
//     region of a PMD or more has its own page tables: its drop is
//     rounded out to whole PMDs. Smaller regions share a PMD with their
//     neighbours: each class counts its free regions per PMD, and when
//     every region of a PMD that held pages is free, the whole PMD is
//     dropped at once. Without it, 100,000 dead reactors left 200 MB of
//     page tables behind.
//   - A memory may start from an Image, a snapshot of an initialised
//     instance held in a sealed memfd: the image is mapped MAP_PRIVATE
//     over the start of the region, so clones share every page they do
//     not write. On free, that part of the region is mapped back to
//     anonymous zero pages, which also drops the pages the clone copied.
package linmem

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
)

const (
	minClass    = 16 // 64 KiB, one wasm page
	maxClass    = 32 // 4 GiB, the wasm32 limit
	firstRegion = 64 << 20
	// smallStart bounds the initial memory that starts in a region of its
	// own size rather than a first region: 32 one-page memories share a
	// PMD, and so one page-table page, where two 1 MiB regions did.
	smallStart = 256 << 10
	slabSize   = 1 << 30
)

var pageSize = uint64(syscall.Getpagesize())

// pmdSize is what one page-table page maps: a page of 8-byte entries.
var pmdSize = pageSize * (pageSize / 8)

// madvise is syscall.Madvise; tests count its calls.
var madvise = syscall.Madvise

// pool holds every size class. Regions are shared by all allocators in the
// host process, like the address space they come from.
var pool [maxClass + 1]sizeClass

type sizeClass struct {
	mu   sync.Mutex
	free [][]byte // zeroed regions ready for reuse, holding no pages
	// warm are zeroed regions that kept their pages (warm.go), oldest
	// first; get takes the newest.
	warm []freeRegion
	slab []byte // the unused tail of the newest slab
	// pmds tracks, for a class smaller than a PMD, the PMDs whose regions
	// went back to free, by the PMD's address.
	pmds map[uintptr]pmdState
}

// pmdState is what a class knows of one PMD it carves regions from.
type pmdState struct {
	free   uint32 // its regions in the free or warm list
	warm   uint32 // its regions in the warm list, which keep their pages
	tables bool   // a region freed into it held pages since it was last dropped whole
}

func classOf(n uint64) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len64(n - 1)
}

// get returns a zeroed region of class c, and how many bytes from its
// start may hold pages already (a warm region's; see warm.go): whoever
// frees it must drop or scrub at least those.
func get(c int) ([]byte, uint64, error) {
	sc := &pool[c]
	size := uint64(1) << c
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if fr, ok := sc.takeWarm(); ok {
		return fr.r, fr.span, nil
	}
	if n := len(sc.free); n > 0 {
		r := sc.free[n-1]
		sc.free = sc.free[:n-1]
		if size < pmdSize {
			base := pmdOf(r)
			st := sc.pmds[base]
			st.free--
			sc.pmds[base] = st
		}
		return r, 0, nil
	}
	if uint64(len(sc.slab)) < size {
		m, err := mapSlab(max(size, slabSize))
		if err != nil {
			return nil, 0, err
		}
		sc.slab = m
	}
	r := sc.slab[:size:size]
	sc.slab = sc.slab[size:]
	return r, 0, nil
}

// mapSlab reserves n bytes of address space, aligned to a PMD.
func mapSlab(n uint64) ([]byte, error) {
	m, err := syscall.Mmap(-1, 0, int(n+pmdSize), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserve %d bytes of address space for linear memory: %w", n, err)
	}
	head := (pmdSize - uint64(uintptr(unsafe.Pointer(unsafe.SliceData(m))))%pmdSize) % pmdSize
	if head > 0 {
		_ = syscall.Munmap(m[:head])
	}
	if tail := head + n; tail < uint64(len(m)) {
		_ = syscall.Munmap(m[tail:])
	}
	return m[head : head+n : head+n], nil
}

// pmdOf is the address of the PMD r starts in.
func pmdOf(r []byte) uintptr {
	return uintptr(unsafe.Pointer(unsafe.SliceData(r))) &^ uintptr(pmdSize-1)
}

// pmdAround is the whole PMD r starts in.
func pmdAround(r []byte) []byte {
	p := unsafe.Pointer(unsafe.SliceData(r))
	return unsafe.Slice((*byte)(unsafe.Add(p, -int(uintptr(p)-pmdOf(r)))), pmdSize)
}

// put zeroes the first dirty bytes of r and makes it reusable. The first
// imaged bytes are a mapping of an Image, which goes back to anonymous
// zero pages first.
func put(r []byte, dirty, imaged uint64) {
	if imaged == 0 && dirty > 0 && uint64(len(r)) < pmdSize && keepWarm(r, dirty) {
		return
	}
	held := dirty > 0 || imaged > 0 // an image's span has page tables too
	if imaged > 0 {
		if !mapZero(r[:imaged]) {
			return // never reuse a region that might still show the image
		}
		dropImageMapping()
		if dirty <= imaged {
			dirty = 0
		}
	}
	size := uint64(len(r))
	switch {
	case size >= pmdSize && max(dirty, imaged) > 0 && isMoveTarget(r):
		// Moves split it into mappings of their own, which a drop would
		// leave, and moves of other sizes from other slabs split it
		// further: one fresh mapping over the whole region instead, so
		// that it never holds more than one (TestMoveTargetsStayOneMapping).
		if !mapZero(r) {
			return // never reuse a region that might still hold pages
		}
	case size >= pmdSize && max(dirty, imaged) > 0:
		// Its own page tables, the image's span's too: drop whole PMDs.
		end := (max(dirty, imaged) + pmdSize - 1) &^ (pmdSize - 1)
		_ = madvise(r[:min(end, size)], syscall.MADV_DONTNEED)
	case dirty > imaged:
		_ = madvise(r[imaged:min(roundUp(dirty), size)], syscall.MADV_DONTNEED)
	}
	sc := &pool[classOf(size)]
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if size < pmdSize {
		sc.freeShared(r, held, false)
	}
	sc.free = append(sc.free, r)
}

// freeShared counts r, a region smaller than a PMD, free in its PMD (and
// warm, if it keeps its pages), and drops the whole PMD, page tables and
// all, once every region of it is free, none warm, and one held pages.
// Every region of the PMD is zero and in the free list then, and sc.mu
// keeps them there while it is dropped. Precondition: sc.mu held.
func (sc *sizeClass) freeShared(r []byte, held, warm bool) {
	if sc.pmds == nil {
		sc.pmds = map[uintptr]pmdState{}
	}
	base := pmdOf(r)
	st := sc.pmds[base]
	st.free++
	st.tables = st.tables || held
	if warm {
		st.warm++
	}
	if uint64(st.free)*uint64(len(r)) == pmdSize && st.tables && st.warm == 0 {
		_ = madvise(pmdAround(r), syscall.MADV_DONTNEED)
		st.tables = false
	}
	sc.pmds[base] = st
}

// ErrRefused is Allocator.Err when a memory's initial size was refused:
// over the memory's limit, or by the Account.
var ErrRefused = errors.New("the initial linear memory was refused: over its limit or the memory account's")

var errRefused = ErrRefused

// Account is charged for the bytes a linear memory hands to its guest.
type Account interface {
	// Charge reports whether n more bytes may be held.
	Charge(n int64) bool
	// Uncharge gives n bytes back.
	Uncharge(n int64)
}

// Allocator hands out the linear memory of one process, capped at Limit.
type Allocator struct {
	// Limit caps the memory in bytes. Zero means the wasm32 maximum of
	// 4 GiB.
	Limit uint64
	// Account, if set, is charged for every byte the memory grows by and
	// credited when it is freed; a refused charge fails the growth.
	Account Account
	// Image, if set, is what the memory starts with: it is mapped
	// copy-on-write over the start of the region when the memory is first
	// allocated, and the guest's instantiation must write nothing else
	// (the module has no data segments). wazero neither zeroes nor copies
	// what an allocator hands it, so untouched pages stay the image's.
	Image *Image
	// Prepaid is how many bytes of the first growth were charged to the
	// Account already (the initial memory, charged when the process was
	// made, so that a spawn fails there rather than in the guest).
	Prepaid uint64
	// preloaded is set by NotRun (see notRun).
	preloaded uint64

	peak atomic.Uint64
	err  atomic.Pointer[error]
	// mem is the memory Allocate hands out, kept here to save the spawn
	// an allocation.
	mem memory
	// notRun is set by NotRun: until Run, only the first preloaded bytes
	// can have been written. With the flags below, it packs into one word.
	notRun  atomic.Bool
	memUsed bool
	// retain, set by Retain, makes Free keep mem for the next Allocate.
	retain bool
}

// Retain makes the next Free keep the memory, its contents and its charge,
// and the next Allocate hand the same memory back: the process's instance
// is closed while it sleeps, and a new instance takes its memory up again.
// The new instance's Reallocate calls get prefixes of the kept region,
// charged already, up to the size the memory had.
//
// Precondition: called by the memory's owner, with no instance using it
// concurrently.
func (a *Allocator) Retain() { a.retain = true }

// Release frees a memory kept by Retain that no instance took up again.
// Precondition: as Retain.
func (a *Allocator) Release() {
	if a.retain {
		a.retain = false
		a.mem.Free()
	}
}

// NotRun records that no guest code has run yet, and that instantiation
// writes at most the first preloaded bytes of the memory (the end of its
// furthest active data segment): until Run, freeing the memory drops only
// those. Without it, every byte handed to the guest counts as written.
// Call it before the memory is allocated.
func (a *Allocator) NotRun(preloaded uint64) {
	a.preloaded = preloaded
	a.notRun.Store(true)
}

// fail records why a reservation failed, if none did before. Its own
// function, so that the error escapes to the heap only on failure.
func (a *Allocator) fail(err error) { a.err.CompareAndSwap(nil, &err) }

// Run records that guest code (or a host function it calls) may now write
// to the memory. Call it before the guest first runs.
func (a *Allocator) Run() { a.notRun.Store(false) }

// PeakBytes reports the largest size the memory reached.
func (a *Allocator) PeakBytes() uint64 { return a.peak.Load() }

// Err reports why a reservation failed, if one did.
func (a *Allocator) Err() error {
	if p := a.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Allocate implements experimental.MemoryAllocator.
func (a *Allocator) Allocate(_, max uint64) experimental.LinearMemory {
	limit := a.Limit
	if limit == 0 || limit > 1<<maxClass {
		limit = 1 << maxClass
	}
	limit = min(limit, max)
	if a.retain {
		a.retain = false
		return &a.mem
	}
	m := &a.mem
	if a.memUsed { // a second memory: not one a wasm 2.0 module can have
		m = new(memory)
	}
	a.memUsed = true
	*m = memory{alloc: a, limit: limit}
	return m
}

// memory is one process's linear memory.
type memory struct {
	alloc  *Allocator
	region []byte // nil until the first Reallocate
	limit  uint64 // bytes the guest may grow to
	dirty  uint64 // the most bytes ever handed to the guest, all charged
	imaged uint64 // the first imaged bytes of region map Allocator.Image
	filled uint64 // bytes of the image copied in instead of mapped
	// held is how many bytes from region's start held pages when it was
	// handed out (a warm region's span): zero, but resident, and dropped
	// or scrubbed again at free, whatever the guest wrote.
	held uint64
}

// written bounds the bytes of the region that may have been written.
func (m *memory) written() uint64 {
	if !m.alloc.notRun.Load() {
		return m.dirty
	}
	return max(min(m.dirty, m.alloc.preloaded), m.filled)
}

// Reallocate implements experimental.LinearMemory. It returns nil, which
// wazero turns into a failed memory.grow, past the limit.
func (m *memory) Reallocate(size uint64) []byte {
	if size > m.limit {
		if m.region == nil { // the initial memory: say why, as below
			m.alloc.err.CompareAndSwap(nil, &errRefused)
		}
		return nil
	}
	grow := int64(size) - int64(m.dirty)
	if paid := min(max(grow, 0), int64(m.alloc.Prepaid)); paid > 0 {
		m.alloc.Prepaid -= uint64(paid)
		grow -= paid
	}
	if grow > 0 && m.alloc.Account != nil && !m.alloc.Account.Charge(grow) {
		if m.region == nil { // the initial memory: wazero panics on nil
			m.alloc.err.CompareAndSwap(nil, &errRefused)
		}
		return nil
	}
	if size > uint64(len(m.region)) && !m.move(size) {
		if grow > 0 && m.alloc.Account != nil {
			m.alloc.Account.Uncharge(grow)
		}
		return nil
	}
	m.dirty = max(m.dirty, size)
	for p := m.alloc.peak.Load(); size > p && !m.alloc.peak.CompareAndSwap(p, size); p = m.alloc.peak.Load() {
	}
	// Capacity equals length, so wazero must come back here to grow.
	return unsafe.Slice(unsafe.SliceData(m.region), size)[:size:size]
}

// move gets a region that holds size bytes: first a small one, then, if
// the guest outgrows it, one of its whole limit.
func (m *memory) move(size uint64) bool {
	r, held, err := get(classOf(max(m.regionFor(size), size)))
	if err != nil {
		m.alloc.fail(err)
		return false
	}
	if m.region != nil {
		w := max(m.written(), m.imaged)
		n := roundUp(w)
		moved := uint64(len(m.region)) >= pmdSize && n > 0 && mayMoveInto(r)
		if moved && !movePages(r, m.region, n, m.imaged) {
			// Some pages may have moved and some not (Linux 6.17 moves a
			// span of several mappings, and may fail part way): neither
			// region can be trusted to hold the memory. The process is
			// abandoned rather than run on with bytes it did not write.
			panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: "its linear memory could not move to a larger region"})
		}
		if !moved {
			copy(r, m.region[:w])
		} else if m.imaged > 0 {
			imageMaps.Add(mappingsPerImage) // r's now; put drops the old region's
		}
		put(m.region, max(w, m.held), m.imaged)
		if !moved { // the image's pages were copied: r holds none of it
			m.imaged = 0
		}
		m.filled = w
	} else if im := m.alloc.Image; im != nil {
		if m.imaged = im.mapOver(r); m.imaged == 0 {
			m.filled = min(im.size, uint64(len(r)))
		}
	}
	m.region, m.held = r, held
	return true
}

// regionFor returns the region size for a memory of size bytes. A small
// initial memory gets a region of its own size class, and its first
// growth moves it to the first region: a memory moves at most twice. An
// imaged memory never starts small, as a move would copy the image's
// pages into private memory.
func (m *memory) regionFor(size uint64) uint64 {
	first := min(m.limit, firstRegion)
	switch {
	case size > first:
		return m.limit
	case m.region == nil && size <= smallStart && m.alloc.Image == nil:
		return size
	case uint64(len(m.region)) < first:
		return first
	default:
		return m.limit
	}
}

// Free implements experimental.LinearMemory.
func (m *memory) Free() {
	if m.alloc.retain && m == &m.alloc.mem {
		return // kept for the next instance (Retain)
	}
	if m.region != nil {
		put(m.region, max(m.written(), m.held), m.imaged)
		m.region, m.imaged, m.filled, m.held = nil, 0, 0, 0
	}
	if m.alloc.Account != nil && m.dirty > 0 {
		m.alloc.Account.Uncharge(int64(m.dirty))
	}
	m.dirty = 0
}

// movePages moves the first n bytes of old to the start of r without
// copying them: mremap gives their pages r's addresses, and leaves old
// mapped (MREMAP_DONTUNMAP): reading zero, or the image where one was
// mapped. A copy holds both for as long as it runs, n bytes no account
// charges: for every process moving at once, up to 64 MiB beyond its
// tree's memory limit, and on a machine whose page faults are slow,
// hundreds of milliseconds; it would also turn an image's shared pages
// into private ones. The pages move in two spans: the first imaged bytes
// (the image, with the pages the process wrote to it), then the rest.
// If mremap fails, part of a span may have moved (Linux 6.17 moves a span
// of several mappings and may stop part way), so movePages reports false:
// the memory is lost, and r is zeroed and back in the pool if it could
// be. mremap fails only with the host's mappings near their cap,
// which maps.go keeps isle's own well below.
// Precondition: n and imaged are multiples of the page size, imaged <= n
// <= min(len(old), len(r)).
func movePages(r, old []byte, n, imaged uint64) bool {
	var done uint64 // bytes moved so far
	for _, end := range [2]uint64{imaged, n} {
		if end <= done {
			continue
		}
		_, err := unix.MremapPtr(unsafe.Pointer(&old[done]), uintptr(end-done),
			unsafe.Pointer(&r[done]), uintptr(end-done),
			unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP)
		if err == nil {
			done = end
			continue
		}
		// MREMAP_FIXED unmaps the destination before it can fail: zero
		// pages go back there, over all of r that this move touched.
		if mapZero(r[:end]) {
			put(r, 0, 0)
		} // else r is lost for good
		return false
	}
	return true
}

// maxMoveTargets bounds the regions pages are ever moved into. A move
// splits its target's mapping in two or three, the moved spans and the
// rest, and the split outlives the memory: every region that ever took
// pages costs up to three of the host's mappings for good (see maps.go).
// Targets may take a sixteenth of the cap: 1,365 at the default, where
// the node's default ceiling (physical memory), with 64 MiB charged to
// every process that moved, lets far fewer exist at once on most hosts.
// Past it, a move copies. A variable for tests.
var maxMoveTargets = int(maxMapCount / 16 / 3)

// moveTargets are the regions, by address, pages have been moved into.
var moveTargets struct {
	mu   sync.Mutex
	seen map[uintptr]struct{}
}

// isMoveTarget reports whether pages were ever moved into r.
func isMoveTarget(r []byte) bool {
	moveTargets.mu.Lock()
	defer moveTargets.mu.Unlock()
	_, ok := moveTargets.seen[uintptr(unsafe.Pointer(unsafe.SliceData(r)))]
	return ok
}

// mayMoveInto reports whether pages may be moved into r, counting r as a
// target if it is a new one.
func mayMoveInto(r []byte) bool {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(r)))
	moveTargets.mu.Lock()
	defer moveTargets.mu.Unlock()
	if _, ok := moveTargets.seen[base]; ok {
		return true
	}
	if len(moveTargets.seen) >= maxMoveTargets {
		return false
	}
	if moveTargets.seen == nil {
		moveTargets.seen = map[uintptr]struct{}{}
	}
	moveTargets.seen[base] = struct{}{}
	return true
}

func roundUp(n uint64) uint64 { return (n + pageSize - 1) &^ (pageSize - 1) }
