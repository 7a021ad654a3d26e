package kernel

import (
	"fmt"
)

// A process's memory account holds everything the node keeps for it: its
// linear memory, its tables, its call stack, the messages and signals
// queued for it, host-side buffers such as HTTP bodies, and a fixed share
// for its kernel state. Every byte is charged to its tree's Group, and so
// to the node's ceiling, before the node holds it.
const (
	// ProcessOverhead is the fixed charge of a process: its kernel state
	// and wasm instance on the host, and the mailbox allowance below.
	ProcessOverhead = 4 << 10
	// MailboxAllowance is how many bytes of queued messages a process
	// holds within ProcessOverhead. Beyond it, a mailbox is charged in
	// mailboxStep steps, so that a process trading small messages never
	// touches its tree's counters.
	MailboxAllowance = 1 << 10
	mailboxStep      = 4 << 10
	// messageOverhead is what the kernel holds for a queued message beside
	// its payload: the Message (its causality chain included) and its
	// slot in the mailbox.
	messageOverhead = 256
	// capOverhead is what each capability carried in a message adds.
	capOverhead = 48
	// monitorCost is what a monitor its holder keeps costs the Go heap:
	// the watch (80 bytes) and its slot in the holder's map by ref, which
	// measured 101 to 123 bytes in all between 32 and 65,536 monitors.
	// A map keeps its room when emptied, so the charge is for the most
	// monitors held at once, in chunks of monitorChunk beyond
	// monitorAllowance within ProcessOverhead.
	monitorCost      = 128
	monitorChunk     = 32
	monitorAllowance = 4
	// linkCost is what a link costs each end: its slot in the end's map of
	// links, which measured 31 to 58 bytes between 32 and 65,536 links.
	// It is charged as monitors are, for the most links held at once.
	linkCost      = 64
	linkChunk     = 64
	linkAllowance = 8
)

// chargeMem charges n bytes to p's account. It returns nil, or the group
// whose limit would be passed, charging nothing.
func (p *Process) chargeMem(n int64) (full *Group) {
	if n == 0 {
		return nil
	}
	if p.memClosed.Load() {
		return p.group
	}
	if full = p.group.charge(n); full != nil {
		if !p.makeRoom(full, n) {
			return full
		}
		if full = p.group.charge(n); full != nil {
			return full
		}
	}
	p.notePeak(p.mem.Add(n))
	return nil
}

// makeRoom evicts images to make room under the node's ceiling, which
// full is, for a charge of n bytes, and reports whether it did. An image's
// own init evicts nothing (images make room for processes, not for each
// other); it notes a refusal for want of a budget, so that its view may
// try again later.
func (p *Process) makeRoom(full *Group, n int64) bool {
	if x := p.extra; x != nil && x.snap != nil {
		if short := p.k.refusal(full); short != enough {
			x.snap.short.Store(uint32(short))
		}
		return false
	}
	return full == p.k.node && p.k.evictImages(n)
}

// forceChargeMem charges n bytes past any limit, for what the kernel must
// hold and bounds by other means (exit signals, init messages).
func (p *Process) forceChargeMem(n int64) {
	if n == 0 || p.memClosed.Load() {
		return
	}
	p.group.forceCharge(n)
	p.notePeak(p.mem.Add(n))
}

// unchargeMem gives back n bytes.
func (p *Process) unchargeMem(n int64) {
	if n == 0 || p.memClosed.Load() {
		return
	}
	p.mem.Add(-n)
	p.group.uncharge(n)
}

// closeMem gives back everything the account still holds, when the process
// has ended and released it all; later charges fail and uncharges do
// nothing.
func (p *Process) closeMem() {
	if p.memClosed.Swap(true) {
		return
	}
	p.group.uncharge(p.mem.Swap(0))
	if img := p.startImage(); img != nil {
		if p.alloc.Image != nil { // its memory was never made
			p.alloc.Image = nil
			img.releaseMem()
		}
		img.release()
	}
}

func (p *Process) notePeak(v int64) {
	for q := p.peakMem.Load(); v > q && !p.peakMem.CompareAndSwap(q, v); q = p.peakMem.Load() {
	}
}

// messageSize is what a queued message costs its receiver's account.
func messageSize(m *Message) int64 {
	return int64(len(m.Data)) + messageOverhead + capOverhead*int64(len(m.Caps))
}

// memAccount lets the linear memory allocator charge the process.
type memAccount struct{ p *Process }

// Charge implements linmem.Account.
func (a memAccount) Charge(n int64) bool { return a.p.chargeMem(n) == nil }

// Uncharge implements linmem.Account.
func (a memAccount) Uncharge(n int64) { a.p.unchargeMem(n) }

// ChargeHost charges n bytes the host holds for p, such as a request body
// on its way to it. It fails with ErrLimit past the tree's memory limit or
// the node's ceiling. Safe from any goroutine.
func (p *Process) ChargeHost(n int64) error {
	if full := p.chargeMem(n); full != nil {
		return fmt.Errorf("%w: %s", ErrLimit, full.describeFull(n))
	}
	return nil
}

// UnchargeHost gives back what ChargeHost charged. Safe from any goroutine.
func (p *Process) UnchargeHost(n int64) { p.unchargeMem(n) }

// describeFull says which limit a charge of n bytes would pass.
func (g *Group) describeFull(n int64) string {
	if g.parent == nil {
		return fmt.Sprintf("%d more bytes would pass the node's guest memory ceiling of %d", n, g.memLimit)
	}
	return fmt.Sprintf("%d more bytes would pass its process tree's memory limit of %d", n, g.memLimit)
}

// LinearPrivate reports how many bytes of the process's linear memory the
// host holds for it alone: for a process started from an image, the pages
// it wrote; otherwise every page it touched. For tests and benchmarks.
//
// Precondition: the process is not running (an idle reactor, between
// turns).
func (p *Process) LinearPrivate() (uint64, error) { return p.alloc.Private() }
