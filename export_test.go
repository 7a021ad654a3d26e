package isle

import (
	"slices"

	"github.com/nats-io/nats.go"

	"github.com/isle-run/isle/internal/cluster"
)

// KillClusterForTest cuts n off its cluster abruptly, as SIGKILL or a
// partition would: no goodbye, and its peers must find out by silence.
func KillClusterForTest(n *Node) { n.cluster.cl.Kill() }

// ClusterNodeForTest returns n's cluster membership and transport.
func ClusterNodeForTest(n *Node) *cluster.Node { return n.cluster.cl }

// RemoteExportForTest returns the export a Remote names on its owner.
func RemoteExportForTest(r *Remote) uint64 { return r.r.ID }

// LinearPrivateForTest reports the bytes of p's linear memory the host
// holds for it alone (kernel.Process.LinearPrivate).
func LinearPrivateForTest(p *Process) (uint64, error) { return p.p.LinearPrivate() }

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

// TakeBatchesForTest makes f see every batch n receives from its cluster
// before it is opened; a batch f returns true for is taken (dropped, or
// kept to present with PresentBatchForTest). A nil f ends it.
func TakeBatchesForTest(n *Node, f func(*nats.Msg) bool) {
	if f == nil {
		n.cluster.batchHook.Store(nil)
		return
	}
	n.cluster.batchHook.Store(&f)
}

// PresentBatchForTest hands n a batch as if it had just arrived, past the
// hook. Only while the hook takes every batch from the same sender: the
// batches of one member must be opened one at a time, in order.
func PresentBatchForTest(n *Node, m *nats.Msg) { n.cluster.openBatch(m) }
