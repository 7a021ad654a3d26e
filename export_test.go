package isle

// KillClusterForTest cuts n off its cluster abruptly, as SIGKILL or a
// partition would: no goodbye, and its peers must find out by silence.
func KillClusterForTest(n *Node) { n.cluster.cl.Kill() }

// LinearPrivateForTest reports the bytes of p's linear memory the host
// holds for it alone (kernel.Process.LinearPrivate).
func LinearPrivateForTest(p *Process) (uint64, error) { return p.p.LinearPrivate() }
