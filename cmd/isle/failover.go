package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/manifest"
)

const (
	// settleTime bounds how long a node that just started waits for the
	// other nodes of a failover service's list to appear before deciding
	// whether to run it: long enough for a node to hear from the others
	// already up (a heartbeat), short enough for a lone node to start.
	settleTime = 3 * time.Second
	// lookupQuick bounds one look-up on a node that is up: a node that
	// does not answer within it is taken not to offer the service.
	lookupQuick = time.Second
)

// errNotServed is a find that found no node offering the service.
var errNotServed = errors.New("no node up offers the service")

// follower keeps a local handle bound to the instance of a service on
// another node, re-finding it each time it is lost.
type follower struct {
	pl           *placement
	node         *isle.Node
	name         string
	nodes, users []string
	stderr       io.Writer
	found        chan struct{} // closed at the first instance found
	once         sync.Once
	cur          *isle.Remote // the instance bound, for find only
	lost         bool
	cancel       context.CancelFunc
	done         chan struct{}
}

// startFollower makes this node's handle to service name follow its
// instance on the other nodes that may run it, tried in their order.
func (pl *placement) startFollower(node *isle.Node, name string, stderr io.Writer) {
	ctx, cancel := context.WithCancel(pl.follow)
	f := &follower{pl: pl, node: node, name: name, nodes: pl.byName[name].Nodes, users: pl.users[name], stderr: stderr,
		found: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	pl.followers[name] = f
	pl.wg.Add(1)
	go func() {
		defer pl.wg.Done()
		defer close(f.done)
		pl.handles[name].Follow(ctx, f.find)
	}()
}

// stop ends the following; the handle then holds messages for an
// instance bound by other means (a supervisor on this node).
func (f *follower) stop() { f.cancel(); <-f.done }

// find returns the instance on the first node of the list that is up and
// offers it, saying when the one before was lost and when one is back.
func (f *follower) find(ctx context.Context) (*isle.Remote, error) {
	users := strings.Join(f.users, ", ")
	if f.cur != nil {
		how := ""
		if exit, ok := f.cur.Exit(); ok {
			how = fmt.Sprintf(" (%s)", exit)
		}
		fmt.Fprintf(f.stderr, "isle: lost service %s on node %s%s: messages from %s wait for it to be back\n",
			f.name, f.cur.Node(), how, users)
		f.cur, f.lost = nil, true
	}
	for _, n := range f.nodes {
		if n == f.pl.self || !isUp(f.node, n) {
			continue
		}
		quick, cancel := context.WithTimeout(ctx, lookupQuick)
		r, err := f.node.Lookup(quick, n, f.pl.publishName(f.name))
		cancel()
		if err != nil {
			continue
		}
		if f.lost {
			fmt.Fprintf(f.stderr, "isle: service %s back on node %s: messages from %s reach it again\n", f.name, n, users)
		}
		f.cur, f.lost = r, false
		f.once.Do(func() { close(f.found) })
		return r, nil
	}
	return nil, errNotServed
}

// isUp reports whether node sees the member called name up.
func isUp(node *isle.Node, name string) bool {
	for _, m := range node.Members() {
		if m.Name == name {
			return m.Up
		}
	}
	return false
}

// runner decides when a service that fails over starts on this node:
// when every node before this one in its list is down and no node after
// it that is up already offers it. Once started here, it stays.
type runner struct {
	pl     *placement
	node   *isle.Node
	name   string
	nodes  []string
	spec   isle.SupervisorSpec
	stderr io.Writer

	mu  sync.Mutex
	sup *isle.Supervisor
}

// addRunner prepares the tree of failover service s, granted this node's
// handles, to start when this node's turn comes.
func (pl *placement) addRunner(ctx context.Context, u *upper, s *manifest.Supervisor) error {
	svc := s.Services[0]
	spec, err := u.spec(ctx, pl.app, s)
	if err != nil {
		return err
	}
	c := &spec.Children[0]
	c.Service = pl.handles[svc.Name]
	if err := pl.grant(c); err != nil {
		return err
	}
	pl.runners = append(pl.runners, &runner{pl: pl, node: u.node, name: svc.Name, nodes: svc.Nodes, spec: spec, stderr: u.stderr})
	return nil
}

// run starts deciding, once the root tree is up.
func (pl *placement) run() {
	for _, r := range pl.runners {
		pl.wg.Add(1)
		go func() {
			defer pl.wg.Done()
			r.run(pl.follow)
		}()
	}
}

// started returns the tree started here, if any.
func (r *runner) started() *isle.Supervisor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sup
}

// run decides again at each change of membership until this node starts
// the service or ctx ends.
func (r *runner) run(ctx context.Context) {
	changed := make(chan struct{}, 1)
	cancel, err := r.node.OnMembersChange(func(isle.Member) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return
	}
	defer cancel()
	r.settle(ctx, changed)
	standby := ""
	for ctx.Err() == nil {
		// A node that stands by for a later one goes on standing by while
		// that node is up: a look-up that fails once (slow under load)
		// must not start a second instance beside the one it serves.
		if standby == "" || !isUp(r.node, standby) {
			down, on, start := r.decide(ctx)
			if start {
				r.start(ctx, down)
				return
			}
			if on != "" && on != standby {
				fmt.Fprintf(r.stderr, "isle: service %s already runs on node %s; node %s stands by\n", r.name, on, r.pl.self)
			}
			standby = on
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// settle waits, for at most settleTime, until every other node of the
// list is up, so that a node just started sees where the service runs.
func (r *runner) settle(ctx context.Context, changed <-chan struct{}) {
	t := time.NewTimer(settleTime)
	defer t.Stop()
	for {
		all := true
		for _, n := range r.nodes {
			all = all && (n == r.pl.self || isUp(r.node, n))
		}
		if all {
			return
		}
		select {
		case <-changed:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// decide returns whether to start the service here and, if so, which
// nodes before this one are down; if not because a node after this one
// offers it, that node.
func (r *runner) decide(ctx context.Context) (down []string, on string, start bool) {
	self := slices.Index(r.nodes, r.pl.self)
	for _, n := range r.nodes[:self] {
		if isUp(r.node, n) {
			return nil, "", false
		}
		down = append(down, n)
	}
	for _, n := range r.nodes[self+1:] {
		if !isUp(r.node, n) {
			continue
		}
		quick, cancel := context.WithTimeout(ctx, lookupQuick)
		_, err := r.node.Lookup(quick, n, r.pl.publishName(r.name))
		cancel()
		if err == nil {
			return nil, n, false
		}
	}
	return down, "", ctx.Err() == nil
}

// start runs the service's tree here, publishes it, and reports if the
// tree gives up.
func (r *runner) start(ctx context.Context, down []string) {
	if f := r.pl.followers[r.name]; f != nil {
		f.stop() // the tree binds the handle's instances from now on
	}
	if ctx.Err() != nil {
		return
	}
	why := "the first of its nodes " + strings.Join(r.nodes, ", ")
	if len(down) > 0 {
		verb := "is"
		if len(down) > 1 {
			verb = "are"
		}
		why = fmt.Sprintf("of its nodes %s, %s before this one %s down", strings.Join(r.nodes, ", "), strings.Join(down, ", "), verb)
	}
	fmt.Fprintf(r.stderr, "isle: starting service %s on node %s: %s\n", r.name, r.pl.self, why)
	if others := r.pl.reachers(r.name); len(others) > 0 {
		if err := r.node.Publish(r.pl.publishName(r.name), isle.ServiceCap(r.pl.handles[r.name], remoteRights), others...); err != nil {
			r.pl.gaveUp <- fmt.Sprintf("service %s could not be offered to other nodes: %v", r.name, err)
			return
		}
	}
	sup, err := r.node.Supervise(ctx, r.spec)
	if err != nil {
		r.pl.gaveUp <- fmt.Sprintf("service %s could not start on this node: %v", r.name, err)
		return
	}
	r.mu.Lock()
	r.sup = sup
	r.mu.Unlock()
	select {
	case <-sup.Done():
		r.pl.gaveUp <- fmt.Sprintf("the supervisor of %s on this node %s", r.name, sup.Exit())
	case <-ctx.Done():
	}
}

// summary says which services fail over to this node.
func (pl *placement) summary() string {
	if pl == nil || len(pl.runners) == 0 {
		return ""
	}
	var names []string
	for _, r := range pl.runners {
		names = append(names, r.name)
	}
	return ", and " + strings.Join(names, ", ") + " when this node's turn comes"
}
