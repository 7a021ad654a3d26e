package testwasm

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// PageTables is this process's page-table memory in KiB (VmPTE), which
// resident-set figures do not count. It skips the test where the kernel
// does not report it.
func PageTables(t testing.TB) int64 {
	t.Helper()
	return statusKiB(t, "VmPTE")
}

// Resident is this process's resident set in KiB (VmRSS). It skips the
// test where the kernel does not report it.
func Resident(t testing.TB) int64 {
	t.Helper()
	return statusKiB(t, "VmRSS")
}

// statusKiB reads a field of /proc/self/status given in kB.
func statusKiB(t testing.TB, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, v, err)
			}
			return n
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// NeedPTReclaim skips the test unless the kernel frees a page-table page
// when MADV_DONTNEED zaps the whole span it maps (Linux 6.x with
// CONFIG_PT_RECLAIM), which is what lets isle return page tables.
func NeedPTReclaim(t testing.TB) {
	t.Helper()
	page := syscall.Getpagesize()
	pmd := page * (page / 8)
	const n = 64
	m, err := syscall.Mmap(-1, 0, (n+1)*pmd, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	off := 0
	for uintptr(unsafeAddr(m[off:]))%uintptr(pmd) != 0 {
		off += page
	}
	span := m[off : off+n*pmd]
	for i := range n {
		span[i*pmd] = 1
	}
	before := PageTables(t)
	_ = syscall.Madvise(span, syscall.MADV_DONTNEED)
	if after := PageTables(t); before-after < int64(n*page>>10)/2 {
		t.Skipf("this kernel keeps page tables after MADV_DONTNEED (VmPTE %d -> %d KiB)", before, after)
	}
}

func unsafeAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
