package dist

import (
	"errors"
	"fmt"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// heldFrame is an ordered frame waiting behind one that found a full
// mailbox.
type heldFrame struct {
	typ    byte
	export uint64
	call   uint64
	n      uint64 // fRelease: the times the export arrived
	msg    wireMsg
	// m is msg resolved, once a try to deliver it found the mailbox full:
	// its capabilities are counted once, when they arrive.
	m    *kernel.Message
	exit isleapi.Exit
	size int // its bytes on the wire, for a frame other than a send or call
}

// An honest peer's sends and calls in flight are bounded by the window;
// its other ordered frames (ends, revocations, releases, link exits) by
// nothing but what happens on its side, one frame per event. (Kills are
// never held, and a kill of one handle is sent once: peer.Kill.) While a full mailbox
// holds its traffic, at most maxHeldControl of them, and
// maxHeldControlBytes of their bytes, are held from one peer: a peer past
// either is broken, and its session ends (Config.Broken). Before, a member
// that filled one mailbox and then sent 4-byte releases grew this node's
// heap by 470 MiB per 10 MiB it sent, until the node starved (found in
// review).
const (
	maxHeldControl      = 1 << 16
	maxHeldControlBytes = 16 << 20
)

// discard drops a held frame that will not be handled. A held call is
// answered by the caller's own node, which abandons it on Down.
func (h *heldFrame) discard() {
	if h.m != nil {
		h.m.Discard()
		h.m = nil
	}
}

// deliver handles one batch from the peer, frame by frame.
func (p *peer) deliver(batch []byte) {
	r := reader{b: batch}
	if r.byte() != wireVersion {
		p.malformed("unknown wire version")
		return
	}
	for len(r.b) > 0 {
		var h heldFrame
		before := len(r.b)
		h.typ = r.byte()
		switch h.typ {
		case fSend:
			h.export = r.uvarint()
			r.msg(&h.msg)
		case fCall:
			h.export, h.call = r.uvarint(), r.uvarint()
			r.msg(&h.msg)
		case fEnded, fLinkExit:
			h.export = r.uvarint()
			h.exit = r.exit()
		case fRevoked:
			h.export = r.uvarint()
		case fRelease:
			h.export, h.n = r.uvarint(), r.uvarint()
		case fKill:
			// Not held: a kill waiting behind sends to a full mailbox
			// would wait for ever if its target never reads. Landing
			// before those sends is what per-pair order allows too: they
			// would reach the mailbox of a process the kill then ends,
			// unread (Erlang orders a pair's signals into the mailbox,
			// not their handling).
			export, reason := r.uvarint(), r.string()
			if r.err == nil {
				if e := p.use(export, isleapi.RightKill); e != nil {
					e.target.Kill(reason)
				}
			}
			continue
		case fReply:
			id := r.uvarint()
			var m wireMsg
			r.msg(&m)
			if r.err == nil {
				p.onReply(id, &m)
			}
			continue
		case fFail:
			id, code := r.uvarint(), r.byte()
			if r.err == nil {
				p.onFail(id, code)
			}
			continue
		case fCredit:
			frames, bytes := r.uvarint(), r.uvarint()
			if r.err == nil {
				p.onCredit(int(frames), int(bytes))
			}
			continue
		case fLookup:
			id, name := r.uvarint(), r.string()
			if r.err == nil {
				p.onLookup(id, name)
			}
			continue
		case fLink, fUnlink:
			id := r.uvarint()
			if r.err == nil {
				p.onLink(id, h.typ == fLink)
			}
			continue
		case fSpawn:
			id, export, name := r.uvarint(), r.uvarint(), r.string()
			var m wireMsg
			r.msg(&m)
			if r.err == nil {
				p.onSpawn(id, export, name, &m)
			}
			continue
		case fSpawnCancel:
			id := r.uvarint()
			if r.err == nil {
				p.onSpawnCancel(id)
			}
			continue
		case fSpawned:
			id, code, export := r.uvarint(), r.byte(), r.uvarint()
			if r.err == nil {
				p.onSpawned(id, code, export)
			}
			continue
		case fGrant:
			g := grant{}
			id := r.uvarint()
			g.code, g.kind = r.byte(), capkind.Kind(r.uvarint())
			g.rights, g.id = isleapi.Rights(r.uvarint()), r.uvarint()
			if r.err == nil {
				p.onGrant(id, g)
			}
			continue
		default:
			p.malformed("unknown frame type")
			return
		}
		if r.err != nil {
			break
		}
		h.size = before - len(r.b)
		if why := p.ordered(h); why != "" {
			p.breakOff(why)
			return
		}
	}
	if r.err != nil {
		p.malformed(r.err.Error())
	}
}

// breakOff ends the session of a peer that broke the protocol past what
// dropping its excess can answer: through Config.Broken, which has the
// membership layer end the link so that both sides set up a new one, or,
// without it, here, as Down does.
func (p *peer) breakOff(why string) {
	p.d.log.Error("cluster: a node broke the protocol; its session ends", "node", p.name, "why", why)
	if f := p.d.cfg.Broken; f != nil {
		f(p.name, p.session, why)
		return
	}
	p.d.Down(p.name, p.session, why)
}

// malformed logs, once per session, that the peer sent something this
// node cannot read: a bug or a version skew, never a guest's doing.
func (p *peer) malformed(why string) {
	p.mu.Lock()
	logged := p.malformedOK
	p.malformedOK = true
	p.mu.Unlock()
	if !logged {
		p.d.log.Error("cluster: a node sent a batch this node cannot read; its rest is dropped",
			"node", p.name, "why", why)
	}
}

// ordered handles h now, unless frames before it are held; a send or call
// that finds a full mailbox is held, with everything after it. It returns
// why the peer is broken, once, if holding h showed it is (see hold).
func (p *peer) ordered(h heldFrame) (broken string) {
	p.inMu.Lock()
	if p.draining || p.broken {
		broken = p.hold(h)
		p.inMu.Unlock()
		return broken
	}
	p.inMu.Unlock()
	if p.handle(&h, true) {
		return ""
	}
	p.inMu.Lock()
	broken = p.hold(h)
	p.draining = true
	p.inMu.Unlock()
	go p.drain()
	return broken
}

// hold queues h behind the frames already held. An honest peer never has
// more sends and calls held than its window allows; one that ignores the
// window is broken, and its excess is dropped rather than kept without
// bound. Other frames cannot be dropped without losing what they say (an
// end, a release, a kill), so a peer past their bounds has its session
// ended: hold drops h and everything after it, and returns why, once.
// Precondition: p.inMu is held.
func (p *peer) hold(h heldFrame) (broken string) {
	data := h.typ == fSend || h.typ == fCall
	switch {
	case p.broken:
		h.discard()
		return ""
	case data && (p.heldData >= 2*p.d.cfg.Window || p.heldBytes >= 2*p.d.cfg.WindowBytes):
		if !p.overrun {
			p.overrun = true
			p.d.log.Error("cluster: a node sent past its flow-control window; its excess frames are dropped",
				"node", p.name)
		}
		if h.typ == fCall {
			p.fail(h.call, codeFull)
		}
		h.discard()
		return ""
	case !data && (p.heldCtl >= maxHeldControl || p.heldCtlBytes+h.size > maxHeldControlBytes):
		p.broken = true
		return fmt.Sprintf("it sent more than %d frames or %d bytes of ends, revocations, releases and link exits while its messages waited for a full mailbox",
			maxHeldControl, maxHeldControlBytes)
	case data:
		p.heldData++
		p.heldBytes += h.msg.size()
	default:
		p.heldCtl++
		p.heldCtlBytes += h.size
	}
	p.held = append(p.held, h)
	return ""
}

// drain handles held frames in order, waiting for room, until none is
// left or the session ends. It takes them a run at a time and keeps both
// slices for the next run and the next hold: popping from the front of a
// queue that grows at the back would copy it at every growth, which
// under a sustained overload cost more than the frames themselves. Both
// stay bounded, as the held frames are: a run counts against the bounds
// until it is handled.
func (p *peer) drain() {
	for {
		p.inMu.Lock()
		if len(p.held) == 0 || p.ctx.Err() != nil {
			var dropped []heldFrame
			if p.ctx.Err() != nil {
				dropped = p.held
				p.held, p.spare = nil, nil
			}
			p.draining = false
			p.inMu.Unlock()
			for i := range dropped {
				dropped[i].discard()
			}
			return
		}
		run := p.held
		p.held, p.spare = p.spare[:0], nil
		p.inMu.Unlock()
		var data, bytes, ctl, ctlBytes int
		for i := range run {
			if h := &run[i]; h.typ == fSend || h.typ == fCall {
				data, bytes = data+1, bytes+h.msg.size()
			} else {
				ctl, ctlBytes = ctl+1, ctlBytes+h.size
			}
			if p.ctx.Err() != nil {
				run[i].discard()
			} else {
				p.handle(&run[i], false)
			}
			run[i] = heldFrame{} // kept for reuse: let go of the message
		}
		p.inMu.Lock()
		p.spare = run[:0]
		p.heldData, p.heldBytes = p.heldData-data, p.heldBytes-bytes
		p.heldCtl, p.heldCtlBytes = p.heldCtl-ctl, p.heldCtlBytes-ctlBytes
		p.inMu.Unlock()
	}
}

// handle acts on an ordered frame. With nonblock, it reports false
// (having done nothing the frame's retry would redo) when the frame must
// wait for room.
func (p *peer) handle(h *heldFrame, nonblock bool) bool {
	switch h.typ {
	case fSend, fCall:
		return p.onMessage(h, nonblock)
	case fEnded:
		if r, _ := p.forget(h.export); r != nil {
			r.End(h.exit)
		}
	case fRevoked:
		// Released at once: the owner keeps the export while a send of
		// it is on its way, and those handles here refuse locally.
		if r, n := p.forget(h.export); r != nil {
			r.Revocation().Revoke()
			p.control(putUvarint(putUvarint([]byte{fRelease}, h.export), n))
		}
	case fRelease:
		p.unsent(h.export, h.n)
	case fLinkExit:
		if e := p.use(h.export, isleapi.RightKill); e != nil {
			kernel.LinkExitFrom(e.target, h.exit)
		}
	}
	return true
}

// use returns export id if it was made for this peer and allows need.
// Anything else is refused; a use the holder could not have made
// (rights it was never given) is logged as the peer's misbehaviour.
func (p *peer) use(id uint64, need isleapi.Rights) *export {
	e := p.exported(id)
	if e == nil || e.target == nil {
		return nil // ended or revoked meanwhile (the peer was told), or a spawner
	}
	return p.check(e, need)
}

// check returns e if its capability allows need, logging a use beyond
// its rights.
func (p *peer) check(e *export, need isleapi.Rights) *export {
	switch err := e.cap.Check(need); {
	case err == nil:
		return e
	case errors.Is(err, kernel.ErrRights):
		p.d.log.Warn("cluster: a node used an export beyond its rights; refused",
			"node", p.name, "export", e.id, "rights", e.cap.Rights, "need", need)
	}
	return nil
}

// onMessage delivers a send or a call to its export's target.
func (p *peer) onMessage(h *heldFrame, nonblock bool) bool {
	e := p.use(h.export, isleapi.RightSend)
	if e == nil {
		if h.typ == fCall {
			p.fail(h.call, p.refusal(h.export))
		}
		if h.m != nil {
			h.discard()
		} else {
			p.dropped(&h.msg)
		}
		p.credit(&h.msg)
		return true
	}
	m := h.m
	if m == nil {
		m = p.inMsg(&h.msg)
	}
	h.m = nil
	var err error
	if h.typ == fCall {
		var reply kernel.Reply
		reply, err = p.d.k.ForwardCall(p.wait, e.target, m, nonblock)
		if err == nil {
			id := h.call
			reply.Notify(func(ans *kernel.Message) { p.answer(id, ans) })
		}
	} else {
		err = p.d.k.Forward(p.wait, e.target, m, nonblock)
	}
	if err == kernel.ErrFull && nonblock {
		h.m = m // its capabilities arrived once, and are counted once
		return false
	}
	if err != nil {
		m.Discard()
		if h.typ == fCall {
			p.fail(h.call, codeOf(err))
		}
	}
	p.credit(&h.msg)
	return true
}

// refusal is the failure code for a use of export id that use refused.
func (p *peer) refusal(id uint64) byte {
	if e := p.exported(id); e != nil && e.cap.Rev.Revoked() {
		return codeRevoked
	}
	return codeGone
}

func codeOf(err error) byte {
	switch {
	case errors.Is(err, kernel.ErrRevoked):
		return codeRevoked
	case errors.Is(err, kernel.ErrRights):
		return codeRights
	case errors.Is(err, kernel.ErrFull), errors.Is(err, kernel.ErrLimit):
		return codeFull
	case errors.Is(err, kernel.ErrTooBig):
		return codeTooBig
	case errors.Is(err, kernel.ErrNoMatch):
		return codeNoMatch
	}
	return codeGone
}

func errOf(code byte) error {
	switch code {
	case codeRevoked:
		return kernel.ErrRevoked
	case codeRights:
		return kernel.ErrRights
	case codeFull:
		return kernel.ErrLimit
	case codeTooBig:
		return kernel.ErrTooBig
	case codeNoMatch:
		return kernel.ErrNoMatch
	}
	return kernel.ErrGone
}

// credit counts m as taken, and refills the peer's window every quarter.
func (p *peer) credit(m *wireMsg) {
	p.mu.Lock()
	p.consumed++
	p.consumedB += m.size()
	if p.consumed < p.d.cfg.Window/4 && p.consumedB < p.d.cfg.WindowBytes/4 {
		p.mu.Unlock()
		return
	}
	frames, bytes := p.consumed, p.consumedB
	p.consumed, p.consumedB = 0, 0
	if !p.down {
		p.queue(putUvarint(putUvarint([]byte{fCredit}, uint64(frames)), uint64(bytes)))
	}
	p.mu.Unlock()
}

// onCredit takes back room in the window.
func (p *peer) onCredit(frames, bytes int) {
	p.mu.Lock()
	p.inflight = max(0, p.inflight-frames)
	p.inflightB = max(0, p.inflightB-bytes)
	if p.space != nil {
		close(p.space)
		p.space = nil
	}
	p.mu.Unlock()
}

// inMsg builds the message a wire message stands for, with its
// capabilities resolved here. One that names nothing this node can
// resolve is dropped, as a capability that does not fit a handle table is.
func (p *peer) inMsg(w *wireMsg) *kernel.Message {
	m := kernel.NewMessage(w.tag, w.data)
	m.TraceHi, m.Trace, m.Span, m.SpanFlags = w.traceHi, w.trace, w.span, w.spanFlags
	for _, ref := range w.caps {
		if c, ok := p.resolve(ref); ok {
			m.Caps = append(m.Caps, c)
		}
	}
	return m
}

// resolve turns a capability on the wire into one here: the peer's own
// export becomes a Remote; one of this node's exports to the peer comes
// home as the capability it stands for, narrowed to what the peer held.
func (p *peer) resolve(ref capRef) (kernel.Cap, bool) {
	if ref.kind != capkind.Process {
		return kernel.Cap{}, false
	}
	switch ref.owner {
	case "":
		r := p.remote(ref.export)
		if r == nil {
			return kernel.Cap{}, false
		}
		return kernel.Cap{Kind: ref.kind, Rights: ref.rights, Object: r, Rev: r.Revocation()}, true
	case p.d.cfg.Self:
		e := p.exported(ref.export)
		if e == nil || e.target == nil {
			return kernel.Cap{}, false // gone, or a spawner named as a process
		}
		c, err := e.cap.Attenuate(ref.rights)
		if err != nil {
			p.d.log.Warn("cluster: a node passed on an export with rights it was never given; dropped",
				"node", p.name, "export", ref.export)
			return kernel.Cap{}, false
		}
		c.AddRef() // a copy for the message
		return c, true
	}
	return kernel.Cap{}, false
}

// answer sends the answer to the peer's call id, or its failure.
func (p *peer) answer(id uint64, ans *kernel.Message) {
	if ans == nil {
		p.fail(id, codeGone)
		return
	}
	wm, err := p.outMsg(ans)
	if err != nil {
		p.fail(id, codeOf(err))
		ans.Discard()
		return
	}
	size := wm.size()
	if size+1 > p.d.cfg.MaxFrame {
		p.unsentMsg(&wm)
		p.fail(id, codeTooBig)
		ans.Discard()
		return
	}
	p.mu.Lock()
	if !p.down {
		b := putUvarint(append(p.batch(size), fReply), id)
		p.sent(putMsg(b, &wm))
	}
	p.mu.Unlock()
	ans.Discard()
}

// fail tells the peer its call id will get no answer.
func (p *peer) fail(id uint64, code byte) {
	p.control(append(putUvarint([]byte{fFail}, id), code))
}

// onReply answers one of this node's calls.
func (p *peer) onReply(id uint64, w *wireMsg) {
	p.mu.Lock()
	reply, ok := p.calls[id]
	delete(p.calls, id)
	p.mu.Unlock()
	if !ok {
		p.dropped(w) // the caller gave up
		return
	}
	m := p.inMsg(w)
	if !reply.Answer(m) {
		m.Discard()
	}
}

// onFail ends one of this node's calls without an answer.
func (p *peer) onFail(id uint64, code byte) {
	p.mu.Lock()
	reply, ok := p.calls[id]
	delete(p.calls, id)
	p.mu.Unlock()
	if ok {
		reply.Fail(errOf(code))
	}
}

// onLookup answers the peer's request for a published service.
func (p *peer) onLookup(id uint64, name string) {
	p.d.mu.Lock()
	pub, ok := p.d.published[name]
	p.d.mu.Unlock()
	g := grant{code: codeRefused}
	if ok && (pub.allow == nil || pub.allow(p.name)) {
		if e, err := p.export(pub.cap); err == nil {
			g = grant{code: codeOK, kind: pub.cap.Kind, rights: pub.cap.Rights, id: e.id}
		}
	}
	f := append(putUvarint([]byte{fGrant}, id), g.code)
	f = putUvarint(putUvarint(putUvarint(f, uint64(g.kind)), uint64(g.rights)), g.id)
	p.control(f)
}

// onGrant answers one of this node's lookups.
func (p *peer) onGrant(id uint64, g grant) {
	p.mu.Lock()
	ch := p.lookups[id]
	delete(p.lookups, id)
	p.mu.Unlock()
	if ch != nil {
		ch <- g
		return
	}
	if g.code == codeOK && g.kind == capkind.Process {
		if r := p.remote(g.id); r != nil { // nobody waits: let go of it
			kernel.Cap{Object: r}.DropRef()
		}
	}
}

// onLink counts the peer's links to an export, so that losing the peer
// signals the target as its linked processes' exits would.
func (p *peer) onLink(id uint64, link bool) {
	e := p.use(id, isleapi.RightKill)
	if e == nil {
		return
	}
	p.mu.Lock()
	if link {
		e.links++
	} else if e.links > 0 {
		e.links--
	}
	p.mu.Unlock()
}
