package kernel

import (
	"cmp"
	"errors"
	"math"
	"slices"
)

// Images are a cache: a process runs the same with or without one, only
// slower to start. So an image takes only room no process needs. When a
// process's charge finds the node's ceiling full, the images least
// recently started from are evicted to make room (evictImages), and a
// build that runs out of a budget (the node's room, the asking tree's
// memory, fuel or time) leaves its view to try again later (retryImage).
// Each time, the view waits twice as many spawns before its next build,
// so that a node short of memory does not spend its cores rebuilding what
// it then drops; and a retry after the asking tree's budget ran out needs
// a tree with more of it (mayTry), so that trees that spawn and die cannot
// have the node run an init for them again and again. A retry keeps the
// view's place among its module's maxImages.
//
// A process started from an image holds it (image.acquire) until it
// ends, so eviction never pulls an image from under a spawn; the pages its
// clones share, and its compiled code, stay until the last of them ends,
// the pages charged to each clone in full as they always are.

// Images is what finished images hold now, in bytes, charged to the
// node's ceiling, how many images were evicted to make room for processes
// since the node started, and how many builds were started.
//
// Safe from any goroutine.
func (k *Kernel) Images() (bytes int64, evicted, builds uint64) {
	return k.imageBytes.Load(), k.stats.imagesEvicted.Load(), k.stats.imageBuilds.Load()
}

// budgetError marks an image build that ran out of a budget it was given
// rather than failing for what its module does: the node's room, or the
// memory, fuel or time of the tree that asked. A later try, with room
// freed or by a tree with more, may succeed.
type budgetError struct {
	error
	short budget
}

func (e budgetError) Unwrap() error { return e.error }

// budget names what a build ran out of.
type budget uint8

const (
	enough      budget = iota
	outOfRoom          // the node's ceiling
	outOfMemory        // the asking tree's memory limit
	outOfFuel          // the asking tree's fuel
	outOfTime          // the asking tree's timeout
)

// shortOf is what err says the build ran out of, or enough.
func shortOf(err error) budget {
	var b budgetError
	if errors.As(err, &b) {
		return b.short
	}
	return enough
}

// refusal says what a charge that full refused ran out of: the node's
// room, the asking tree's memory, or (the snapshot's own bound) nothing
// a later try could have more of.
func (k *Kernel) refusal(full *Group) budget {
	switch {
	case full == k.node:
		return outOfRoom
	case full.memLimit < snapshotMemory:
		return outOfMemory
	}
	return enough
}

// normal is lim with its zeros (no bound) made the snapshot's own bounds.
func (lim imageLimits) normal() imageLimits {
	if lim.memory <= 0 || lim.memory > snapshotMemory {
		lim.memory = snapshotMemory
	}
	if lim.fuel <= 0 {
		lim.fuel = math.MaxInt64
	}
	if lim.timeout <= 0 || lim.timeout > snapshotTimeout {
		lim.timeout = snapshotTimeout
	}
	return lim
}

// mayTry reports whether a build within lim may succeed where e's last one
// ran out of e.short within e.tried: lim must be as large in every bound,
// and twice as large (or the snapshot's own) in the one that ran out, so
// that a tenant's trees cannot have the node build again and again at
// its own cost; only the node's room needs no more. Precondition: k.mu
// held.
func (e *imageEntry) mayTry(lim imageLimits) bool {
	if e.short == enough {
		return true
	}
	a, b := lim.normal(), e.tried.normal()
	if a.memory < b.memory || a.fuel < b.fuel || a.timeout < b.timeout {
		return false
	}
	switch e.short {
	case outOfMemory:
		return a.memory >= min(2*b.memory, snapshotMemory)
	case outOfFuel:
		return a.fuel/2 >= b.fuel
	case outOfTime:
		return a.timeout >= min(2*b.timeout, snapshotTimeout)
	}
	return true
}

// nextWait is how many spawns a view waits for before its next build.
func nextWait(need int) int { return min(2*max(need, imageAfterSpawns), maxImageWait) }

// retryImage puts a fresh entry in place of e, whose build within lim ran
// out of a budget, so that later spawns of its view try again: after
// twice as many spawns, and from a tree with more of what ran out.
func (k *Kernel) retryImage(key [32]byte, e *imageEntry, lim imageLimits) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.images[key] == e {
		k.images[key] = &imageEntry{mod: e.mod, slot: true, need: nextWait(e.need),
			tried: lim, short: shortOf(e.err), failed: e.err}
	}
}

// evictImages evicts the least recently used images until the node's
// ceiling has room for n more bytes. It evicts nothing, and reports false,
// if all of them would not make that room.
//
// Safe from any goroutine holding no lock above Kernel.mu.
func (k *Kernel) evictImages(n int64) bool {
	short := n - (k.node.memLimit - k.node.mem.Load())
	if short <= 0 {
		return true // room was freed meanwhile
	}
	if k.imageBytes.Load() < short {
		return false // checked before the scan: a failing charge is cheap
	}
	type candidate struct {
		key [32]byte
		e   *imageEntry
	}
	k.mu.Lock()
	var ready []candidate
	var held int64
	for key, e := range k.images {
		if e.ready() {
			ready = append(ready, candidate{key, e})
			held += int64(e.img.mem.Size())
		}
	}
	if held < short {
		k.mu.Unlock()
		return false
	}
	slices.SortFunc(ready, func(a, b candidate) int { return cmp.Compare(a.e.used, b.e.used) })
	var dropped []*image
	for _, c := range ready {
		if short <= 0 {
			break
		}
		k.images[c.key] = &imageEntry{mod: c.e.mod, slot: true, need: nextWait(c.e.need)}
		short -= int64(c.e.img.mem.Size())
		dropped = append(dropped, c.e.img)
	}
	k.stats.imagesEvicted.Add(uint64(len(dropped)))
	k.mu.Unlock()
	for _, img := range dropped {
		k.dropImage(img)
	}
	return true
}

// ready reports whether e holds a finished image. Precondition: k.mu held.
func (e *imageEntry) ready() bool {
	if e.done == nil {
		return false
	}
	select {
	case <-e.done:
		return e.img != nil
	default:
		return false
	}
}

// dropImage lets go of the node's hold on img and gives back its charge.
func (k *Kernel) dropImage(img *image) {
	size := int64(img.mem.Size())
	k.imageBytes.Add(-size)
	img.releaseMem()
	img.release()
	k.node.uncharge(size)
}

// forgetIdleView drops the oldest view that holds none of its module's
// maxImages (it is counting spawns, or its module had no image left for
// it), to make room in a full table, and reports whether it found one.
// Views whose image is made, being made, failed or was evicted stay: the
// maxImages they hold bound what builds cost. Each key is looked at once
// after it is added, so a spawn pays for the views it skips only once.
// Precondition: k.mu held.
func (k *Kernel) forgetIdleView() bool {
	for len(k.idleViews) > 0 {
		key := k.idleViews[0]
		k.idleViews = k.idleViews[1:]
		if e := k.images[key]; e != nil && !e.slot {
			delete(k.images, key)
			return true
		}
	}
	return false
}
