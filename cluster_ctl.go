package isle

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// Requests between the members of a cluster for tools, such as `isle ps`
// gathering every node's processes: a small request and reply on the
// cluster's own connection, subject isle.<cluster>.ctl.<node>.<topic>.
// With the embedded server, only members reach it (routes are mutual
// TLS); with NATSURL, the deployment's permissions decide.

// ServeCluster answers the requests members send this node on topic with
// what h returns, until stop is called. h runs on the connection's
// dispatch goroutine for topic, one request at a time.
func (n *Node) ServeCluster(topic string, h func(req []byte) []byte) (stop func(), err error) {
	cs, err := n.clustered()
	if err != nil {
		return nil, err
	}
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	sub, err := cs.cl.Conn().Subscribe(cs.cl.Subject("ctl", cs.cl.Name(), topic), func(m *nats.Msg) {
		if m.Reply != "" {
			_ = m.Respond(h(m.Data))
		}
	})
	if err == nil {
		err = cs.cl.Conn().Flush() // this node's server has it; others learn it over routes, soon after
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: serving %q: %w", topic, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// AskCluster sends req to node's handler of topic (see ServeCluster) and
// returns its reply, or an error if none comes before ctx ends. It fails
// at once with nats.ErrNoResponders if nothing serves topic on node (or
// this node has not heard of it yet: interest crosses routes
// asynchronously).
func (n *Node) AskCluster(ctx context.Context, node, topic string, req []byte) ([]byte, error) {
	cs, err := n.clustered()
	if err != nil {
		return nil, err
	}
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	m, err := cs.cl.Conn().RequestWithContext(ctx, cs.cl.Subject("ctl", node, topic), req)
	if err != nil {
		return nil, fmt.Errorf("asking node %q for %s: %w", node, topic, err)
	}
	return m.Data, nil
}

// checkTopic refuses a topic that is not one subject token.
func checkTopic(topic string) error {
	if topic == "" || strings.ContainsAny(topic, ".*> \t") {
		return fmt.Errorf("cluster topic %q: use one word, without '.', '*', '>' or spaces", topic)
	}
	return nil
}
