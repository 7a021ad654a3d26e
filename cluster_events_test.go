package isle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// OnMembersChange reports a node that goes down, and a node outside a
// cluster has no members to watch.
func TestOnMembersChange(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	changes := make(chan isle.Member, 16)
	cancel, err := a.OnMembersChange(func(m isle.Member) {
		select {
		case changes <- m:
		default: // never block the node's events
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	isle.KillClusterForTest(b)
	ctx := testwasm.Context(t)
	for {
		select {
		case m := <-changes:
			if m.Name == "b" && !m.Up {
				if _, err := testNode(t).OnMembersChange(func(isle.Member) {}); !errors.Is(err, isle.ErrNotClustered) {
					t.Fatalf("OnMembersChange outside a cluster: %v", err)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no change reported b down")
		}
	}
}

// testNode is a node outside any cluster.
func testNode(t *testing.T) *isle.Node {
	t.Helper()
	n, err := isle.NewNode(context.Background(), isle.Config{CacheDir: testwasm.NodeCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}
