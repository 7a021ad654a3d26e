package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Close leaves the cluster cleanly: it stops heartbeats, publishes a
// leave so peers declare this node Down with ReasonShutdown at once, waits
// (until ctx is done, at most DownAfter) for each Up peer to acknowledge
// it, drains both connections, emits Down (ReasonShutdown) here for every
// peer still Up, delivers the queued events, and shuts the embedded
// server down. Calling it again returns ErrClosed.
//
// Precondition: not called from an OnChange function (it waits for them).
func (n *Node) Close(ctx context.Context) error {
	if !n.markClosed() {
		return ErrClosed
	}
	close(n.stop)
	<-n.loopDone
	n.leave(ctx)
	err := errors.Join(n.drain(ctx, n.nc), n.drain(ctx, n.mc))
	n.mu.Lock()
	var evs []Event
	for _, p := range n.tab.peers {
		evs = n.tab.down(p, ReasonShutdown, evs)
	}
	n.emitLocked(evs)
	n.mu.Unlock()
	n.ev.drain()
	select {
	case <-n.ev.done:
	case <-ctx.Done():
		n.ev.kill()
	}
	n.shutdown()
	n.log.Info("cluster node left")
	return err
}

// Kill stops the node abruptly, as SIGKILL would: no leave, no events;
// peers find out by its silence. For tests. Calling it after Close or Kill
// does nothing.
func (n *Node) Kill() {
	if !n.markClosed() {
		return
	}
	close(n.stop)
	n.ev.kill()
	n.shutdown()
	<-n.loopDone
}

// markClosed reports whether this call closed the node.
func (n *Node) markClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.closed = true
	close(n.changed) // wake WaitPeer
	n.changed = make(chan struct{})
	return true
}

// leave publishes the leave and waits for the Up peers' acknowledgements.
func (n *Node) leave(ctx context.Context) {
	want := map[string]bool{}
	n.mu.Lock()
	for _, p := range n.tab.peers {
		if p.up {
			want[p.name] = true
		}
	}
	n.mu.Unlock()
	inbox := nats.NewInbox()
	sub, err := n.mc.SubscribeSync(inbox)
	if err != nil {
		n.send(true, "")
		return
	}
	defer sub.Unsubscribe()
	n.send(true, inbox)
	ctx, cancel := context.WithTimeout(ctx, n.cfg.DownAfter)
	defer cancel()
	for len(want) > 0 {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			n.log.Debug("cluster leave not acknowledged by all peers", "missing", len(want), "err", err)
			return
		}
		delete(want, string(msg.Data))
	}
}

// drain drains nc, waiting until ctx is done.
func (n *Node) drain(ctx context.Context, nc *nats.Conn) error {
	if nc == nil || nc.IsClosed() {
		return nil
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("cluster: draining NATS connection: %w", err)
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return fmt.Errorf("cluster: draining NATS connection: %w", ctx.Err())
	}
}

// shutdown closes the connections and the embedded server, if any.
func (n *Node) shutdown() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.mc != nil {
		n.mc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}
