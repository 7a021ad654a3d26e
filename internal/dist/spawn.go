package dist

import (
	"context"
	"fmt"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// Spawn implements kernel.RemotePort.
func (p *peer) Spawn(s *kernel.RemoteSpawner, name string, init *kernel.Message, wait kernel.Waiter) (*kernel.Remote, error) {
	wm, err := p.outMsg(init)
	if err != nil {
		init.DropRefs()
		return nil, err
	}
	if wm.size()+len(name) > p.d.cfg.MaxFrame {
		p.unsentMsg(&wm)
		init.DropRefs()
		return nil, fmt.Errorf("%w: the init message does not fit one frame", kernel.ErrTooBig)
	}
	id := p.d.newID()
	sp := &spawning{done: make(chan struct{})}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		init.DropRefs()
		return nil, kernel.ErrGone
	}
	p.spawns[id] = sp
	b := putString(putUvarint(putUvarint(append(p.batch(wm.size()+len(name)), fSpawn), id), s.ID), name)
	p.sent(putMsg(b, &wm))
	p.mu.Unlock()
	init.Discard()
	if err := wait.WaitFor(sp.done); err != nil {
		p.mu.Lock()
		delete(p.spawns, id) // a late answer is killed: nobody holds it
		p.mu.Unlock()
		return nil, err
	}
	if !sp.ok {
		return nil, fmt.Errorf("%w: node %s was lost", kernel.ErrGone, p.name)
	}
	if sp.g.code != codeOK {
		return nil, errOf(sp.g.code)
	}
	r := p.remote(sp.g.id)
	if r == nil {
		return nil, fmt.Errorf("%w: node %s was lost", kernel.ErrGone, p.name)
	}
	return r, nil
}

// onSpawn starts a process with an exported spawner, off the delivering
// goroutine: a start function may take its time.
func (p *peer) onSpawn(id, export uint64, name string, w *wireMsg) {
	e := p.exported(export)
	if e == nil || e.target != nil || p.check(e, isleapi.RightUse) == nil {
		p.dropped(w)
		p.control(putUvarint(append(putUvarint([]byte{fSpawned}, id), codeGone), 0))
		return
	}
	p.mu.Lock()
	busy := p.starting >= maxStarting
	if !busy {
		p.starting++
	}
	p.mu.Unlock()
	if busy {
		p.dropped(w)
		p.control(putUvarint(append(putUvarint([]byte{fSpawned}, id), codeFull), 0))
		return
	}
	init := p.inMsg(w)
	go func() {
		defer func() {
			p.mu.Lock()
			p.starting--
			p.mu.Unlock()
		}()
		// The child outlives the session: only a link carries the loss.
		proc, err := p.d.k.SpawnFor(context.Background(), e.cap, name, init)
		if err != nil {
			p.control(putUvarint(append(putUvarint([]byte{fSpawned}, id), codeOf(err)), 0))
			return
		}
		ex, err := p.export(kernel.Cap{Kind: capkind.Process, Rights: capkind.ProcessRights.All(), Object: proc})
		if err != nil {
			proc.Kill("its spawner's node could not be given it")
			p.control(putUvarint(append(putUvarint([]byte{fSpawned}, id), codeOf(err)), 0))
			return
		}
		p.control(putUvarint(append(putUvarint([]byte{fSpawned}, id), codeOK), ex.id))
	}()
}

// onSpawned answers one of this node's spawns on the peer; the process of
// a spawn whose caller gave up is killed, since nobody holds it.
func (p *peer) onSpawned(id uint64, code byte, export uint64) {
	p.mu.Lock()
	sp := p.spawns[id]
	delete(p.spawns, id)
	p.mu.Unlock()
	if sp == nil {
		if code == codeOK {
			p.control(putString(putUvarint([]byte{fKill}, export), "its spawner gave up"))
		}
		return
	}
	sp.g, sp.ok = grant{code: code, id: export}, true
	close(sp.done)
}
