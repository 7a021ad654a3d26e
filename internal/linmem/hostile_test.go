package linmem

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

// budgetAccount is an Account with a cap, counting what it holds.
type budgetAccount struct {
	mu      sync.Mutex
	charged int64
	budget  int64
}

func (a *budgetAccount) Charge(n int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.charged+n > a.budget {
		return false
	}
	a.charged += n
	return true
}

func (a *budgetAccount) Uncharge(n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.charged -= n
}

func (a *budgetAccount) held() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.charged
}

// modelMem is one memory under test and what it must read back.
type modelMem struct {
	a     *Allocator
	acct  *budgetAccount
	m     experimental.LinearMemory
	b     []byte
	limit uint64
	image []byte          // what it started from, if an image
	wrote map[uint64]byte // every byte written since, by offset
	run   bool            // Run was called: it may write anywhere
	preld uint64          // until then, it writes only below this
}

func (mm *modelMem) want(off uint64) byte {
	if v, ok := mm.wrote[off]; ok {
		return v
	}
	if off < uint64(len(mm.image)) {
		return mm.image[off]
	}
	return 0
}

// check compares every byte of the memory with the model: what it wrote,
// the image it started from, and zero everywhere else.
func (mm *modelMem) check(t *testing.T, step int, what string) {
	t.Helper()
	if cap(mm.b) != len(mm.b) {
		t.Fatalf("step %d (%s): cap %d != len %d: wazero would grow without asking", step, what, cap(mm.b), len(mm.b))
	}
	zero := make([]byte, pageSize)
	for off := uint64(0); off < uint64(len(mm.b)); off += pageSize {
		chunk := mm.b[off : off+pageSize]
		if off >= uint64(len(mm.image)) && bytes.Equal(chunk, zero) {
			continue // model entries in it are checked below
		}
		for i, v := range chunk {
			if w := mm.want(off + uint64(i)); v != w {
				t.Fatalf("step %d (%s): limit %d len %d: byte %d reads %#x, want %#x", step, what, mm.limit, len(mm.b), off+uint64(i), v, w)
			}
		}
	}
	for off, w := range mm.wrote {
		if off < uint64(len(mm.b)) && mm.b[off] != w {
			t.Fatalf("step %d (%s): limit %d len %d: written byte %d reads %#x, want %#x", step, what, mm.limit, len(mm.b), off, mm.b[off], w)
		}
	}
	if mm.acct != nil {
		if got := mm.acct.held(); got != int64(len(mm.b)) {
			t.Fatalf("step %d (%s): account holds %d for a memory of %d", step, what, got, len(mm.b))
		}
	}
}

// Random memories of every kind (small starts, first regions, memories
// past 64 MiB, images, limits below their size class, guests that have
// not run yet) grow, write and die in random order, from two goroutines
// sharing the pool: each reads back exactly what it wrote and its image,
// every new or grown byte reads zero, and the account holds what the
// guest was given.
func TestRandomMemoriesKeepTheirBytesAndNoOneElses(t *testing.T) {
	t.Parallel()
	im, imData := testImage(t)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() { hostileRun(t, uint64(g), im, imData) })
	}
	wg.Wait()
}

func hostileRun(t *testing.T, seed uint64, im *Image, imData []byte) {
	rng := rand.New(rand.NewPCG(seed, 99))
	const page = 65536
	limits := []uint64{page, 3 * page, 5 * page, 1 << 20, 3 << 20, 8 << 20}
	var mems []*modelMem
	bigLive := 0
	newMem := func(step int) {
		mm := &modelMem{a: &Allocator{}, wrote: map[uint64]byte{}}
		mm.limit = limits[rng.IntN(len(limits))]
		if bigLive == 0 && rng.IntN(40) == 0 {
			mm.limit = firstRegion + 4*page // will move to a region of its whole limit
			bigLive++
		}
		if rng.IntN(8) == 0 {
			mm.limit += 4096 // a limit that is no whole number of pages
		}
		mm.a.Limit = mm.limit
		initial := uint64(rng.IntN(6)) * page
		if rng.IntN(6) == 0 {
			initial = smallStart + page // just too big to start small
		}
		if rng.IntN(8) == 0 && mm.limit >= uint64(len(imData))+page {
			mm.a.Image, mm.image = im, imData
			initial = uint64(len(imData)) + uint64(rng.IntN(2))*page
			mm.a.NotRun(0)
		} else if rng.IntN(2) == 0 {
			mm.preld = uint64(rng.IntN(3*page + 1))
			mm.a.NotRun(mm.preld)
		} else {
			mm.run = true
		}
		initial = min(initial, mm.limit&^(page-1))
		if rng.IntN(2) == 0 {
			mm.acct = &budgetAccount{budget: int64(rng.IntN(12)) * page}
			mm.acct.budget = max(mm.acct.budget, int64(initial))
			mm.acct.charged = int64(initial) // charged at spawn
			mm.a.Account, mm.a.Prepaid = mm.acct, initial
		}
		mm.m = mm.a.Allocate(0, 1<<32)
		mm.b = mm.m.Reallocate(initial)
		if mm.b == nil && initial > 0 {
			t.Fatalf("step %d: the initial memory of %d (limit %d) was refused", step, initial, mm.limit)
		}
		mm.check(t, step, "new")
		mems = append(mems, mm)
	}
	write := func(mm *modelMem) {
		bound := uint64(len(mm.b))
		if !mm.run {
			bound = min(bound, mm.preld)
		}
		if bound == 0 {
			return
		}
		for range 1 + rng.IntN(40) {
			var off uint64
			switch rng.IntN(4) {
			case 3: // the last byte it may write
				off = bound - 1
			case 0: // the edges of a wasm page, where regions meet
				off = uint64(rng.IntN(int(bound/page)+1))*page + uint64(rng.IntN(3))
				off -= min(off, 1)
			default:
				off = rng.Uint64N(bound)
			}
			if off >= bound {
				continue
			}
			v := byte(rng.IntN(256))
			mm.b[off] = v
			mm.wrote[off] = v
		}
	}
	grow := func(step int, mm *modelMem) {
		size := uint64(len(mm.b)) + uint64(1+rng.IntN(3))*page
		if mm.limit > firstRegion && rng.IntN(4) == 0 {
			size = firstRegion + uint64(1+rng.IntN(4))*page
		}
		b := mm.m.Reallocate(size)
		if b == nil {
			if size <= mm.limit && (mm.acct == nil || int64(size) <= mm.acct.budget) {
				t.Fatalf("step %d: growth to %d within limit %d and budget refused", step, size, mm.limit)
			}
			mm.check(t, step, "refused growth")
			return
		}
		if size > mm.limit {
			t.Fatalf("step %d: grew to %d past limit %d", step, size, mm.limit)
		}
		if uint64(len(b)) != size {
			t.Fatalf("step %d: grew to len %d, asked %d", step, len(b), size)
		}
		mm.b = b
		mm.check(t, step, "grown")
	}
	free := func(step int, i int) {
		mm := mems[i]
		mm.check(t, step, "before free")
		mm.m.Free()
		if mm.acct != nil && mm.acct.held() != 0 {
			t.Fatalf("step %d: account holds %d after Free", step, mm.acct.held())
		}
		if mm.limit > firstRegion {
			bigLive--
		}
		mems[i] = mems[len(mems)-1]
		mems = mems[:len(mems)-1]
	}
	for step := range 3000 {
		switch op := rng.IntN(10); {
		case len(mems) < 4 || op < 2:
			newMem(step)
		case op < 5:
			write(mems[rng.IntN(len(mems))])
		case op < 7:
			grow(step, mems[rng.IntN(len(mems))])
		case op < 8:
			mm := mems[rng.IntN(len(mems))]
			mm.a.Run()
			mm.run = true
		default:
			free(step, rng.IntN(len(mems)))
		}
		if len(mems) > 40 {
			free(step, rng.IntN(len(mems)))
		}
	}
	for len(mems) > 0 {
		free(-1, 0)
	}
}
