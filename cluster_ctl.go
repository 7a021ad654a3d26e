package isle

import (
	"context"
	"fmt"
	"strings"
)

// Requests between the members of a cluster for tools, such as `isle ps`
// gathering every node's processes: a small request and reply on the
// cluster's own connection (internal/cluster's Serve and Ask). With
// credentials, requests and replies are sealed with the two nodes'
// session keys, so a member can neither ask in another's name nor read
// another's answers; without, the NATS deployment's permissions decide.

// ServeCluster answers the requests members send this node on topic with
// what h returns, until stop is called. h runs on the connection's
// dispatch goroutine for topic, one request at a time, and must be safe
// to run twice for one request (a replayed request runs it again, though
// only the member that asked can read the answer).
func (n *Node) ServeCluster(topic string, h func(req []byte) []byte) (stop func(), err error) {
	cs, err := n.clustered()
	if err != nil {
		return nil, err
	}
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	return cs.cl.Serve(topic, h)
}

// AskCluster sends req to node's handler of topic (see ServeCluster) and
// returns its reply, or an error if none comes before ctx ends. It fails
// at once if node is not up, and with nats.ErrNoResponders if nothing
// serves topic on node (or this node has not heard of it yet: interest
// crosses routes asynchronously).
func (n *Node) AskCluster(ctx context.Context, node, topic string, req []byte) ([]byte, error) {
	cs, err := n.clustered()
	if err != nil {
		return nil, err
	}
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	r, err := cs.cl.Ask(ctx, node, topic, req)
	if err != nil {
		return nil, fmt.Errorf("asking node %q for %s: %w", node, topic, err)
	}
	return r, nil
}

// checkTopic refuses a topic that is not one subject token.
func checkTopic(topic string) error {
	if topic == "" || strings.ContainsAny(topic, ".*> \t") {
		return fmt.Errorf("cluster topic %q: use one word, without '.', '*', '>' or spaces", topic)
	}
	return nil
}
