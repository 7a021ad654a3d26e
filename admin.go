package isle

import (
	"net/http"

	"github.com/isle-run/isle/internal/admin"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/services/kv"
)

// AdminHandler returns the node's admin endpoints, to mount on any
// server: the live dashboard at /, its Server-Sent Events feed at
// /events (and one frame of it as JSON at /snapshot), and Prometheus
// metrics at /metrics. With a non-empty token every request must carry
// it, as "Authorization: Bearer TOKEN" or "?token=TOKEN". Without one,
// whoever can connect reads everything: on loopback, every local user.
//
// The metrics are read from the node's state when they are scraped; the
// handler adds no work to the node between scrapes. The README lists
// them.
func (n *Node) AdminHandler(token string) http.Handler {
	return admin.Handler(nodeSource{n}, admin.Options{Token: token})
}

// nodeSource is how the admin endpoints read the node.
type nodeSource struct{ n *Node }

// enumerate visits every live process. It is the admin endpoints' own
// minimal enumeration; a node introspection API may replace it.
func (s nodeSource) enumerate(names map[*kernel.Service]string, visit func(*admin.Proc)) (map[*kernel.Service]kernel.ServiceTotals, uint64) {
	var p admin.Proc
	return s.n.k.Sample(func(ps *kernel.ProcSample) {
		if visit == nil {
			return
		}
		p = admin.Proc{PID: ps.ID, Parent: ps.Parent, Module: ps.Module, Service: serviceName(names, ps.Service),
			State: ps.State, Fuel: ps.Fuel, Memory: ps.Memory, Queued: ps.Queued}
		visit(&p)
	})
}

func serviceName(names map[*kernel.Service]string, svc *kernel.Service) string {
	if svc == nil {
		return ""
	}
	if name, ok := names[svc]; ok {
		return name
	}
	return svc.Name
}

// Sample implements admin.Source.
func (s nodeSource) Sample(visit func(*admin.Proc)) admin.Counters {
	o := &s.n.obs
	o.mu.Lock()
	names := make(map[*kernel.Service]string, len(o.names))
	for k, v := range o.names {
		names[k] = v
	}
	o.mu.Unlock()
	totals, hostSent := s.enumerate(names, visit)
	var c admin.Counters
	c.HostSent = hostSent
	c.Memory, c.PeakMemory, c.MemoryLimit = s.n.k.Memory()
	c.Files, c.FileLimit = s.n.k.Files()
	c.Images, c.ImagesEvicted, c.ImageBuilds = s.n.k.Images()
	for svc, t := range totals {
		sc := c.Service(serviceName(names, svc))
		sc.Spawns += t.Spawns
		sc.Sent += t.Sent
		sc.Received += t.Received
		sc.Fuel += t.Fuel
		for e, n := range t.Exits {
			sc.Exits[admin.ExitKey{Kind: e.Kind, Cause: e.Cause}] += n
		}
	}
	o.mu.Lock()
	for path, starts := range o.starts {
		if starts > 1 {
			c.Service(path).Restarts += starts - 1
		}
	}
	c.HTTP = make(map[admin.HTTPKey]uint64, len(o.http))
	for k, v := range o.http {
		c.HTTP[k] = v
	}
	o.mu.Unlock()
	c.KV = map[string]uint64{}
	if st, ok := s.n.kvStore(); ok {
		kst := st.Stats()
		c.KV["get"], c.KV["put"], c.KV["delete"], c.KV["list"] = kst.Gets, kst.Puts, kst.Deletes, kst.Lists
		c.KVBytes, c.KVMaxBytes, c.KVCommits = kst.Size, kst.Max, kst.Commits
	}
	return c
}

// kvStore returns the node's key-value store, if it has been opened.
func (n *Node) kvStore() (*kv.Store, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.services["kv"].(*kv.Store)
	return st, ok
}

// Crashes implements admin.Source.
func (s nodeSource) Crashes() []admin.Crash {
	o := &s.n.obs
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]admin.Crash{}, o.crashes...)
}

// Changed implements admin.Source.
func (s nodeSource) Changed() <-chan struct{} {
	o := &s.n.obs
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.changed == nil {
		o.changed = make(chan struct{})
	}
	return o.changed
}

// Tree implements admin.Source: the running supervision trees, each from
// its spec, with the services' current instances. Trees that have ended
// are forgotten.
func (s nodeSource) Tree() []admin.TreeNode {
	o := &s.n.obs
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []admin.TreeNode
	live := o.trees[:0]
	for _, sup := range o.trees {
		select {
		case <-sup.Done():
			delete(o.specs, sup)
			continue
		default:
		}
		live = append(live, sup)
		out = append(out, o.treeOf(sup, o.specs[sup], ""))
	}
	clear(o.trees[len(live):])
	o.trees = live
	return out
}

// treeOf describes a supervisor of sup's tree. Precondition: o.mu is held.
func (o *observer) treeOf(sup *Supervisor, spec SupervisorSpec, prefix string) admin.TreeNode {
	t := admin.TreeNode{Name: spec.Name, Kind: "supervisor", Strategy: spec.Strategy.String()}
	for _, c := range spec.Children {
		path := prefix + c.Name
		if c.Supervisor != nil {
			sub := o.treeOf(sup, *c.Supervisor, path+"/")
			sub.Name, sub.Path = c.Name, path
			t.Children = append(t.Children, sub)
			continue
		}
		n := admin.TreeNode{Name: c.Name, Kind: "service", Path: path}
		if starts := o.starts[path]; starts > 1 {
			n.Restarts = starts - 1
		}
		if svc, ok := sup.Service(path); ok {
			if p := svc.s.Current(); p != nil {
				n.PID = p.ID
			}
			select {
			case <-svc.Done():
				n.Ended = true
			default:
			}
		}
		t.Children = append(t.Children, n)
	}
	return t
}
