package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/control"
)

// psHeader heads `isle ps` and `isle top`.
const psHeader = "PID\tNAME\tMODULE\tSTATE\tFUEL\tMEMORY\tMBOX\tRESTARTS\tUPTIME"

// printTree prints the snapshot as a tree: each supervisor with its
// children, each process with the processes it spawned, then the
// processes nobody supervises.
func printTree(w io.Writer, s *isle.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, psHeader)
	newTree(s, "").print(tw)
	tw.Flush()
	fmt.Fprintf(w, "%d processes, memory %s of %s%s%s\n", len(s.Processes), formatBytes(s.Memory), formatBytes(s.Ceiling), imagesNote(s), filesNote(s))
}

// filesNote says how many host descriptors the processes hold, once they
// hold any.
func filesNote(s *isle.Snapshot) string {
	if s.Files == 0 {
		return ""
	}
	return fmt.Sprintf(", files %d of %d", s.Files, s.FileLimit)
}

// imagesNote says what images hold of the node's memory, if anything,
// and how many were evicted to make room for processes.
func imagesNote(s *isle.Snapshot) string {
	if s.Images == 0 && s.ImagesEvicted == 0 {
		return ""
	}
	return fmt.Sprintf(" (images %s, %d evicted)", formatBytes(s.Images), s.ImagesEvicted)
}

// printCluster prints every node's tree under a NODE column, a line for
// each node that did not answer, and the members' state.
func printCluster(w io.Writer, v *control.ClusterView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\t"+psHeader)
	procs := 0
	for _, n := range v.Nodes {
		if n.Snapshot == nil {
			fmt.Fprintf(tw, "%s\t-\t(%s)\t\t\t\t\t\t\t\n", n.Node, n.Error)
			continue
		}
		procs += len(n.Snapshot.Processes)
		newTree(n.Snapshot, n.Node).print(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d processes on %d nodes\n", procs, len(v.Nodes))
	for _, m := range v.Members {
		state := "up"
		switch {
		case m.Self:
			state = "up, this node"
		case !m.Up:
			state = "down"
		}
		seen := ""
		if !m.Self && !m.LastSeen.IsZero() {
			seen = fmt.Sprintf(", last seen %s ago", roundDuration(time.Since(m.LastSeen)))
		}
		fmt.Fprintf(w, "node %s: %s%s\n", m.Name, state, seen)
	}
}

// tree indexes a snapshot for printing; node, if set, leads every row.
type tree struct {
	s     *isle.Snapshot
	node  string
	byPID map[uint64]*isle.ProcessInfo
	kids  map[uint64][]*isle.ProcessInfo
	shown map[uint64]bool
}

func newTree(s *isle.Snapshot, node string) *tree {
	t := &tree{s: s, byPID: map[uint64]*isle.ProcessInfo{}, kids: map[uint64][]*isle.ProcessInfo{}, shown: map[uint64]bool{}}
	if node != "" {
		t.node = node + "\t"
	}
	for i := range s.Processes {
		p := &s.Processes[i]
		t.byPID[p.PID] = p
	}
	for i := range s.Processes {
		p := &s.Processes[i]
		if _, ok := t.byPID[p.Parent]; ok {
			t.kids[p.Parent] = append(t.kids[p.Parent], p)
		}
	}
	return t
}

// print prints the supervisors with their children, then the processes
// nobody supervises.
func (t *tree) print(w io.Writer) {
	for _, sup := range t.s.Supervisors {
		fmt.Fprintf(w, "%s-\t%s\tsupervisor\t\t\t\t\t\t\n", t.node, sup.Name)
		t.children(w, sup.Children, 1)
	}
	for i := range t.s.Processes {
		p := &t.s.Processes[i]
		if _, child := t.byPID[p.Parent]; !child && !t.shown[p.PID] {
			t.process(w, p, 0, "")
		}
	}
}

func (t *tree) children(w io.Writer, cs []isle.ChildInfo, depth int) {
	for _, c := range cs {
		switch p := t.byPID[c.PID]; {
		case c.Supervisor:
			fmt.Fprintf(w, "%s-\t%s%s\tsupervisor\t\t\t\t\t%d\t\n", t.node, indent(depth), c.Name, c.Restarts)
			t.children(w, c.Children, depth+1)
		case c.PID == 0 || p == nil:
			fmt.Fprintf(w, "%s-\t%s%s\t\trestarting\t\t\t\t%d\t\n", t.node, indent(depth), c.Name, c.Restarts)
		default:
			t.process(w, p, depth, c.Name)
		}
	}
}

// process prints p, named name if set, and its descendants below it.
func (t *tree) process(w io.Writer, p *isle.ProcessInfo, depth int, name string) {
	if name == "" {
		name = p.Name
	}
	t.shown[p.PID] = true
	fmt.Fprintf(w, "%s%d\t%s%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", t.node, p.PID, indent(depth), name, p.Module, p.State,
		p.Fuel, formatBytes(p.Memory), p.Mailbox, p.Restarts, roundDuration(p.Uptime))
	for _, k := range t.kids[p.PID] {
		t.process(w, k, depth+1, "")
	}
}

func indent(depth int) string { return strings.Repeat("  ", depth) }

// printDetail prints what `isle inspect` shows.
func printDetail(w io.Writer, d *isle.ProcessDetail) {
	kind := "command"
	if d.Reactor {
		kind = "reactor"
	}
	if d.Image {
		kind += " started from its module's image"
	}
	fmt.Fprintf(w, "pid %d: %s, module %s, %s", d.PID, d.Name, d.Module, kind)
	if d.Service != "" {
		fmt.Fprintf(w, ", service %s of supervisor %s", d.Service, d.Supervisor)
	}
	if d.Parent != 0 {
		fmt.Fprintf(w, ", spawned by pid %d", d.Parent)
	}
	state := d.State
	if d.Dormant {
		state += " (dormant: no instance until its next message)"
	}
	fmt.Fprintf(w, "\nstate %s, fuel %d, memory %s, mailbox %d, restarts %d, uptime %s\n",
		state, d.Fuel, formatBytes(d.Memory), d.Mailbox, d.Restarts, roundDuration(d.Uptime))
	fmt.Fprintf(w, "handles (%d):\n", len(d.Handles))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, h := range d.Handles {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", h.Handle, h.Kind, strings.Join(h.Rights, ","))
	}
	tw.Flush()
	fmt.Fprintf(w, "links: %s\n", peers(d.Links))
	fmt.Fprintf(w, "monitored by: %s\n", peers(d.Monitors))
	tags := make([]string, len(d.Tags))
	for i, t := range d.Tags {
		tags[i] = fmt.Sprintf("%#x", t)
	}
	fmt.Fprintf(w, "queued tags (%d):%s\n", d.Mailbox, strings.Join(append([]string{""}, tags...), " "))
	fmt.Fprintf(w, "recent exits (%d):\n", len(d.RecentExits))
	for _, e := range d.RecentExits {
		fmt.Fprintf(tw, "  pid %d\t%s\t%s\tafter %s, at %s\n", e.PID, e.Name, e.Exit, roundDuration(e.Uptime),
			e.At.Local().Format("15:04:05.000"))
	}
	tw.Flush()
}

func peers(ps []isle.Peer) string {
	if len(ps) == 0 {
		return "none"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.Service != "" {
			out[i] = "service " + p.Service
		} else {
			out[i] = fmt.Sprintf("pid %d", p.PID)
		}
	}
	return strings.Join(out, ", ")
}
