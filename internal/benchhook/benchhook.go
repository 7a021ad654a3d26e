// Package benchhook lets the benchmarks (package bench) reach what package
// isle keeps unexported, without making it part of isle's API: isle fills
// in the functions here when it is initialised. Nothing but bench uses it.
package benchhook

import "github.com/isle-run/isle/internal/cluster"

// ClusterNode returns the cluster node under an *isle.Node, or nil when
// the node is not in a cluster. Package isle sets it; any other argument
// gives nil. It takes any because this package cannot import isle.
var ClusterNode func(node any) *cluster.Node
