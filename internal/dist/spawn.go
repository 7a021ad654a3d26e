package dist

import (
	"context"
	"errors"
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
	answered := false
	defer func() {
		if !answered { // the caller gave up, or was killed (a panic)
			p.abandon(id, sp)
		}
	}()
	if err := wait.WaitFor(sp.done); err != nil {
		return nil, err
	}
	answered = true
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

// abandon gives up spawn id, whose caller stopped waiting: the peer
// stops the start if it is still going on, and a process it made is
// killed, as nobody here will ever hold it.
func (p *peer) abandon(id uint64, sp *spawning) {
	p.mu.Lock()
	_, waiting := p.spawns[id]
	delete(p.spawns, id) // a later answer is killed (onSpawned)
	p.mu.Unlock()
	if waiting {
		p.control(putUvarint([]byte{fSpawnCancel}, id))
		return
	}
	<-sp.done // answered meanwhile: onSpawned or end closes it at once
	if sp.ok && sp.g.code == codeOK {
		p.control(putString(putUvarint([]byte{fKill}, sp.g.id), errSpawnerGaveUp.Error()))
	}
}

// errSpawnerGaveUp ends a remote spawn whose caller stopped waiting.
var errSpawnerGaveUp = errors.New("its spawner gave up")

// startContext returns the context a spawn for the peer starts under, and
// what ends it while it starts. It is never ended once the child is handed
// over: the child's tree watches it.
func startContext() (context.Context, context.CancelCauseFunc) {
	return context.WithCancelCause(context.Background())
}

// onSpawnCancel stops the start of spawn id, if it is still going on:
// the peer's caller gave up waiting for it.
func (p *peer) onSpawnCancel(id uint64) {
	p.mu.Lock()
	cancel := p.starting[id]
	delete(p.starting, id)
	p.mu.Unlock()
	if cancel != nil {
		cancel(errSpawnerGaveUp) // its tree watches the context: the start is killed
	}
}

// onSpawn starts a process with an exported spawner, off the delivering
// goroutine: a start function may take its time. Until it is handed over,
// the peer's caller may give up on it (onSpawnCancel), and the loss of the
// peer ends it; after that, the child outlives the session: only a link
// carries the loss.
func (p *peer) onSpawn(id, export uint64, name string, w *wireMsg) {
	e := p.exported(export)
	if e == nil || e.target != nil || p.check(e, isleapi.RightUse) == nil {
		p.dropped(w)
		p.control(putUvarint(append(putUvarint([]byte{fSpawned}, id), codeGone), 0))
		return
	}
	ctx, cancel := startContext()
	p.mu.Lock()
	_, dup := p.starting[id]
	busy := dup || p.down || len(p.starting) >= maxStarting
	if !busy {
		p.starting[id] = cancel
	}
	p.mu.Unlock()
	if busy {
		cancel(nil)
		p.dropped(w)
		p.control(putUvarint(append(putUvarint([]byte{fSpawned}, id), codeFull), 0))
		return
	}
	init := p.inMsg(w)
	go func() {
		proc, err := p.d.k.SpawnFor(ctx, e.cap, name, init)
		// Handed over from here: the context must never end now, as the
		// child's tree would end with it.
		p.mu.Lock()
		_, ours := p.starting[id]
		delete(p.starting, id)
		p.mu.Unlock()
		if err == nil && !ours {
			// Given up on (or the peer lost) as the start ended: its tree
			// ends with the context, and nobody is told of it.
			proc.Kill(errSpawnerGaveUp.Error())
			err = kernel.ErrGone
		}
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
