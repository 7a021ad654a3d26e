package kernel

// A reactor's run of turns takes its messages from the mailbox in one batch,
// under one lock, rather than one lock per message: with senders on other
// cores, a lock and the mailbox's cache lines changing hands at every
// message cost more than the turn itself. The messages in hand still count
// as queued (mailbox.inHand) until the run commits them, so the bound on
// the mailbox stays exact, and room freed by handled messages reaches
// waiting senders at the commit: in batches while the reactor drains, at
// once whenever it stops (see commit).
//
// The batch belongs to the worker running the run; while the run lasts,
// the mailbox points at it (mailbox.hand), and only the owner touches it.
type batch struct {
	msgs [turnBatch]*Message
	i, n int // msgs[i:n] are still to be handled, oldest first

	// What left the batch since the last commit.
	done    int
	bytes   int
	acct    int64
	signals int
}

// fill moves up to len(b.msgs) queued messages into b.
// Precondition: p.mu is held, by the owner; b is empty.
func (p *Process) fill(b *batch) {
	mb := &p.mbox
	k := copy(b.msgs[:], mb.q[mb.head:])
	clear(mb.q[mb.head : mb.head+k])
	mb.advance(k)
	mb.inHand += int32(k)
	b.i, b.n = 0, k
}

// next returns the next message to handle, or nil once b is empty.
func (b *batch) next() *Message {
	if b.i == b.n {
		return nil
	}
	m := b.msgs[b.i]
	b.msgs[b.i] = nil
	b.i++
	b.left(m)
	return m
}

// left records that m left the batch, to be committed.
func (b *batch) left(m *Message) {
	b.done++
	b.bytes += len(m.Data)
	b.acct += messageSize(m)
	if m.Tag == TagExit || m.Tag == TagDown {
		b.signals++
	}
}

// take removes the first message in b whose tag&mask == match.
func (b *batch) take(match, mask uint32) *Message {
	for j := b.i; j < b.n; j++ {
		if b.msgs[j].Tag&mask == match {
			return b.remove(j)
		}
	}
	return nil
}

// takeDown removes the down message of monitor ref from b, if it is there.
func (b *batch) takeDown(ref uint32) *Message {
	for j := b.i; j < b.n; j++ {
		if m := b.msgs[j]; m.Tag == TagDown && m.ref == ref {
			return b.remove(j)
		}
	}
	return nil
}

// remove takes message j out of b, keeping the others in order.
func (b *batch) remove(j int) *Message {
	m := b.msgs[j]
	copy(b.msgs[j:], b.msgs[j+1:b.n])
	b.n--
	b.msgs[b.n] = nil
	b.left(m)
	return m
}

// rest empties b, returning the messages still to be handled; the mailbox
// is closing, so nothing is committed.
func (b *batch) rest() []*Message {
	out := append([]*Message(nil), b.msgs[b.i:b.n]...)
	clear(b.msgs[:])
	*b = batch{}
	return out
}

// commit takes what left the batch out of the mailbox's counts and gives
// back its cost. Waiting senders are woken if the reactor is stopping (its
// run ends, or its turn may wait), or once the mailbox is no longer nearly
// full: while it drains, they wake in batches, not at every message.
// Precondition: p.mu is held, by the owner.
func (p *Process) commit(stopping bool) {
	mb := &p.mbox
	if b := mb.hand; b != nil && b.done > 0 {
		mb.bytes -= b.bytes
		mb.signals -= int32(b.signals)
		mb.inHand -= int32(b.done)
		mb.taken += uint64(b.done)
		p.unadmit(b.acct)
		b.done, b.bytes, b.acct, b.signals = 0, 0, 0, 0
	}
	mb.sent = p.sent
	if mb.space == nil {
		mb.deferred = false
		return
	}
	if stopping || !mb.nearFull() {
		close(mb.space)
		mb.space, mb.deferred = nil, false
		p.noteWoke()
		return
	}
	mb.deferred = true
}

// nearFull reports whether the mailbox is more than half full. Senders
// woken below that find room for a good many messages each, rather than
// one or two before they wait again.
func (mb *mailbox) nearFull() bool {
	return mb.len() > int(mb.limit)/2 || int64(mb.bytes)+mb.reserved > MailboxBytes/2
}

// flush commits what the current run has handled and wakes the senders
// waiting for room, before the owner stops: it is about to wait, or it
// has run a whole fuel slice. Without it, a turn that waits for a sender
// blocked on its own mailbox would wait for ever.
// Precondition: called by the owner.
func (p *Process) flush() {
	b := p.mbox.hand
	if b == nil || (b.done == 0 && !p.mbox.deferred) {
		return
	}
	p.mu.Lock()
	p.commit(true)
	p.mu.Unlock()
	if w := p.turnWorker; w != nil { // p is in its turn: it is the owner
		w.releaseWoken(p, nil)
	}
}
