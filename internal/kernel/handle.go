package kernel

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/isle-run/isle/internal/capkind"
)

// Handle is a process's name for one of its rights: an index into its own
// HandleTable with a generation in the high bits, so that a stale number
// (closed, then reused for something else) is caught as misuse instead of
// silently naming the new entry.
type Handle uint32

const (
	handleIndexBits = 16
	handleIndexMask = 1<<handleIndexBits - 1
	maxGeneration   = 1<<15 - 1 // keeps every handle a positive i32
	// MaxHandles is the most handles one process may hold at once. The
	// last slot is kept for its self handle (see Process.Self).
	MaxHandles = handleIndexMask
)

func makeHandle(index uint32, gen uint16) Handle {
	return Handle(uint32(gen)<<handleIndexBits | index)
}

func (h Handle) index() uint32 { return uint32(h) & handleIndexMask }
func (h Handle) gen() uint16   { return uint16(uint32(h) >> handleIndexBits) }

// release gives up what holding the capability entails: an unanswered
// reply handle fails its caller, and a copy of a Remote is uncounted.
func (c Cap) release() {
	switch o := c.Object.(type) {
	case *replySlot:
		if c.Kind == capkind.Reply {
			o.abandon()
		}
	case *Remote:
		o.dropRef()
	}
}

type tableEntry struct {
	Cap
	gen  uint16
	used bool
	// nextFree links the free slots, newest first: the index of the next
	// one, or 0 for none. It sits in what would be the entry's padding.
	nextFree uint32
}

// HandleTable is one process's rights. Only the process itself changes its
// table (host calls run on the process's own goroutine or turn), and the
// kernel does too once the process has ended; so its reads need no lock.
// Changes take mu, so that a tool listing the table from elsewhere (each)
// reads it whole.
type HandleTable struct {
	mu       sync.Mutex   // guards entries, freeHead and count against each
	entries  []tableEntry // index 0 is never used: 0 is not a handle
	freeHead uint16       // the last slot freed, or 0: see tableEntry.nextFree
	count    uint16
	// owned is set, before the process runs, on a Process's own table
	// (Process.handles), whose account then pays for the entries' array
	// as it grows (see tableCost) until the table is emptied (releaseAll).
	// A table no process holds (in tests) charges no one.
	owned bool
}

// owner returns the process whose table t is, or nil if t is not owned.
func (t *HandleTable) owner() *Process {
	if !t.owned {
		return nil
	}
	// t is its Process's handles field. A pointer to the Process here
	// would take it past its heap size class: 128 bytes more a process.
	return (*Process)(unsafe.Add(unsafe.Pointer(t), -int(unsafe.Offsetof(Process{}.handles))))
}

// tableEntrySize is what one slot of a table's array costs the Go heap:
// the array is allocated whole, so a table costs its capacity times this.
const tableEntrySize = int64(unsafe.Sizeof(tableEntry{}))

// handleAllowance is how many slots a table holds within ProcessOverhead,
// so that a spawn with a few grants touches no counter of its tree's.
const handleAllowance = 8

// tableCost is what an array of n slots costs its owner's account.
func tableCost(n int) int64 { return int64(max(n-handleAllowance, 0)) * tableEntrySize }

// ErrTableFull is returned when a process holds MaxHandles-1 handles
// besides the one slot kept for its self handle, or has used up every
// handle number: each of the MaxHandles slots gives
// maxGeneration numbers over the process's life, about two billion in all.
var ErrTableFull = errors.New("handle table full")

// Insert adds a capability and returns its new handle. It leaves the
// table's last slot free for the self handle, so that what peers send a
// process cannot fill its table before it asks for itself; and it grows
// the table while a slot beside the one it takes is still free, so that
// the self handle never needs room the process's account cannot pay for.
func (t *HandleTable) Insert(c Cap) (Handle, error) { return t.insert(c, MaxHandles-1, 2) }

// insertSelf is Insert for the self handle, which may take the last slot.
func (t *HandleTable) insertSelf(c Cap) (Handle, error) { return t.insert(c, MaxHandles, 1) }

// insert adds c if the table holds fewer than limit handles, growing it
// first unless it has room free for need handles. A table that grows
// charges its owner for the larger array, and fails with ErrLimit where
// the owner's tree or the node cannot hold it.
//
// Precondition: called by the table's owner (see HandleTable).
func (t *HandleTable) insert(c Cap, limit int32, need int) (Handle, error) {
	if int32(t.count) >= limit {
		return 0, ErrTableFull
	}
	var grown []tableEntry
	if t.room() < need && cap(t.entries) <= MaxHandles {
		// Only the owner changes the table, so it may grow it outside mu:
		// a charge may evict images, which takes the kernel's lock.
		var err error
		if grown, err = t.grow(); err != nil {
			return 0, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if grown != nil {
		t.entries = grown
	}
	var idx uint32
	if idx = uint32(t.freeHead); idx != 0 {
		t.freeHead = uint16(t.entries[idx].nextFree)
	} else {
		if len(t.entries) == cap(t.entries) {
			return 0, ErrTableFull // every slot taken or retired
		}
		idx = uint32(len(t.entries))
		t.entries = t.entries[:idx+1]
	}
	e := &t.entries[idx]
	e.gen++ // a retired slot never comes back here, so this never wraps
	e.Cap, e.used = c, true
	t.count++
	return makeHandle(idx, e.gen), nil
}

// room is how many handles, up to two, the table can take without growing.
func (t *HandleTable) room() int {
	n := cap(t.entries) - max(len(t.entries), 1) // index 0 is reserved
	if h := t.freeHead; h != 0 {
		n++
		if t.entries[h].nextFree != 0 {
			n++
		}
	}
	return n
}

// firstTableSlots is a table's size when it is made: slot 0, which no
// handle names, and one entry. Most reactors only ever hold the reply
// handle of the call they are answering.
const firstTableSlots = 2

// grow returns a copy of the entries in an array twice as large (at most
// MaxHandles+1 slots), once the owner is charged for it.
//
// Precondition: called by the table's owner.
func (t *HandleTable) grow() ([]tableEntry, error) {
	n := min(max(2*cap(t.entries), firstTableSlots), MaxHandles+1)
	if owner := t.owner(); owner != nil {
		cost := tableCost(n) - tableCost(cap(t.entries))
		if full := owner.chargeMem(cost); full != nil {
			return nil, fmt.Errorf("%w: a table of %d handles: %s", ErrLimit, n, full.describeFull(cost))
		}
	}
	grown := make([]tableEntry, max(len(t.entries), 1), n)
	copy(grown, t.entries)
	return grown, nil
}

// Get returns the capability h names, or false if h is not in the table.
func (t *HandleTable) Get(h Handle) (*Cap, bool) {
	i := h.index()
	if i == 0 || i >= uint32(len(t.entries)) {
		return nil, false
	}
	e := &t.entries[i]
	if !e.used || e.gen != h.gen() {
		return nil, false
	}
	return &e.Cap, true
}

// Remove takes h out of the table and returns what it held.
func (t *HandleTable) Remove(h Handle) (Cap, bool) {
	c, ok := t.Get(h)
	if !ok {
		return Cap{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := *c
	e := &t.entries[h.index()]
	e.Cap, e.used = Cap{}, false
	// A slot whose generations are used up is retired, not reused: its
	// next number would repeat one the process may still hold, and a
	// stale handle must never name a new right.
	if e.gen < maxGeneration {
		e.nextFree, t.freeHead = uint32(t.freeHead), uint16(h.index())
	}
	t.count--
	return out, true
}

// Find returns the first handle naming obj with the given kind, or 0.
func (t *HandleTable) Find(kind capkind.Kind, obj any) Handle {
	for i := 1; i < len(t.entries); i++ {
		e := &t.entries[i]
		if e.used && e.Kind == kind && e.Object == obj {
			return makeHandle(uint32(i), e.gen)
		}
	}
	return 0
}

// Len is the number of handles held.
func (t *HandleTable) Len() int { return int(t.count) }

// releaseAll empties the table, releasing every capability, and gives
// back what its array cost.
func (t *HandleTable) releaseAll() {
	t.mu.Lock()
	entries := t.entries
	t.entries, t.freeHead, t.count = nil, 0, 0
	t.mu.Unlock()
	if owner := t.owner(); owner != nil {
		owner.unchargeMem(tableCost(cap(entries)))
	}
	for i := range entries {
		if entries[i].used {
			entries[i].release()
		}
	}
}

// each calls f with every handle held, under the table's lock: f must not
// touch the table.
//
// Safe from any goroutine.
func (t *HandleTable) each(f func(Handle, *Cap)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 1; i < len(t.entries); i++ {
		if e := &t.entries[i]; e.used {
			f(makeHandle(uint32(i), e.gen), &e.Cap)
		}
	}
}
