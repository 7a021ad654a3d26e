package kernel

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isle-run/isle/internal/linmem"
	"github.com/isle-run/isle/internal/wasip1"
)

// A reactor with _initialize (every Go reactor) spends milliseconds in it
// at every spawn, and ends it holding megabytes that are the same in every
// instance. So the kernel snapshots a module's state after _initialize
// once, as Wizer does, and starts later processes from that image: their
// linear memory maps it copy-on-write (linmem.Image), their mutable
// globals start at the snapshot's values (baked into a module of the same
// code without data segments), and _initialize does not run again. See
// snapshot.go for how the image is made and when a module cannot have one.
//
// What initialisation can observe is part of an image's key: the module,
// and the process's WASI view (arguments, environment, preopen names,
// which stdio streams are terminals, the kind of clock, whether it has
// entropy). Processes whose view differs get different images.

// ErrNoImage is why a module, with a given set of grants, cannot start
// from an image; the error wrapping it says what stood in the way.
var ErrNoImage = errors.New("no image")

// Images are made for a view on its second spawn (a module spawned once
// gains nothing from one), at most maxImages per module. A view whose
// image was evicted, or whose build ran out of a budget, waits for twice
// as many spawns before the next try, up to maxImageWait (image_cache.go).
// A node remembers at most maxImageKeys views, so that spawns with ever
// new arguments cannot grow the table without bound.
const (
	imageAfterSpawns = 2
	maxImageWait     = 1 << 12
	maxImages        = 8
	maxImageKeys     = 4096
)

// image is a module's state after _initialize, ready to start processes
// from.
type image struct {
	// mod is the image module: the same code, its mutable globals' initial
	// values the snapshot's, no data segments, a memory as large as the
	// snapshot's; a reactor with no _initialize to run.
	mod *Module
	mem *linmem.Image
	// inbox and inboxCap are where the guest asked, during its init, for
	// its messages to be copied.
	inbox, inboxCap uint32
	// mono is the snapshot's monotonic clock after init: no clone reads
	// less. virtual says the snapshot ran on a virtual clock.
	mono    int64
	virtual bool
	// fuel is what the snapshot's init spent: every clone is charged it,
	// as if it had run the init itself (see Process.useImage).
	fuel int64
	// refs counts the holders of mod: the node's cache while the image is
	// in it, and each process started from it, which instantiates mod at
	// every wake. The last release closes mod's compiled code.
	refs atomic.Int64
	// memRefs counts the holders of mem: the cache, and each process until
	// its memory is placed (Process.instantiate), as a mapping holds the
	// file's pages itself and a copy needs them no more. The last closes
	// mem, so an evicted image's pages outlive it only in its clones'
	// mappings, which their charges cover. A holder of mem holds mod too.
	memRefs atomic.Int64
}

// acquire takes a hold on img for a process, on its memory and its module,
// unless its memory is closed already. Safe from any goroutine.
func (img *image) acquire() bool {
	for {
		n := img.memRefs.Load()
		if n <= 0 {
			return false
		}
		if img.memRefs.CompareAndSwap(n, n+1) {
			img.refs.Add(1)
			return true
		}
	}
}

// releaseMem gives back a hold on img's memory; the last closes the
// memfd. Safe from any goroutine.
func (img *image) releaseMem() {
	switch n := img.memRefs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("kernel: image memory released more often than acquired")
	}
	_ = img.mem.Close()
}

// release gives back a hold on img's module; the last closes its
// compiled code (wazero counts a module compiled twice as two holds, so
// an image module another image shares stays). Safe from any goroutine.
func (img *image) release() {
	switch n := img.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("kernel: image released more often than acquired")
	}
	_ = img.mod.compiled.Close(context.Background())
}

// imageEntry is the image of one key, once it is made. Once done is
// closed the entry does not change: evicting an image or retrying a build
// puts a new entry in its place (see image_cache.go).
type imageEntry struct {
	mod    *Module
	spawns int    // spawns seen with this key; guarded by Kernel.mu
	need   int    // spawns that start a build; guarded by Kernel.mu
	slot   bool   // counted in mod.images; guarded by Kernel.mu
	used   uint64 // Kernel.imageUses at its last use; guarded by Kernel.mu
	// tried, short and failed are, on a view's entry after a build ran
	// out of a budget, the budget it had, what it ran out of, and how it
	// failed (see mayTry). Set once.
	tried  imageLimits
	short  budget
	failed error
	done   chan struct{} // closed when img or err is set; nil until a build starts
	img    *image
	err    error
}

// imageKey is what an image is cached by: the module and its WASI view.
func imageKey(m *Module, cfg *wasip1.Config) [32]byte {
	h := sha256.New()
	h.Write(m.sum[:])
	if m.usesWASI {
		wasip1.InitView(cfg, h)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// imageCandidate reports whether processes of m could start from an image:
// a reactor that has an _initialize to skip, or a Go command, whose
// runtime and package init can be skipped (see gocut.go).
func (m *Module) imageCandidate() bool {
	return m.rewritten != nil // kept for those only (see compile)
}

// readyImage returns the image for a process of m with WASI view cfg, if
// one is ready, held for the process (image.acquire). Otherwise it
// counts the spawn and, on the spawn that warrants it, starts making one
// in the background for the next spawns.
func (k *Kernel) readyImage(m *Module, cfg *wasip1.Config, lim imageLimits) *image {
	key := imageKey(m, cfg)
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.images[key]
	if e == nil && len(k.images) >= maxImageKeys && !k.forgetIdleView() {
		return nil
	}
	if e == nil {
		e = k.imageEntry(key, m)
	}
	if e.done == nil {
		if e.spawns++; e.spawns >= e.need && e.mayTry(lim) {
			k.startImage(key, cfg, e, lim)
		}
		return nil
	}
	select {
	case <-e.done:
		if e.img != nil && e.img.acquire() {
			k.imageUses++
			e.used = k.imageUses
			return e.img
		}
	default:
	}
	return nil
}

// imageEntry finds or adds the entry of key. Precondition: k.mu held.
func (k *Kernel) imageEntry(key [32]byte, m *Module) *imageEntry {
	e := k.images[key]
	if e == nil {
		e = &imageEntry{mod: m, need: imageAfterSpawns}
		k.images[key] = e
		k.idleViews = append(k.idleViews, key)
	}
	return e
}

// startImage starts making e's image within lim, unless the module has
// too many or the kernel is closed. A build that runs out of lim, or of
// the node's room, is tried again later in the same slot (retryImage):
// taking a new slot for each try let poor trees use up a module's
// maxImages with failures (found in review).
// Precondition: k.mu held and e.done nil.
func (k *Kernel) startImage(key [32]byte, cfg *wasip1.Config, e *imageEntry, lim imageLimits) {
	m := e.mod
	e.done = make(chan struct{})
	if !e.slot {
		if m.images >= maxImages {
			e.err = fmt.Errorf("%w: %s has %d images already, for other arguments, environments or grants", ErrNoImage, m.Name, maxImages)
			close(e.done)
			return
		}
		m.images++
		e.slot = true
	}
	if k.closed {
		e.err = fmt.Errorf("%w: %w", ErrNoImage, ErrNodeClosed)
		close(e.done)
		return
	}
	k.compiles.Add(1)
	k.stats.imageBuilds.Add(1)
	snapCfg := snapshotConfig(cfg)
	go func() {
		defer k.compiles.Done()
		img, err := k.makeImage(m, &snapCfg, lim)
		if err != nil {
			k.log.Debug("module runs without an image", "module", m.Name, "reason", err)
		} else {
			k.imageBytes.Add(int64(img.mem.Size()))
		}
		e.img, e.err = img, err
		if shortOf(err) != enough {
			k.retryImage(key, e, lim) // before done: a PrepareImage woken by it finds the retry
		}
		close(e.done)
	}()
}

// PrepareImage makes the image processes of m spawned with spec start
// from, or finds it made, and returns once spawns use it. It fails,
// wrapping ErrNoImage and saying why, when they cannot have one.
//
// Safe from any goroutine.
func (k *Kernel) PrepareImage(ctx context.Context, m *Module, spec Spec) error {
	if k.noImages || spec.NoImage {
		return fmt.Errorf("%w: images are turned off", ErrNoImage)
	}
	if !m.imageCandidate() {
		return fmt.Errorf("%w: %s is neither a reactor with an _initialize function nor a Go command", ErrNoImage, m.Name)
	}
	cfg := k.wasiConfig(m, &spec)
	key := imageKey(m, &cfg)
	lim := imageLimits{memory: int64(spec.MemoryLimit), fuel: spec.Fuel, timeout: spec.Timeout}
	for try := 0; ; try++ {
		k.mu.Lock()
		e := k.imageEntry(key, m)
		mine := e.done == nil
		if mine && !e.mayTry(lim) {
			k.mu.Unlock()
			return e.failed // ran out within a budget lim is no larger than
		}
		if mine {
			k.startImage(key, &cfg, e, lim)
		}
		done := e.done
		k.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		// A build a spawn started may have run out of a narrower budget
		// than spec's: try once more, within spec's.
		if mine || try > 0 || shortOf(e.err) == enough {
			return e.err
		}
	}
}

// useImage starts p from an image, if one is ready for its view and its
// tree can hold the image's memory, adjusting cfg for a clone: its clock
// goes on from the snapshot's. p holds the image's memory until it is
// placed, and its module until closeMem.
func (p *Process) useImage(cfg *wasip1.Config) {
	img := p.k.readyImage(p.mod, cfg, p.group.imageLimits())
	if img == nil {
		return
	}
	if p.alloc.Limit != 0 && img.mod.minMemory > p.alloc.Limit {
		img.releaseMem()
		img.release()
		return
	}
	extra := int64(img.mod.minMemory) - int64(p.mod.minMemory)
	if p.chargeMem(extra) != nil {
		img.releaseMem()
		img.release()
		return // the full init may still fit where the image does not
	}
	p.extras().image = img
	p.alloc.Prepaid += uint64(extra)
	p.alloc.Image = img.mem
	p.alloc.NotRun(0)
	p.inbox, p.inboxCap = img.inbox, img.inboxCap
	p.fuel.debt = img.fuel // Stats.Fuel and fuel budgets as if it had run its init
	if img.virtual {
		cfg.Clock = wasip1.NewVirtualClockAt(img.mono)
	} else {
		origin := p.k.epoch
		if behind := time.Duration(img.mono) - time.Since(origin); behind > 0 {
			origin = origin.Add(-behind) // a snapshot from an older epoch
		}
		cfg.Clock = wasip1.NewRealClock(origin)
	}
}

// closeImages releases every image's memfd, once no process is left to
// start from one.
func (k *Kernel) closeImages() {
	k.mu.Lock()
	entries := k.images
	k.images, k.idleViews = map[[32]byte]*imageEntry{}, nil
	k.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range entries {
		if e.done == nil {
			continue
		}
		wg.Go(func() {
			<-e.done
			if e.img != nil {
				k.dropImage(e.img)
			}
		})
	}
	wg.Wait()
}
