package linmem

import (
	"bytes"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Warm regions. A page the kernel gives a process is dear: a fault on
// fresh anonymous memory took 12-15 µs on the 2-core Firecracker VM isle
// is benchmarked on (about 1 µs on bare metal), and a page given back
// with MADV_DONTNEED and touched again costs the same. A reactor writes
// at least one page of its memory on its first turn, so a node that
// spawns and ends small processes paid one fault for each.
//
// So a small region (one sharing its PMD, below 2 MiB) keeps the pages a
// dead process wrote, for a while: put zeroes them in place (scrub) and
// lists the region warm, and the next get hands it out first, its pages
// still mapped. Warm pages belong to no process. They are bounded twice:
// at most warmLimit bytes are warm at once (past it, put drops pages as
// before; nodes may lower it, CapWarm), and a region warm for warmFor
// goes back to the kernel, its whole PMD with it when every region of the
// PMD is free (cool).
// Release gives every warm page back at once.

// warmMax bounds the bytes of warm regions' spans in any case.
const warmMax = 64 << 20

// warmLimit bounds the bytes of warm regions' spans now: the least of
// warmMax and every cap in warmCaps.
var warmLimit atomic.Int64

func init() { warmLimit.Store(warmMax) }

// warmCaps are the caps CapWarm put in force.
var warmCaps struct {
	mu   sync.Mutex // guards caps, and orders the stores to warmLimit
	caps map[*int64]struct{}
}

// CapWarm bounds the bytes kept warm at n, at most, until the returned
// function is called: the bound in force is the least of every cap and
// 64 MiB. A node caps them at a sixteenth of its memory ceiling, so that
// a node told to hold little is not made to look as if it held more. A
// lower cap bounds what is kept warm from then on; what is warm already
// goes at its time.
func CapWarm(n int64) (release func()) {
	c := &n
	warmCaps.mu.Lock()
	if warmCaps.caps == nil {
		warmCaps.caps = map[*int64]struct{}{}
	}
	warmCaps.caps[c] = struct{}{}
	setWarmLimit()
	warmCaps.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			warmCaps.mu.Lock()
			delete(warmCaps.caps, c)
			setWarmLimit()
			warmCaps.mu.Unlock()
		})
	}
}

// setWarmLimit stores the least cap. Precondition: warmCaps.mu held.
func setWarmLimit() {
	limit := int64(warmMax)
	for c := range warmCaps.caps {
		limit = min(limit, max(*c, 0))
	}
	warmLimit.Store(limit)
}

// warmFor is how long a warm region keeps its pages unused, in ns; set by
// tests.
var warmFor atomic.Int64

func init() { warmFor.Store(int64(2 * time.Second)) }

// warmBytes is the sum of every warm region's span.
var warmBytes atomic.Int64

// warmTimer cools regions warm for warmFor, and is armed while any are.
var warmTimer struct {
	mu    sync.Mutex // guards armed
	armed bool
}

// freeRegion is a region in a class's warm list.
type freeRegion struct {
	r []byte
	// span is how many bytes from r's start may hold pages, all zero.
	span uint64
	// since is when the region was freed, on the monotonic clock.
	since time.Duration
}

// afterCool, if set, is called after each timed cooling; for tests.
var afterCool atomic.Pointer[func()]

// epoch makes since monotonic.
var epoch = time.Now()

// WarmBytes reports the bytes of linear memory kept warm in free regions.
func WarmBytes() int64 { return warmBytes.Load() }

// keepWarm zeroes the first dirty bytes of r, a region smaller than a PMD
// that maps no image, in place and lists it warm, if the bytes fit under
// warmLimit. It reports false, having done nothing, when they do not.
func keepWarm(r []byte, dirty uint64) bool {
	n := min(roundUp(dirty), uint64(len(r)))
	if warmBytes.Add(int64(n)) > warmLimit.Load() {
		warmBytes.Add(-int64(n))
		return false
	}
	span, ok := scrub(r[:n])
	if !ok {
		warmBytes.Add(-int64(n))
		return false
	}
	warmBytes.Add(int64(span) - int64(n))
	sc := &pool[classOf(uint64(len(r)))]
	sc.mu.Lock()
	sc.freeShared(r, true, span > 0)
	if span > 0 {
		sc.warm = append(sc.warm, freeRegion{r: r, span: span, since: time.Since(epoch)})
	} else {
		sc.free = append(sc.free, r)
	}
	sc.mu.Unlock()
	if span > 0 {
		armWarmTimer()
	}
	return true
}

// zeroPage is what a page of zeroes reads.
var zeroPage = make([]byte, 64<<10)

// scrub zeroes b in place, page by page, writing only the resident pages
// that are not zero already (a page only read maps the shared zero page,
// which a write would copy). It reports the span from b's start that may
// still hold pages. A page that is not resident was never touched, or
// is in swap: with swap on, those pages are dropped as put drops pages, so
// that none can come back from swap with a dead process's bytes. It
// reports false if mincore failed, having changed nothing.
func scrub(b []byte) (span uint64, ok bool) {
	pages := uint64(len(b)) / pageSize
	var buf [256]byte // a region below a PMD has at most 256 4 KiB pages
	if pages > uint64(len(buf)) {
		return 0, false
	}
	vec := buf[:pages]
	if mincore(b, vec) != nil {
		return 0, false
	}
	var swap, asked bool // sysinfo is asked only if a page is not resident
	for i := uint64(0); i < pages; {
		if vec[i]&1 != 0 {
			page := b[i*pageSize : (i+1)*pageSize]
			if !bytes.Equal(page, zeroPage[:pageSize]) {
				clear(page)
			}
			span = (i + 1) * pageSize
			i++
			continue
		}
		j := i
		for j < pages && vec[j]&1 == 0 {
			j++
		}
		if !asked {
			swap, asked = swapOn(), true
		}
		if swap {
			_ = madvise(b[i*pageSize:j*pageSize], syscall.MADV_DONTNEED)
		}
		i = j
	}
	return span, true
}

// mincore sets vec[i]&1 for each page i of b that is resident.
// golang.org/x/sys/unix has no Mincore for Linux.
func mincore(b, vec []byte) error {
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))),
		uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	return nil
}

// swapOn reports whether the host has swap, or may have (sysinfo failed).
func swapOn() bool {
	var si unix.Sysinfo_t
	return unix.Sysinfo(&si) != nil || si.Totalswap > 0
}

// takeWarm hands out class sc's most recently freed warm region, if it has
// one. Precondition: sc.mu held.
func (sc *sizeClass) takeWarm() (freeRegion, bool) {
	n := len(sc.warm)
	if n == 0 {
		return freeRegion{}, false
	}
	fr := sc.warm[n-1]
	sc.warm[n-1] = freeRegion{}
	sc.warm = sc.warm[:n-1]
	warmBytes.Add(-int64(fr.span))
	base := pmdOf(fr.r)
	st := sc.pmds[base]
	st.free--
	st.warm--
	sc.pmds[base] = st
	return fr, true
}

// coolBatch is how many regions coolOlder cools under one hold of its
// class's lock: each is a madvise, and spawns and exits of the class wait
// for the lock meanwhile (64 MiB of one-page regions at once held it for
// 50-70 ms).
const coolBatch = 32

// coolOlder gives back the pages of at most coolBatch of class sc's
// regions warm since before cutoff, oldest first, and reports whether
// more are left. Precondition: sc.mu held.
func (sc *sizeClass) coolOlder(cutoff time.Duration) (more bool) {
	k := 0
	for k < len(sc.warm) && k < coolBatch && sc.warm[k].since <= cutoff {
		sc.cool(sc.warm[k])
		sc.warm[k] = freeRegion{}
		k++
	}
	sc.warm = sc.warm[k:]
	return len(sc.warm) > 0 && sc.warm[0].since <= cutoff
}

// cool drops fr's pages and lists it cold: its whole PMD's, page tables
// and all, if every region of the PMD is free and none is warm now.
// Precondition: sc.mu held; fr was just taken off sc.warm.
func (sc *sizeClass) cool(fr freeRegion) {
	warmBytes.Add(-int64(fr.span))
	base := pmdOf(fr.r)
	st := sc.pmds[base]
	st.warm--
	if uint64(st.free)*uint64(len(fr.r)) == pmdSize && st.warm == 0 {
		_ = madvise(pmdAround(fr.r), syscall.MADV_DONTNEED)
		st.tables = false
	} else {
		_ = madvise(fr.r[:fr.span], syscall.MADV_DONTNEED)
	}
	sc.pmds[base] = st
	sc.free = append(sc.free, fr.r)
}

// armWarmTimer makes sure regions warm for warmFor will be cooled.
func armWarmTimer() {
	warmTimer.mu.Lock()
	defer warmTimer.mu.Unlock()
	if !warmTimer.armed {
		warmTimer.armed = true
		time.AfterFunc(time.Duration(warmFor.Load()), coolOld)
	}
}

// coolOld cools the regions warm for warmFor, and comes back while any
// region is warm.
func coolOld() {
	coolAll(time.Since(epoch) - time.Duration(warmFor.Load()))
	if f := afterCool.Load(); f != nil {
		(*f)()
	}
	warmTimer.mu.Lock()
	defer warmTimer.mu.Unlock()
	warmTimer.armed = false
	if warmBytes.Load() > 0 {
		warmTimer.armed = true
		time.AfterFunc(time.Duration(warmFor.Load())/2, coolOld)
	}
}

// coolAll cools every region warm since before cutoff, in every class.
func coolAll(cutoff time.Duration) {
	for c := minClass; c <= maxClass && uint64(1)<<c < pmdSize; c++ {
		sc := &pool[c]
		for more := true; more; {
			sc.mu.Lock()
			more = sc.coolOlder(cutoff)
			sc.mu.Unlock()
		}
	}
}

// Release gives every warm page back to the kernel now, as their age
// would soon: runtime/debug.FreeOSMemory's counterpart for linear memory.
func Release() { coolAll(1<<63 - 1) }
