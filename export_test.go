package isle

import "github.com/isle-run/isle/internal/cluster"

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
