package isle

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/supervisor"
)

// ProcessInfo is one live process as tools show it.
type ProcessInfo struct {
	PID uint64 `json:"pid"`
	// Parent is the process that spawned it, or 0 if the Go host (or a
	// supervisor) did.
	Parent uint64 `json:"parent,omitempty"`
	// Name is its service's path for a supervised process ("front/web"),
	// its module's name otherwise.
	Name   string `json:"name"`
	Module string `json:"module"`
	// Service is the path of the service it is the current instance of,
	// and Supervisor the name of the root supervisor above it, if it is
	// supervised.
	Service    string `json:"service,omitempty"`
	Supervisor string `json:"supervisor,omitempty"`
	// State is running, waiting (a command blocked in receive), idle (a
	// reactor with nothing to do), queued (a reactor waiting for a
	// worker) or exiting.
	State   string `json:"state"`
	Reactor bool   `json:"reactor,omitempty"`
	// Image says it started from a copy-on-write image of its module's
	// initialised state rather than running _initialize itself.
	Image bool `json:"image,omitempty"`
	// Dormant says a reactor holds no wasm instance now: it has not run
	// yet, or it idled through an engine sweep (one to two seconds). Its
	// memory and globals are kept, and its next message gets it a new
	// instance; nothing the guest can see differs.
	Dormant bool `json:"dormant,omitempty"`
	// Fuel is what it has spent; it lags by up to one slice.
	Fuel int64 `json:"fuel"`
	// Memory is its whole account, as Stats.Memory.
	Memory uint64 `json:"memory"`
	// Mailbox is how many messages wait for it.
	Mailbox int `json:"mailbox"`
	// Restarts is how many times its service has been restarted.
	Restarts int           `json:"restarts,omitempty"`
	Uptime   time.Duration `json:"uptime"`
}

// ChildInfo is one child of a supervisor, as its supervisor sees it now.
type ChildInfo struct {
	Name string `json:"name"`
	// Service is the child's path under its root supervisor, as
	// Supervisor.Service takes it: "front/web".
	Service string `json:"service"`
	// PID is its current instance, or 0 between instances and for a
	// nested supervisor.
	PID      uint64 `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	// Children are a nested supervisor's own children.
	Children   []ChildInfo `json:"children,omitempty"`
	Supervisor bool        `json:"supervisor,omitempty"`
}

// SupervisorInfo is one running root supervisor and its tree.
type SupervisorInfo struct {
	Name     string      `json:"name"`
	Children []ChildInfo `json:"children"`
}

// Snapshot is the node's processes and supervisors at one moment: each
// process is read on its own, without stopping the others, so two of
// them may be seen a few microseconds apart.
type Snapshot struct {
	Taken       time.Time        `json:"taken"`
	Processes   []ProcessInfo    `json:"processes"`
	Supervisors []SupervisorInfo `json:"supervisors,omitempty"`
	// Memory is what the node holds for all its processes and images, and
	// Ceiling its limit (Config.MaxMemory).
	Memory  uint64 `json:"memory"`
	Ceiling uint64 `json:"ceiling"`
	// Images is what images hold of Memory; ImagesEvicted counts the
	// images dropped since the node started to make room for processes,
	// and ImageBuilds the images it started to make (each runs the
	// module's init once).
	Images        uint64 `json:"images,omitempty"`
	ImagesEvicted uint64 `json:"images_evicted,omitempty"`
	ImageBuilds   uint64 `json:"image_builds,omitempty"`
	// Files is how many host descriptors the node's processes hold open,
	// and FileLimit the most they may (Config.MaxFiles).
	Files     int `json:"files"`
	FileLimit int `json:"file_limit"`
}

// svcEntry is where a service sits in the supervision forest.
type svcEntry struct {
	path, root string
	restarts   int
}

// Snapshot lists the live processes, by ascending pid, and the running
// supervisors. It takes the node's process-table lock only to copy the
// table, so processes keep running and spawning meanwhile.
func (n *Node) Snapshot() Snapshot {
	sups, svcs := n.supervisorTree()
	now := time.Now()
	s := Snapshot{Taken: now, Supervisors: sups, Processes: make([]ProcessInfo, 0, n.k.ProcessCount()+16)}
	n.k.EachInfo(func(in *kernel.Info) {
		s.Processes = append(s.Processes, ProcessInfo{})
		n.fill(&s.Processes[len(s.Processes)-1], in, svcs, now)
	})
	mem, _, ceiling := n.k.Memory()
	s.Memory, s.Ceiling = uint64(max(mem, 0)), uint64(ceiling)
	images, evicted, builds := n.k.Images()
	s.Images, s.ImagesEvicted, s.ImageBuilds = uint64(max(images, 0)), evicted, builds
	files, fileLimit := n.k.Files()
	s.Files, s.FileLimit = int(files), int(fileLimit)
	return s
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fill turns the kernel's view of a process into a ProcessInfo.
func (n *Node) fill(out *ProcessInfo, in *kernel.Info, svcs map[*kernel.Service]svcEntry, now time.Time) {
	*out = ProcessInfo{PID: in.ID, Parent: in.Parent, Name: in.Module, Module: in.Module, State: in.State.String(),
		Reactor: in.Reactor, Image: in.Image, Dormant: in.Dormant, Fuel: in.Fuel, Memory: in.Memory, Mailbox: in.Queued, Uptime: max(now.Sub(in.Started), 0)}
	if in.Service != nil {
		if e, ok := svcs[in.Service]; ok {
			out.Name, out.Service, out.Supervisor, out.Restarts = e.path, e.path, e.root, e.restarts
		} else {
			out.Name, out.Service = in.Service.Name, in.Service.Name
		}
	}
}

// supervisorTree reads every running supervisor's children, and indexes
// their services.
func (n *Node) supervisorTree() ([]SupervisorInfo, map[*kernel.Service]svcEntry) {
	svcs := map[*kernel.Service]svcEntry{}
	var out []SupervisorInfo
	for _, s := range n.tools.supervisors() {
		out = append(out, SupervisorInfo{Name: s.Name(), Children: children(s, "", s.Name(), svcs)})
	}
	return out, svcs
}

func children(s *supervisor.Supervisor, prefix, root string, svcs map[*kernel.Service]svcEntry) []ChildInfo {
	var out []ChildInfo
	for _, c := range s.Children() {
		ci := ChildInfo{Name: c.Name, Service: prefix + c.Name, Restarts: c.Restarts}
		if c.Process != nil {
			ci.PID = c.Process.ID
		}
		if c.Service != nil {
			svcs[c.Service] = svcEntry{path: ci.Service, root: root, restarts: c.Restarts}
		}
		if c.Sub != nil {
			ci.Supervisor = true
			ci.Children = children(c.Sub, ci.Service+"/", root, svcs)
		}
		out = append(out, ci)
	}
	return out
}

// Children returns the supervisor's children as it sees them now, nested
// supervisors' with theirs; nil once it has ended.
func (s *Supervisor) Children() []ChildInfo {
	return children(s.s, "", s.s.Name(), map[*kernel.Service]svcEntry{})
}

// HandleInfo is one handle a process holds: its number, its kind and its
// rights, never the object behind it.
type HandleInfo struct {
	Handle uint32   `json:"handle"`
	Kind   string   `json:"kind"`
	Rights []string `json:"rights,omitempty"`
}

// Peer names the other end of a link or monitor: a process by pid, or a
// service by name.
type Peer struct {
	PID     uint64 `json:"pid,omitempty"`
	Service string `json:"service,omitempty"`
	// Node is the other node, for a process or service there, or for a
	// node monitoring this process.
	Node string `json:"node,omitempty"`
}

// ExitInfo is one process that ended, from the node's ring of recent
// exits.
type ExitInfo struct {
	PID     uint64        `json:"pid"`
	Parent  uint64        `json:"parent,omitempty"`
	Name    string        `json:"name"`
	Module  string        `json:"module"`
	Service string        `json:"service,omitempty"`
	Exit    string        `json:"exit"`
	At      time.Time     `json:"at"`
	Uptime  time.Duration `json:"uptime"`
}

// ProcessDetail is what Node.Inspect tells of one process.
type ProcessDetail struct {
	ProcessInfo
	Handles []HandleInfo `json:"handles"`
	// Links are its links; Monitors are the processes monitoring it.
	Links    []Peer `json:"links,omitempty"`
	Monitors []Peer `json:"monitors,omitempty"`
	// Tags are the tags of its queued messages, oldest first, at most
	// MaxInspectTags of them.
	Tags []uint32 `json:"tags,omitempty"`
	// RecentExits are the exits, among the node's recent ones, of its
	// children and of earlier instances of its service.
	RecentExits []ExitInfo `json:"recent_exits,omitempty"`
}

// MaxInspectTags bounds the queued tags ProcessDetail lists.
const MaxInspectTags = 1000

// ErrNoProcess is returned for a pid no live process has.
var ErrNoProcess = errors.New("no such process")

// Inspect reports a live process's handles, links, monitors, queued tags
// and related recent exits. It fails with ErrNoProcess if the process has
// ended; see RecentExits for those.
func (n *Node) Inspect(pid uint64) (ProcessDetail, error) {
	p, ok := n.k.Lookup(pid)
	if !ok {
		return ProcessDetail{}, fmt.Errorf("%w: pid %d", ErrNoProcess, pid)
	}
	_, svcs := n.supervisorTree()
	info := p.Info()
	var d ProcessDetail
	n.fill(&d.ProcessInfo, &info, svcs, time.Now())
	kd := p.Detail(MaxInspectTags)
	for _, h := range kd.Handles {
		d.Handles = append(d.Handles, HandleInfo{Handle: uint32(h.Handle), Kind: h.Kind.String(), Rights: rightNames(h.Kind, h.Rights)})
	}
	for _, l := range kd.Links {
		d.Links = append(d.Links, Peer{PID: l.ID, Service: l.Service, Node: l.Node})
	}
	for _, m := range kd.Monitors {
		d.Monitors = append(d.Monitors, Peer{PID: m.ID, Service: m.Service, Node: m.Node})
	}
	byPeer := func(a, b Peer) int { return cmp.Or(cmpU64(a.PID, b.PID), strings.Compare(a.Service, b.Service)) }
	slices.SortFunc(d.Links, byPeer)
	slices.SortFunc(d.Monitors, byPeer)
	d.Tags = kd.Tags
	for _, e := range n.RecentExits() {
		if e.Parent == pid || (d.Service != "" && e.Service == d.Service) {
			d.RecentExits = append(d.RecentExits, e)
		}
	}
	return d, nil
}

// rightNames names the rights set in r for kind k.
func rightNames(k capkind.Kind, r api.Rights) []string {
	d := capkind.Lookup(k)
	if d == nil {
		return nil
	}
	var out []string
	for _, right := range d.Rights {
		if r&right.Bit != 0 {
			out = append(out, right.Name)
		}
	}
	return out
}

// Kill kills the live process numbered pid with reason, as Process.Kill
// does. It fails with ErrNoProcess if there is none.
func (n *Node) Kill(pid uint64, reason string) error {
	p, ok := n.k.Lookup(pid)
	if !ok {
		return fmt.Errorf("%w: pid %d", ErrNoProcess, pid)
	}
	p.Kill(reason)
	return nil
}

// ErrNoService is returned by Node.Restart for a name no running
// supervisor has.
var ErrNoService = errors.New("no such service")

// Restart restarts a supervised service, as Supervisor.Restart does: name
// is its path ("front/web"), or its last part alone when only one service
// has it.
func (n *Node) Restart(name string) error {
	var found []string
	var restart func() error
	for _, s := range n.tools.supervisors() {
		var walk func(s *supervisor.Supervisor, prefix string)
		walk = func(s *supervisor.Supervisor, prefix string) {
			for _, c := range s.Children() {
				path := prefix + c.Name
				if path == name || c.Name == name {
					found = append(found, s.Name()+": "+path)
					restart = func() error { return s.Restart(c.Name) }
				}
				if c.Sub != nil {
					walk(c.Sub, path+"/")
				}
			}
		}
		walk(s, "")
	}
	switch len(found) {
	case 0:
		return fmt.Errorf("%w: %q", ErrNoService, name)
	case 1:
		return restart()
	}
	return fmt.Errorf("%q names %d services (%s); give its whole path", name, len(found), strings.Join(found, ", "))
}

// exitRing is how many recent exits a node remembers.
const exitRing = 256

// toolState is what a node keeps for tools: its supervisors, its recent
// exits and its recent logs.
type toolState struct {
	mu    sync.Mutex
	sups  []*supervisor.Supervisor
	exits [exitRing]exitEntry
	next  int // exits written, in all
	logs  *logRing
}

// exitEntry is one recent exit, as the kernel told it.
type exitEntry struct {
	pid, parent uint64
	module      string
	svc         *kernel.Service
	exit        api.Exit
	at, started time.Time
}

// exited records p's exit in the ring; the kernel calls it.
func (o *toolState) exited(p *kernel.Process, exit api.Exit) {
	in := p.Info()
	e := exitEntry{pid: in.ID, parent: in.Parent, module: in.Module, svc: in.Service, exit: exit, at: time.Now(), started: in.Started}
	o.mu.Lock()
	o.exits[o.next%exitRing] = e
	o.next++
	o.mu.Unlock()
}

// addSupervisor makes s known to tools until it ends.
func (o *toolState) addSupervisor(s *supervisor.Supervisor) {
	o.mu.Lock()
	o.sups = append(o.sups, s)
	o.mu.Unlock()
	go func() {
		<-s.Done()
		o.mu.Lock()
		o.sups = slices.DeleteFunc(o.sups, func(x *supervisor.Supervisor) bool { return x == s })
		o.mu.Unlock()
	}()
}

func (o *toolState) supervisors() []*supervisor.Supervisor {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.sups)
}

// RecentExits returns the node's most recent exits, oldest first: at most
// the last 256.
func (n *Node) RecentExits() []ExitInfo {
	o := n.tools
	o.mu.Lock()
	first := max(o.next-exitRing, 0)
	entries := make([]exitEntry, 0, o.next-first)
	for i := first; i < o.next; i++ {
		entries = append(entries, o.exits[i%exitRing])
	}
	o.mu.Unlock()
	_, svcs := n.supervisorTree()
	out := make([]ExitInfo, len(entries))
	for i, e := range entries {
		out[i] = ExitInfo{PID: e.pid, Parent: e.parent, Name: e.module, Module: e.module, Exit: e.exit.String(),
			At: e.at, Uptime: e.at.Sub(e.started)}
		if e.svc != nil {
			out[i].Service = e.svc.Name
			if se, ok := svcs[e.svc]; ok {
				out[i].Service = se.path
			}
			out[i].Name = out[i].Service
		}
	}
	return out
}
