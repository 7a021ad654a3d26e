// Package linmem gives each wasm process a linear memory that is reserved
// once and committed as it grows, so growth never copies and an untouched
// page never costs resident memory.
//
// wazero's default memory is a Go slice that is reallocated and copied on
// every memory.grow; a guest growing to 2 GiB leaves old copies alive until
// the Go GC frees them (8.6 GB RSS measured, see DESIGN.md). Here the whole
// range up to the process's limit is reserved with PROT_NONE and
// MAP_NORESERVE, and pages become readable and writable only as the guest
// grows into them. Fresh anonymous pages read as zero, so no page is
// zeroed by hand either.
package linmem

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
)

// pageSize is the host's page granularity for mprotect.
var pageSize = uint64(syscall.Getpagesize())

// Allocator hands out linear memories capped at Limit bytes. It is safe for
// concurrent use; each memory it returns belongs to one process.
type Allocator struct {
	// Limit caps every memory this allocator returns, in bytes. Zero means
	// the wasm32 maximum of 4 GiB.
	Limit uint64

	// Peak records the largest size, in bytes, that any memory from this
	// allocator reached. Read it with PeakBytes.
	peak atomic.Uint64

	// reserveErr holds the first mmap failure so that the spawn path can
	// report it instead of a nil-buffer panic inside wazero.
	reserveErr atomic.Pointer[error]
}

// PeakBytes reports the largest committed size any memory reached.
func (a *Allocator) PeakBytes() uint64 { return a.peak.Load() }

// Err reports why a reservation failed, if one did.
func (a *Allocator) Err() error {
	if p := a.reserveErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Allocate implements experimental.MemoryAllocator.
func (a *Allocator) Allocate(_, max uint64) experimental.LinearMemory {
	limit := a.Limit
	if limit == 0 || limit > 1<<32 {
		limit = 1 << 32
	}
	if max > limit {
		max = limit
	}
	reserve := roundUp(max)
	if reserve == 0 {
		reserve = pageSize
	}
	b, err := syscall.Mmap(-1, 0, int(reserve), syscall.PROT_NONE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		err = fmt.Errorf("reserve %d bytes of linear memory: %w", reserve, err)
		a.reserveErr.CompareAndSwap(nil, &err)
		return &memory{alloc: a}
	}
	return &memory{alloc: a, mapping: b, max: max}
}

// memory is one process's linear memory.
type memory struct {
	alloc     *Allocator
	mapping   []byte // the whole reservation; nil if mmap failed
	max       uint64 // bytes the guest may grow to
	committed uint64 // bytes currently readable and writable
}

// Reallocate implements experimental.LinearMemory. It returns nil, which
// wazero turns into a failed memory.grow (-1), when size passes the limit.
func (m *memory) Reallocate(size uint64) []byte {
	if m.mapping == nil || size > m.max {
		return nil
	}
	if need := roundUp(size); need > m.committed {
		if err := syscall.Mprotect(m.mapping[m.committed:need], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = need
	}
	for {
		p := m.alloc.peak.Load()
		if size <= p || m.alloc.peak.CompareAndSwap(p, size) {
			break
		}
	}
	// The slice's capacity is exactly its length: wazero must come back
	// through Reallocate to grow, so the limit holds.
	return unsafe.Slice(unsafe.SliceData(m.mapping), size)[:size:size]
}

// Free implements experimental.LinearMemory.
func (m *memory) Free() {
	if m.mapping != nil {
		_ = syscall.Munmap(m.mapping)
		m.mapping = nil
	}
}

func roundUp(n uint64) uint64 { return (n + pageSize - 1) &^ (pageSize - 1) }
