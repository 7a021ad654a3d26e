// Package cluster is isle's transport and membership layer: nodes join
// over NATS, learn which other nodes are Up, and carry the kernel's
// traffic. It knows nothing about wasm or processes.
//
// # Transport
//
// Each node embeds a nats-server. Its own connections (Node.Conn for the
// caller, a second one for membership) are in-process. Routes between
// nodes listen on Config.Listen and use mutual TLS 1.3 with a cluster CA
// (Init, IssueNode, LoadCredentials): both ends must present a certificate
// the CA signed, and a route carries only "isle.<cluster>.>" and "_INBOX.>"
// subjects. nats-server v2.15.2 starts routing only after opening its
// client listener, so a node with routes has one, on a random loopback
// port, that refuses every connection that is not in-process. A node
// without routes has no listener at all. With Config.NATSURL the node
// instead connects to an existing NATS deployment, with whatever
// credentials Config.NATSOptions give.
//
// # Ordering
//
// NATS delivers the messages one connection publishes on one subject to
// each subscriber in the order they were published, across routes too:
// a server forwards a connection's messages in order on one route
// connection (one route per pair of servers here), and a subscription's
// callbacks run one at a time. Nothing is promised across subjects or
// across publishing connections. Membership relies on it for heartbeats;
// the kernel may rely on it per (connection, subject).
//
// # Membership
//
// Every node publishes a heartbeat each Config.Heartbeat carrying its
// name, its incarnation (random per Start) and, per peer, its session for
// the link and the peer's as last heard. A node declares a peer Up when
// the peer's heartbeat echoes the node's current session, and Down when
// the peer is silent for Config.DownAfter (ReasonNoConnection), leaves
// (ReasonShutdown), restarts (a new incarnation), or its heartbeat shows it
// dropped or replaced the link. A Down session is never used again: the
// next heartbeat carries a new session, which makes a peer still Up on
// the old one go Down too (the reset) before both come Up on new sessions.
// Member.Stamp and Node.Admit let the kernel drop messages sent on an
// ended session.
//
// # Concurrency
//
// Node's methods are safe from any goroutine. OnChange functions run on
// one goroutine, in event order. Lock order: Node.mu, then
// dispatcher.mu; neither is held while calling out to NATS or to an
// OnChange function.
package cluster
