package kernel

import (
	"errors"
	"fmt"
	"math"

	isleapi "github.com/isle-run/isle/api"
)

// Links and monitors follow Erlang. A link is two-way: when either end
// exits with anything but a normal exit with code 0, the other end is
// killed, unless it traps exits, in which case it receives a TagExit
// message. A monitor is one-way: its holder receives exactly one TagDown
// message when the target ends, whatever the reason.

// watch is one monitor: held by watcher (under ref), registered on target.
// A watch with no watcher is a host's, on behalf of node: it calls notify
// instead of queuing a message.
type watch struct {
	watcher *Process
	target  Target
	ref     uint32
	// listed is set while the watch is in its target's watchList; it and
	// prev and next are guarded by the target's mu, and next, once take
	// has returned the watch, by the caller of take.
	listed     bool
	node       string
	notify     func(isleapi.Exit)
	prev, next *watch
}

// watchList is the monitors registered on a target, linked through the
// watches themselves: the memory a monitor takes is then all in what its
// watcher holds and pays for, and goes with it, where a map on the
// target would keep its room after the watches were gone. Guarded by its
// target's mu.
type watchList struct{ head *watch }

func (l *watchList) add(w *watch) {
	w.prev, w.next, w.listed = nil, l.head, true
	if l.head != nil {
		l.head.prev = w
	}
	l.head = w
}

// remove takes w out of l, if it is still there.
func (l *watchList) remove(w *watch) {
	if !w.listed {
		return
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.listed = nil, nil, false
}

// take empties l and returns its watches, linked through next, for the
// caller to walk once it lets go of the target's mu: a remove from then
// on finds them unlisted and leaves the chain alone.
func (l *watchList) take() *watch {
	head := l.head
	for w := head; w != nil; w = w.next {
		w.listed, w.prev = false, nil
	}
	l.head = nil
	return head
}

// downAll delivers the down message of every watch in a chain from take.
// A watcher that has ended would refuse the message, so none is built for
// it: a process that monitored itself 65,536 times made as many messages
// as it died, each thrown away.
//
// It unlinks each watch first: its watcher keeps it until it takes the
// down, and through next and prev it kept every other watch on the dead
// target, charged to no one (16 kids that died with 65,536 monitors on
// themselves kept 83 MiB in the one monitor their parent held on each).
func downAll(head *watch, exit isleapi.Exit) {
	for w := head; w != nil; {
		next := w.next
		w.next = nil
		if w.notify != nil || !w.watcher.Ended() {
			_ = w.down(exit, false)
		}
		w = next
	}
}

// MaxLinks bounds the links one process holds at once, and MaxSignals the
// exit and down signals queued for it, so that no loop of link or monitor
// calls can grow the node's memory without end. (MaxMonitors bounds
// monitors.)
const (
	MaxLinks   = 1 << 16
	MaxSignals = MaxLinks + MaxMonitors
)

// Link links p and q. If q has already ended, p gets the exit signal at
// once with reason noproc. It fails with ErrLimit when p holds MaxLinks
// links, when p's tree or q's cannot pay for room for its end of the link
// (see roomForLink), or when the noproc signal would not fit (see
// exitSignal).
//
// Precondition: called by p's own goroutine or turn, or by the kernel
// while p is made.
func (p *Process) Link(q Target) error {
	if q == Target(p) {
		return nil
	}
	// p's side first: if p ends meanwhile, its finish finds q and tells
	// it, so no exit signal is lost; q may keep a stale entry for a dead
	// p, whose signal then goes nowhere.
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return nil
	}
	if _, linked := p.links[q]; !linked {
		if len(p.links) >= MaxLinks {
			p.mu.Unlock()
			return fmt.Errorf("%w: %d links held", ErrLimit, MaxLinks)
		}
		if err := p.roomForLink(); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	if p.links == nil {
		p.links = map[Target]struct{}{}
	}
	p.links[q] = struct{}{}
	p.mu.Unlock()
	dead, err := q.addLink(p)
	if !dead && err == nil {
		return nil
	}
	p.mu.Lock()
	delete(p.links, q)
	full := p.mbox.signals >= MaxSignals
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("its peer's end of the link: %w", err)
	}
	if full {
		return fmt.Errorf("%w: %d exit and down signals queued", ErrLimit, MaxSignals)
	}
	return p.exitSignal(q, isleapi.Exit{}, true)
}

// roomForLink makes sure p's account pays for a map of links one larger
// than p holds: a Go map keeps its room when emptied, so p pays for the
// most links it has held at once, beyond linkAllowance, a chunk at a time.
// It fails with ErrLimit where p's tree or the node cannot pay.
//
// Precondition: p.mu is held.
func (p *Process) roomForLink() error {
	if len(p.links) < linkAllowance+int(p.linkChunks)*linkChunk {
		return nil
	}
	if p.linkChunks == math.MaxUint16 {
		return fmt.Errorf("%w: %d links held", ErrLimit, len(p.links))
	}
	const cost = linkChunk * linkCost
	if full := p.chargeMem(cost); full != nil {
		return fmt.Errorf("%w: room for %d links: %s", ErrLimit, len(p.links)+linkChunk, full.describeFull(cost))
	}
	p.linkChunks++
	return nil
}

// Unlink removes a link between p and q, if there is one.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Unlink(q Target) {
	p.mu.Lock()
	delete(p.links, q)
	p.mu.Unlock()
	q.removeLink(p)
}

// addLink implements Target. p pays for its own end of the link, as q
// does for its: what the host holds for a process is charged to it.
func (p *Process) addLink(q *Process) (bool, error) {
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		p.awaitSignals()
		return true, nil
	}
	if _, linked := p.links[q]; !linked {
		if err := p.roomForLink(); err != nil {
			p.mu.Unlock()
			return false, err
		}
	}
	if p.links == nil {
		p.links = map[Target]struct{}{}
	}
	p.links[q] = struct{}{}
	p.mu.Unlock()
	return false, nil
}

// awaitSignals returns once a dead p has told its links of its exit.
func (p *Process) awaitSignals() {
	p.signalling.Lock()
	p.signalling.Unlock() //lint:ignore SA2001 a barrier: finish holds it until its links are told
}

// removeLink implements Target.
func (p *Process) removeLink(q *Process) {
	p.mu.Lock()
	delete(p.links, q)
	p.mu.Unlock()
}

// linkedExit implements Target: q, linked to p, ended.
func (p *Process) linkedExit(q *Process, exit isleapi.Exit) {
	p.removeLink(q)
	_ = p.exitSignal(q, exit, false)
}

// exitSignal tells p that from, a process or service linked to it, ended.
// A noproc signal is one p asked for by linking to something already
// ended: it is charged to p like a message, and fails with ErrLimit where
// p's tree cannot hold it.
func (p *Process) exitSignal(from Target, exit isleapi.Exit, noproc bool) error {
	if p.trap.Load() {
		mode := sendForce
		if noproc {
			mode = sendSignal
		}
		err := p.enqueue(&Message{Tag: TagExit, Data: exitPayload(exit, noproc), from: from}, mode, nil)
		if errors.Is(err, ErrGone) {
			return nil // p ended meanwhile
		}
		return err
	}
	if noproc {
		p.Kill("link: noproc")
		return nil
	}
	if exit.Kind == isleapi.ExitNormal && exit.Code == 0 {
		return nil
	}
	p.Kill("link: " + exit.String())
	return nil
}

// Shutdown asks p to end, with a TagShutdown message that jumps no queue:
// a process handles what was sent before it first. Safe from any
// goroutine.
func (p *Process) Shutdown() {
	_ = p.enqueue(&Message{Tag: TagShutdown}, sendForce, nil)
}

// TrapExits sets whether exit signals arrive as messages, returning the
// previous setting.
//
// Safe from any goroutine.
func (p *Process) TrapExits(on bool) bool { return p.trap.Swap(on) }

// MaxMonitors bounds the monitors one process holds at once, so that a
// loop of monitor calls cannot grow the node's memory without end.
const MaxMonitors = 1 << 16

// Monitor starts watching q and returns the reference its TagDown message
// will carry. It fails with ErrLimit when p holds MaxMonitors monitors, or
// when its tree or the node cannot pay for room for one more: p pays for
// the most monitors it has held at once (its map keeps their room),
// beyond monitorAllowance, a chunk at a time.
//
// Precondition: called by p's own goroutine or turn.
func (p *Process) Monitor(q Target) (uint32, error) {
	n := len(p.watching)
	if n >= MaxMonitors {
		return 0, fmt.Errorf("%w: %d monitors held", ErrLimit, MaxMonitors)
	}
	if n >= monitorAllowance+int(p.watchChunks)*monitorChunk {
		const cost = monitorChunk * monitorCost
		if full := p.chargeMem(cost); full != nil {
			return 0, fmt.Errorf("%w: room for %d monitors: %s", ErrLimit, n+monitorChunk, full.describeFull(cost))
		}
		p.watchChunks++
	}
	p.nextRef++
	if p.nextRef == 0 {
		p.nextRef = 1
	}
	w := &watch{watcher: p, target: q, ref: p.nextRef}
	if p.watching == nil {
		p.watching = map[uint32]*watch{}
	}
	p.watching[w.ref] = w
	if q.addWatch(w) {
		if err := w.down(isleapi.Exit{}, true); err != nil {
			delete(p.watching, w.ref)
			return 0, err
		}
	}
	return w.ref, nil
}

// Demonitor cancels the monitor ref; no TagDown for it is delivered after
// it returns, even one already in the mailbox. It reports whether ref was
// an active monitor.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Demonitor(ref uint32) bool {
	w, ok := p.watching[ref]
	if !ok {
		return false
	}
	delete(p.watching, ref)
	w.cancel()
	// Flush a TagDown that raced in.
	p.mu.Lock()
	if b := p.mbox.hand; b != nil {
		if m := b.takeDown(ref); m != nil {
			p.commit(true)
			p.mu.Unlock()
			m.recycle()
			return true
		}
	}
	for i := p.mbox.head; i < len(p.mbox.q); i++ {
		if m := p.mbox.q[i]; m.Tag == TagDown && m.ref == ref {
			p.mbox.removeAt(i)
			p.unadmit(messageSize(m))
			m.recycle()
			break
		}
	}
	p.mu.Unlock()
	return true
}

// cancel unregisters the monitor from its target.
func (w *watch) cancel() { w.target.removeWatch(w) }

// addWatch implements Target.
func (p *Process) addWatch(w *watch) bool {
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		p.awaitSignals()
		return true
	}
	p.monitors.add(w)
	p.mu.Unlock()
	return false
}

// removeWatch implements Target.
func (p *Process) removeWatch(w *watch) {
	p.mu.Lock()
	p.monitors.remove(w)
	p.mu.Unlock()
}

// down delivers the monitor's TagDown message. A noproc one, which the
// watcher asked for by monitoring a dead process, is charged like a
// message and fails with ErrLimit where the watcher's tree cannot hold it.
func (w *watch) down(exit isleapi.Exit, noproc bool) error {
	if w.notify != nil {
		w.notify(exit)
		return nil
	}
	mode := sendForce
	if noproc {
		mode = sendSignal
	}
	err := w.watcher.enqueue(&Message{Tag: TagDown, Data: exitPayload(exit, noproc), ref: w.ref}, mode, nil)
	if errors.Is(err, ErrGone) {
		return nil // the watcher ended meanwhile
	}
	return err
}
