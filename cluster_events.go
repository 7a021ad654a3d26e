package isle

import "github.com/isle-run/isle/internal/cluster"

// OnMembersChange calls f each time another node of the cluster comes up
// or goes down, with that member as of the change, until cancel is
// called. Calls come from one goroutine, in order, after the node's own
// handles have followed the change (a Lookup on a node just up can
// succeed; Remotes on a node just down have ended); f must not block for
// long, since later changes wait for it.
func (n *Node) OnMembersChange(f func(Member)) (cancel func(), err error) {
	c, err := n.clustered()
	if err != nil {
		return nil, err
	}
	return c.cl.OnChange(func(ev cluster.Event) {
		m := ev.Member
		f(Member{Name: m.Name, Up: ev.Kind == cluster.Up, LastSeen: m.LastSeen})
	}), nil
}
