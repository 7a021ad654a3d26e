package isle

// KillClusterForTest cuts n off its cluster abruptly, as SIGKILL or a
// partition would: no goodbye, and its peers must find out by silence.
func KillClusterForTest(n *Node) { n.cluster.cl.Kill() }
