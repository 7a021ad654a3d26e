package control

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/isle-run/isle"
)

// A clustered node's control server also answers the other members' ps
// over the cluster (isle.Node.ServeCluster), and gathers theirs for a ps
// request that asks for the whole cluster.

// psTopic is the cluster topic of a node's process snapshot.
const psTopic = "ps"

// askTimeout bounds how long ps waits for one other node's snapshot.
const askTimeout = 2 * time.Second

// ClusterView is every node's processes, as one node gathered them.
type ClusterView struct {
	// Members are the nodes this node knows, itself first.
	Members []isle.Member `json:"members"`
	// Nodes are the answers of the members, in the order of Members.
	Nodes []NodeSnapshot `json:"nodes"`
}

// NodeSnapshot is one node's processes, or why there are none.
type NodeSnapshot struct {
	Node     string         `json:"node"`
	Snapshot *isle.Snapshot `json:"snapshot,omitempty"`
	// Error says why the node did not answer: it is down, or did not
	// answer in time.
	Error string `json:"error,omitempty"`
}

// serveCluster answers other members' ps, if the node is in a cluster.
func serveCluster(node *isle.Node) (stop func()) {
	if node.NodeName() == "" {
		return func() {}
	}
	stop, err := node.ServeCluster(psTopic, func([]byte) []byte {
		snap := node.Snapshot()
		b, _ := json.Marshal(snap)
		return b
	})
	if err != nil {
		return func() {}
	}
	return stop
}

// clusterPS gathers every member's snapshot, asking the others at once.
func clusterPS(ctx context.Context, node *isle.Node) *ClusterView {
	v := &ClusterView{Members: node.Members()}
	v.Nodes = make([]NodeSnapshot, len(v.Members))
	var wg sync.WaitGroup
	for i, m := range v.Members {
		v.Nodes[i].Node = m.Name
		switch {
		case m.Self:
			snap := node.Snapshot()
			v.Nodes[i].Snapshot = &snap
		case !m.Up:
			v.Nodes[i].Error = "down"
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				v.Nodes[i] = askPS(ctx, node, m.Name)
			}()
		}
	}
	wg.Wait()
	return v
}

func askPS(ctx context.Context, node *isle.Node, name string) NodeSnapshot {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	ns := NodeSnapshot{Node: name}
	b, err := node.AskCluster(ctx, name, psTopic, nil)
	if err == nil {
		var snap isle.Snapshot
		if err = json.Unmarshal(b, &snap); err == nil {
			ns.Snapshot = &snap
			return ns
		}
	}
	ns.Error = "no answer: " + err.Error()
	return ns
}
