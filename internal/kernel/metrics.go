package kernel

import (
	"strings"
	"sync/atomic"

	isleapi "github.com/isle-run/isle/api"
)

// This file keeps the counters behind the node's metrics. Nothing here
// adds work per message beyond a plain increment by the process's owner:
// what can be read from kernel state at scrape time is read then (see
// Kernel.Sample), and what a process counts is folded into per-service
// totals when it ends, under the lock that unregisters it anyway.

// kernelStats are the node's counters of ended processes, by service.
// Guarded by Kernel.mu, except hostSent.
type kernelStats struct {
	hostSent atomic.Uint64 // messages the Go host sent (HTTP ingress, Send, Call)
	// imagesEvicted counts images dropped to make room for processes;
	// imageBuilds, the snapshots started to make images.
	imagesEvicted, imageBuilds atomic.Uint64
	services                   map[*Service]*ServiceTotals
}

// ServiceTotals counts what the processes of one service (or, under the
// nil service, of none) did. Sent, Received and Fuel cover ended processes
// only in the kernel's own record; Sample adds the live ones.
type ServiceTotals struct {
	Spawns   uint64
	Sent     uint64
	Received uint64
	Fuel     int64
	Exits    map[ExitClass]uint64
}

// ExitClass is a bounded classification of an exit, for metric labels:
// Kind is normal, abandoned, killed or failed (a spawn undone before the
// process ran); Cause is "" for a normal exit with code 0, "exit_code"
// for another code, the abandonment's cause in snake case, or "killed".
type ExitClass struct{ Kind, Cause string }

// ClassifyExit returns e's ExitClass.
func ClassifyExit(e isleapi.Exit) ExitClass {
	switch e.Kind {
	case isleapi.ExitNormal:
		if e.Code != 0 {
			return ExitClass{"normal", "exit_code"}
		}
		return ExitClass{"normal", ""}
	case isleapi.ExitKilled:
		return ExitClass{"killed", "killed"}
	case isleapi.ExitAbandoned:
		cause := "unknown"
		if e.Abandon != nil {
			cause = strings.ReplaceAll(e.Abandon.Cause.String(), " ", "_")
			cause = strings.ToLower(cause)
		}
		return ExitClass{"abandoned", cause}
	}
	return ExitClass{"failed", "start"}
}

// totals returns the record of svc. Precondition: k.mu is held.
func (s *kernelStats) totals(svc *Service) *ServiceTotals {
	if s.services == nil {
		s.services = map[*Service]*ServiceTotals{}
	}
	t := s.services[svc]
	if t == nil {
		t = &ServiceTotals{Exits: map[ExitClass]uint64{}}
		s.services[svc] = t
	}
	return t
}

// noteSpawn counts p's registration. Precondition: k.mu is held.
func (k *Kernel) noteSpawn(p *Process) { k.stats.totals(p.serviceOf()).Spawns++ }

// noteEnd folds what p counted into its service's totals. It runs on p's
// owner after the process has stopped running (or never ran), so p's own
// counters are final. Precondition: k.mu is held.
func (k *Kernel) noteEnd(p *Process) {
	t := k.stats.totals(p.serviceOf())
	t.Sent += p.sent
	t.Received += p.mbox.taken
	t.Fuel += p.spent.Load()
	t.Exits[ClassifyExit(*p.exit)]++
}

// serviceOf is the service p belongs to: its own, or that of the nearest
// ancestor that is a service's instance; nil outside any.
func (p *Process) serviceOf() *Service {
	for q := p; q != nil; q = q.parent {
		if s := q.service(); s != nil {
			return s
		}
	}
	return nil
}

// ProcSample is one live process as Sample sees it.
type ProcSample struct {
	ID, Parent uint64 // Parent is 0 for a process the host spawned
	Module     string
	Service    *Service // see serviceOf
	State      string   // State's name
	Fuel       int64
	Memory     uint64
	Queued     int
}

// Sample visits every live process and returns the node's totals by
// service (what ended processes did plus what the live ones did so far)
// and the messages the host sent. The ended processes' totals and the
// list of live ones are taken under the process table's lock together, so
// that no process is counted both live and ended (one that ends later
// adds to the node's totals, not to this copy); each live process's lock
// is then taken in turn, with the table's released, as the lock order
// wants: visit must be quick and must not call into the kernel. A
// process's sent count lags by up to one turn (it is published when it
// next takes a message).
//
// Safe from any goroutine.
func (k *Kernel) Sample(visit func(*ProcSample)) (totals map[*Service]ServiceTotals, hostSent uint64) {
	k.mu.Lock()
	totals = make(map[*Service]ServiceTotals, len(k.stats.services))
	for svc, t := range k.stats.services {
		c := *t
		c.Exits = make(map[ExitClass]uint64, len(t.Exits))
		for e, n := range t.Exits {
			c.Exits[e] = n
		}
		totals[svc] = c
	}
	live := make([]*Process, 0, k.procs.len())
	for p := range k.procs.all() {
		live = append(live, p)
	}
	k.mu.Unlock()
	var s ProcSample
	for _, p := range live {
		p.mu.Lock()
		s.Queued = p.mbox.len()
		sent, taken := p.mbox.sent, p.mbox.taken
		s.State = p.stateLocked().String()
		p.mu.Unlock()
		s.ID, s.Module, s.Service = p.ID, p.mod.Name, p.serviceOf()
		s.Parent = 0
		if p.parent != nil {
			s.Parent = p.parent.ID
		}
		s.Fuel, s.Memory = p.spent.Load(), uint64(max(p.mem.Load(), 0))
		t := totals[s.Service]
		t.Sent += sent
		t.Received += taken
		t.Fuel += s.Fuel
		totals[s.Service] = t
		if visit != nil {
			visit(&s)
		}
	}
	return totals, k.stats.hostSent.Load()
}
