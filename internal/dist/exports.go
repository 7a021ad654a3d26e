package dist

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
)

// export records c as exported to the peer, once per capability, and
// counts one more send of it: the caller puts its id on the wire, or
// takes the send back with unsent if the frame never leaves.
func (p *peer) export(c kernel.Cap) (*export, error) {
	t, ok := c.Object.(kernel.Target)
	_, spawner := c.Object.(*kernel.Spawner)
	if !ok && !spawner {
		return nil, ErrNotTransferable
	}
	key := exportKey{target: c.Object, rights: c.Rights, rev: c.Rev}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		return nil, kernel.ErrGone
	}
	if e := p.byKey[key]; e != nil {
		e.sent++
		p.mu.Unlock()
		return e, nil
	}
	if limit := p.d.cfg.MaxExports; len(p.exports) >= limit {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: node %s holds %d of this node's handles, its limit; it must close some first",
			ErrTooManyExports, p.name, limit)
	}
	e := &export{id: exportID(), cap: c, target: t, key: key, sent: 1}
	c.AddRef() // the export holds it: a Remote of a third node stays
	p.exports[e.id], p.byKey[key] = e, e
	p.mu.Unlock()
	// Outside p.mu: either may fire at once, and drops e again.
	unwatch := func() {}
	if t != nil {
		unwatch = kernel.WatchFrom(t, p.name, func(exit isleapi.Exit) {
			if p.drop(e) {
				p.control(putExit(putUvarint([]byte{fEnded}, e.id), exit))
			}
		})
	}
	// A revoked export stays until the holder releases it, so that a use
	// already on its way is refused as revoked, not as gone.
	unrevoke := c.Rev.OnRevoke(func() {
		if p.exported(e.id) == e {
			p.control(putUvarint([]byte{fRevoked}, e.id))
		}
	})
	p.mu.Lock()
	e.unwatch, e.unrevoke = unwatch, unrevoke
	live := p.exports[e.id] == e
	p.mu.Unlock()
	if !live {
		e.stop()
	}
	return e, nil
}

// exportID returns a fresh, unpredictable export id: an id seen on the
// wire tells nothing of the next.
func exportID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// drop forgets e, reporting whether it was still exported, and stops it.
func (p *peer) drop(e *export) bool {
	p.mu.Lock()
	if p.exports[e.id] != e {
		p.mu.Unlock()
		return false
	}
	delete(p.exports, e.id)
	delete(p.byKey, e.key)
	p.mu.Unlock()
	e.forgotten()
	return true
}

// unsent takes back n sends of export id: the peer released them, or
// they never left this node. The export is forgotten when none is left.
// An id this node never exported to the peer is ignored, whoever names
// it.
func (p *peer) unsent(id, n uint64) {
	p.mu.Lock()
	e := p.exports[id]
	if e == nil {
		p.mu.Unlock()
		return
	}
	if n < e.sent {
		e.sent -= n
		p.mu.Unlock()
		return
	}
	delete(p.exports, id)
	delete(p.byKey, e.key)
	p.mu.Unlock()
	e.forgotten()
}

// unsentMsg takes back the sends of this node's exports a wire message
// made, when its frame never leaves.
func (p *peer) unsentMsg(m *wireMsg) {
	for _, c := range m.caps {
		if c.owner == "" {
			p.unsent(c.export, 1)
		}
	}
}

// forgotten lets go of what an export no longer in the table held.
func (e *export) forgotten() {
	e.stop()
	e.cap.DropRef()
}

// stop cancels what watches e; either may still be unset.
func (e *export) stop() {
	if e.unwatch != nil {
		e.unwatch()
	}
	if e.unrevoke != nil {
		e.unrevoke()
	}
}

// exported returns the export id names, if it was made for this peer.
func (p *peer) exported(id uint64) *export {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exports[id]
}

// imported is one of the peer's exports held here: its Remote, and how
// many times the peer sent it since this node last let go of it.
type imported struct {
	r        *kernel.Remote
	received uint64
	killed   bool // a kill of it was sent (peer.Kill)
}

// remote returns this node's Remote for the peer's export id, making it
// the first time, and counts one arrival of the id and one copy of the
// Remote (kernel.Cap.AddRef) for the caller. It returns nil when the
// session is over, or when the peer has sent this node MaxExports of its
// exports already; that arrival is released at once, as nothing holds it.
func (p *peer) remote(id uint64) *kernel.Remote {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil
	}
	im := p.remotes[id]
	if im == nil {
		if len(p.remotes) >= p.d.cfg.MaxExports {
			p.queue(putUvarint(putUvarint([]byte{fRelease}, id), 1))
			return nil
		}
		im = &imported{r: kernel.NewRemote(p.name, id, p)}
		p.remotes[id] = im
	}
	im.received++
	kernel.Cap{Object: im.r}.AddRef()
	return im.r
}

// Release implements kernel.RemotePort: nothing here holds r, so the
// owner is told it may forget the export. The release is queued after
// every frame r's holders sent, and names how many times r's export
// arrived: one still on its way keeps it on the owner, and becomes a
// fresh Remote here.
func (p *peer) Release(r *kernel.Remote) {
	p.mu.Lock()
	defer p.mu.Unlock()
	im := p.remotes[r.ID]
	if p.down || im == nil || im.r != r || !r.Idle() {
		return // ended, revoked, or held again meanwhile
	}
	delete(p.remotes, r.ID)
	p.queue(putUvarint(putUvarint([]byte{fRelease}, r.ID), im.received))
}

// forget drops the Remote for the peer's export id, reporting how many
// times the export arrived.
func (p *peer) forget(id uint64) (*kernel.Remote, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	im := p.remotes[id]
	if im == nil {
		return nil, 0
	}
	delete(p.remotes, id)
	return im.r, im.received
}

// dropped resolves the capabilities of a message this node will not
// deliver, and drops them at once: their owners hear them released, as
// they would had the message been delivered and its handles closed.
func (p *peer) dropped(w *wireMsg) {
	if len(w.caps) > 0 {
		p.inMsg(w).Discard()
	}
}
