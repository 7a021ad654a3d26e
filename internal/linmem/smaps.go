package linmem

import (
	"bufio"
	"golang.org/x/sys/unix"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// PrivateBytes reports how many bytes of the host mappings that overlap
// mem are anonymous memory (smaps' Anonymous): what the memory holds of
// its own. For a memory started from an Image, that is the pages it
// wrote; the pages it only read belong to the image's memfd, counted
// once however many clones map them. (smaps' Private_Clean would count an
// image page read by a single clone as that clone's.) Pages of a mapping that lie outside mem are counted too, so pass
// a whole region, or expect an upper bound. For tests and benchmarks: it
// reads /proc/self/smaps, which takes milliseconds.
func PrivateBytes(mem []byte) (uint64, error) {
	lo := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(mem))))
	hi := lo + uint64(len(mem))
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	var kib uint64
	for sc.Scan() {
		line := sc.Text()
		if start, end, ok := mappingRange(line); ok {
			in = start < hi && end > lo
			continue
		}
		if !in {
			continue
		}
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			kib += n
		}
	}
	return kib << 10, sc.Err()
}

// mappingRange parses the header line of an smaps entry, "start-end perms
// ...".
func mappingRange(line string) (start, end uint64, ok bool) {
	first, _, found := strings.Cut(line, " ")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(first, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseUint(a, 16, 64)
	end, err2 := strconv.ParseUint(b, 16, 64)
	return start, end, err1 == nil && err2 == nil
}

// Private reports how many bytes of the allocator's memory the host holds
// for it alone: anonymous pages in the part mapped from an Image (the
// pages the guest wrote), and resident pages in the rest. It does not
// lock: call it while the memory's process is not running. For tests and
// benchmarks.
func (a *Allocator) Private() (uint64, error) {
	m := &a.mem
	if !a.memUsed || m.region == nil {
		return 0, nil
	}
	var n uint64
	if m.imaged > 0 {
		v, err := PrivateBytes(m.region[:m.imaged])
		if err != nil {
			return 0, err
		}
		n += v
	}
	rest := m.region[m.imaged:roundUp(max(m.dirty, m.imaged))]
	if len(rest) == 0 {
		return n, nil
	}
	vec := make([]byte, (uint64(len(rest))+pageSize-1)/pageSize)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(rest))),
		uintptr(len(rest)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return 0, errno
	}
	for _, v := range vec {
		if v&1 != 0 {
			n += pageSize
		}
	}
	return n, nil
}
