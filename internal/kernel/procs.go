package kernel

import (
	"iter"
	"maps"
	"slices"
)

// procPageSlots is how many consecutive ids one page of a procTable
// holds. A page lives while any of its processes does, so a long-lived
// process among dead ones keeps 512 bytes; a dense run of live ones costs
// 8 bytes each.
const procPageSlots = 64

// procTable holds the live processes by id. Ids are handed out in
// increasing order, so it is a map from page number to a page of slots:
// registering writes a slot of the newest page, and a page goes when its
// last process does. A map by id took 6% of a spawn's CPU at 200,000 live
// processes, in the inserts and the growth of the map.
//
// It has no lock of its own: Kernel.mu guards it.
type procTable struct {
	pages map[uint64]*procPage
	n     int
}

type procPage struct {
	slots [procPageSlots]*Process
	live  int
}

func (t *procTable) len() int { return t.n }

// put adds p under p.ID, which no live process has.
func (t *procTable) put(p *Process) {
	if t.pages == nil {
		t.pages = make(map[uint64]*procPage)
	}
	pg := t.pages[p.ID/procPageSlots]
	if pg == nil {
		pg = new(procPage)
		t.pages[p.ID/procPageSlots] = pg
	}
	pg.slots[p.ID%procPageSlots] = p
	pg.live++
	t.n++
}

// get returns the live process numbered id, or nil.
func (t *procTable) get(id uint64) *Process {
	if pg := t.pages[id/procPageSlots]; pg != nil {
		return pg.slots[id%procPageSlots]
	}
	return nil
}

// remove drops p, if it is the process under its id.
func (t *procTable) remove(p *Process) {
	pg := t.pages[p.ID/procPageSlots]
	if pg == nil || pg.slots[p.ID%procPageSlots] != p {
		return
	}
	pg.slots[p.ID%procPageSlots] = nil
	t.n--
	if pg.live--; pg.live == 0 {
		delete(t.pages, p.ID/procPageSlots)
	}
}

// all yields the live processes in increasing id order.
func (t *procTable) all() iter.Seq[*Process] {
	return func(yield func(*Process) bool) {
		for _, n := range slices.Sorted(maps.Keys(t.pages)) {
			pg := t.pages[n]
			if pg == nil {
				continue // emptied while the caller iterated
			}
			// By index: a range over the array would walk a copy, and
			// list a process removed after the walk reached its page.
			for i := range pg.slots {
				if p := pg.slots[i]; p != nil && !yield(p) {
					return
				}
			}
		}
	}
}
