package isle

import "slices"

// KillClusterForTest cuts n off its cluster abruptly, as SIGKILL or a
// partition would: no goodbye, and its peers must find out by silence.
func KillClusterForTest(n *Node) { n.cluster.cl.Kill() }

// LimitExportsForTest makes the node c configures hold at most n handles
// exported to each other node, and from it (dist.Config.MaxExports).
func LimitExportsForTest(c *ClusterConfig, n int) { c.maxExports = n }

// ExportsForTest returns how many handles n has exported to node peer, and
// how many of peer's it holds; ok is false when n has no session with
// peer, and holds nothing of it.
func ExportsForTest(n *Node, peer string) (exports, remotes int, ok bool) {
	if !slices.Contains(n.cluster.d.Peers(), peer) {
		return 0, 0, false
	}
	exports, remotes = n.cluster.d.Exports(peer)
	return exports, remotes, true
}
