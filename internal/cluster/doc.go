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
// credentials Config.NATSOptions give; Creds are then optional, and serve
// only to authenticate members to one another.
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
// Member.Stamp and Node.Open (or Admit) let the kernel drop messages sent
// on an ended session.
//
// # Authentication
//
// Routes admit any node holding a certificate of the cluster's CA, and a
// member's own server could publish anything; so with Creds, every
// member proves each message it sends. A heartbeat or leave carries the
// sender's certificate and a counter that grows with every beat (from
// its wall clock at Start), and is signed with its key: a receiver takes
// it only if the certificate is the CA's for the name the beat gives,
// the signature holds, the incarnation is not one it saw end, and the
// counter is above the last it took from that name (or, for another
// incarnation once the one last heard has been silent for DownAfter, at
// most a minute behind: a restart whose clock stepped back). When
// a link is being set up, both ends derive its keys with no message of
// their own: HKDF-SHA256 over the static ECDH secret of their
// certificates' keys, bound to the cluster, the direction (sender,
// receiver), both incarnations and both sessions, one key per direction
// for data and one for requests. Seal and Open carry data under them with
// AES-256-GCM, the stamp as additional data and a counter as nonce, and
// Open takes only the counter after the last it opened, so a batch
// cannot be forged in another member's name, replayed, reordered, moved
// to another session, or read by a third member. Ask and Serve seal
// requests and replies likewise, with random nonces (they run
// concurrently). What fails is dropped, counted (Refused), and logged at
// most once a minute per sender. Heartbeats are signed, not secret, and
// subjects and sizes show who talks to whom. A member sees a pair's
// batches (its server can subscribe to them) and can deliver a copy of
// one before the route does: a copy of the next batch is opened in its
// place, and the genuine one, later, is a replay; a copy of a later one
// is held back (ErrAhead) and dropped, and the genuine one opened when
// the route brings it. Either way each batch is opened once, in order.
// An authentic later batch held while the next has not come for
// DownAfter since the last opened means the next was lost (NATS drops
// messages, for a slow consumer for instance): the receiver ends the
// session (Down, ReasonNoConnection, and a warning), as for a silent
// peer, and membership starts a new one. A copy causes this only if,
// after it, the route goes more than DownAfter without delivering the
// next batch. A batch lost with none after it on the session goes
// unnoticed here. Without Creds (NATSURL alone), Seal and Open pass data
// through and members trust the NATS deployment's permissions to keep
// each to its own name.
//
// # Concurrency
//
// Node's methods are safe from any goroutine. OnChange functions run on
// one goroutine, in event order. Lock order: Node.mu, then
// dispatcher.mu; neither is held while calling out to NATS or to an
// OnChange function. A session key's lock, the verified certificates'
// and the refusal log's are taken alone.
package cluster
