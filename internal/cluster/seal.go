package cluster

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Seal, Open, Ask.
var (
	// ErrNoSession: the member is not Up on the session named (it ended,
	// or never began); what was sent on it does not count.
	ErrNoSession = errors.New("no such session with that member")
	// ErrRefused: data that does not open with the sender's session key:
	// forged, tampered with, replayed, or sealed for another session.
	ErrRefused = errors.New("refused: not sealed by that member for this session")
	// ErrAhead: sealed by that member on this session, but not the next
	// it sealed: an earlier one has not arrived yet, or was lost. It is
	// not delivered, and not a refusal (see Open).
	ErrAhead = errors.New("held back: an earlier batch from that member has not arrived")
)

// link holds the keys of one session with a peer. Each direction has
// its own keys, derived by both ends alike (see deriveLink); they are
// dropped when the session ends, and a session is never used again.
type link struct {
	inc, mine, theirs uint64 // the peer's incarnation, both sessions
	out, in           ctrKey // data, this node to the peer and back
	ctlOut, ctlIn     cipher.AEAD
}

// ctrKey is an AES-256-GCM key whose nonces are a counter: the sender's
// increases by one with every Seal, and the receiver opens only the
// next counter, so nothing can be replayed, and nothing delivered out
// of order or past a gap (see open).
type ctrKey struct {
	aead  cipher.AEAD
	mu    sync.Mutex
	n     uint64 // out: the last counter used; in: the last opened
	ahead uint64 // in: the highest authentic counter seen beyond n+1, or 0
	nonce [12]byte
	ad    [16]byte
	// waiting is when the receiver began waiting for n+1 while holding
	// an authentic later one (unix nanoseconds; 0: not waiting): set and
	// cleared under mu, read alone by the node's loop (Node.stalledLocked).
	waiting atomic.Int64
}

// sealedOverhead is what sealing adds to data: the counter and the tag.
const sealedOverhead = 8 + 16

func (k *ctrKey) setup(ctr uint64, st Stamp) {
	binary.BigEndian.PutUint64(k.nonce[4:], ctr)
	binary.BigEndian.PutUint64(k.ad[:8], st.To)
	binary.BigEndian.PutUint64(k.ad[8:], st.From)
}

func (k *ctrKey) seal(dst []byte, st Stamp, plaintext []byte) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	k.setup(k.n, st)
	dst = binary.BigEndian.AppendUint64(dst, k.n)
	return k.aead.Seal(dst, k.nonce[:], plaintext, k.ad[:])
}

// sealed is how many batches an out key has sealed.
func (k *ctrKey) sealed() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

// expect records, on an in key, that the sender has sealed n batches: if
// some are not opened yet, the receiver waits for them as for those before
// an authentic later one (see open), and the session ends if they do not
// come within DownAfter. Without it a lost batch that nothing followed
// went unnoticed, and an end it carried never fired a monitor (found in
// review).
func (k *ctrKey) expect(n uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n <= k.n {
		return
	}
	k.ahead = max(k.ahead, n)
	if k.waiting.Load() == 0 {
		k.waiting.Store(time.Now().UnixNano())
	}
}

// open decrypts sealed in place if its counter is the next one. A
// counter at or below the last opened is a replay. An authentic one
// beyond the next is not returned (errAhead): the batches between are
// late (a copy sent by another member overtook them) or lost, and the
// receiver waits for the next; waiting says since when, and stays set
// while the counters opened have not reached the highest seen, from the
// last one opened (a late batch arrives, and the wait ends; a lost one
// never does, and the node ends the session).
func (k *ctrKey) open(st Stamp, sealed []byte) ([]byte, error) {
	if len(sealed) < sealedOverhead {
		return nil, errMalformed
	}
	n := binary.BigEndian.Uint64(sealed)
	k.mu.Lock()
	defer k.mu.Unlock()
	if n <= k.n {
		return nil, errReplayed
	}
	k.setup(n, st)
	plain, err := k.aead.Open(sealed[8:8], k.nonce[:], sealed[8:], k.ad[:])
	if err != nil {
		return nil, errForged
	}
	if n != k.n+1 {
		k.ahead = max(k.ahead, n)
		if k.waiting.Load() == 0 {
			k.waiting.Store(time.Now().UnixNano())
		}
		return nil, ErrAhead
	}
	k.n = n
	if k.ahead > n {
		k.waiting.Store(time.Now().UnixNano())
	} else {
		k.ahead = 0
		k.waiting.Store(0)
	}
	return plain, nil
}

// Key labels: data and control requests never share a key.
const (
	labelData = "data"
	labelCtl  = "ctl"
)

// deriveLink derives the keys of the session (mine, theirs) with the
// member holding mc: HKDF-SHA256 of the static ECDH secret of the two
// nodes' certificate keys, with info binding the cluster, the direction
// (sender, receiver), both incarnations and both sessions. Both ends
// compute the same keys, with no message of their own: the sessions come
// from the heartbeats that set the link up.
func (n *Node) deriveLink(mc *memberCert, peer string, inc, mine, theirs uint64) (*link, error) {
	secret, err := n.id.sharedSecret(mc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadCert, err)
	}
	self := end{n.cfg.Name, n.inc, mine}
	other := end{peer, inc, theirs}
	key := func(label string, from, to end) (cipher.AEAD, error) {
		k, err := hkdf.Key(sha256.New, secret, nil, linkInfo(label, n.cfg.Cluster, from, to), 32)
		if err != nil {
			return nil, err
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
	l := &link{inc: inc, mine: mine, theirs: theirs}
	for _, k := range []struct {
		to       *cipher.AEAD
		label    string
		from, at end
	}{
		{&l.out.aead, labelData, self, other}, {&l.in.aead, labelData, other, self},
		{&l.ctlOut, labelCtl, self, other}, {&l.ctlIn, labelCtl, other, self},
	} {
		if *k.to, err = key(k.label, k.from, k.at); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// end is one side of a session.
type end struct {
	name         string
	inc, session uint64
}

func linkInfo(label, cluster string, from, to end) string {
	b := []byte("isle link v1")
	for _, s := range []string{label, cluster, from.name, to.name} {
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	for _, x := range []uint64{from.inc, to.inc, from.session, to.session} {
		b = binary.BigEndian.AppendUint64(b, x)
	}
	return string(b)
}

// linkFor returns the keys of the session (mine, theirs) with peer,
// deriving them on first use, if it is the peer's current one: Up, or,
// unless up is set, being set up (both sessions known). inc 0 means the
// peer's current incarnation.
func (n *Node) linkFor(peer string, inc, mine, theirs uint64, up bool) (*link, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.tab.peers[peer]
	if p == nil || mine == 0 || theirs == 0 || p.mine != mine || p.theirs != theirs ||
		(inc != 0 && p.inc != inc) || (up && !p.up) {
		return nil, ErrNoSession
	}
	if l := n.links[peer]; l != nil && l.inc == p.inc && l.mine == mine && l.theirs == theirs {
		return l, nil
	}
	c := n.certs[peer]
	if c.cert == nil || c.inc != p.inc {
		return nil, ErrNoSession
	}
	l, err := n.deriveLink(c.cert, peer, p.inc, mine, theirs)
	if err != nil {
		return nil, err
	}
	n.links[peer] = l
	return l, nil
}

// dropLinksLocked forgets the keys of sessions that went Down.
//
// Precondition: n.mu held.
func (n *Node) dropLinksLocked(evs []Event) {
	for _, e := range evs {
		if l := n.links[e.Member.Name]; e.Kind == Down && l != nil && l.mine == e.Member.Session {
			delete(n.links, e.Member.Name)
		}
	}
}

// Seal appends to dst plaintext sealed for m on m's session (m as of its
// Up event, or from Peer): AES-256-GCM under this session's key from this
// node to m, with the stamp as additional data and a counter as nonce.
// The receiver opens with Open. Sealed data must reach m in the order it
// was sealed, all of it (m opens only the next one, and ends the session
// if it waits too long for one), so a caller sealing for one member from
// several goroutines must publish under one lock.
// Without credentials it appends plaintext as it is. It fails with
// ErrNoSession once the session has ended: a Down event follows, if it
// has not come yet.
func (n *Node) Seal(dst []byte, m Member, plaintext []byte) ([]byte, error) {
	if n.id == nil {
		return append(dst, plaintext...), nil
	}
	l, err := n.linkFor(m.Name, m.Incarnation, m.Session, m.PeerSession, true)
	if err != nil {
		return nil, err
	}
	return l.out.seal(dst, m.Stamp(), plaintext), nil
}

// Open checks that sealed comes from the member called from, on the
// session named by st (the sender's Member.Stamp for this node), and
// returns it opened, in place. It admits the stamp as Admit does, and
// refuses data forged, tampered with, replayed or sealed for any other
// session (ErrRefused, logged once a minute per sender), or on a session
// that is not the current one (ErrNoSession). It opens only the batch
// sealed next after the last it opened: an authentic later one is held
// back (ErrAhead) and dropped, since the one before it may still come
// (another member's copy overtook it); if that one has not come within
// DownAfter of the last batch opened, it was lost, and the session ends
// (Down, ReasonNoConnection) so that nothing waits on it for ever.
// Without credentials only the stamp is checked, and sealed returned as
// it is.
//
// Data from one member must be opened in the order it arrived.
func (n *Node) Open(from string, st Stamp, sealed []byte) ([]byte, error) {
	if n.id != nil {
		l, err := n.linkFor(from, 0, st.To, st.From, false)
		if err != nil {
			return nil, err
		}
		if sealed, err = l.in.open(st, sealed); errors.Is(err, ErrAhead) {
			return nil, err
		} else if err != nil {
			n.refuse("batch", from, err)
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	if !n.Admit(from, st) {
		return nil, ErrNoSession
	}
	return sealed, nil
}

// viewLocked is the table's view for a heartbeat, with what this node has
// sealed on each link.
//
// Precondition: n.mu held.
func (n *Node) viewLocked() []entry {
	v := n.tab.view()
	for i := range v {
		if l := n.links[v[i].Name]; l != nil && l.inc == v[i].Inc && l.mine == v[i].Mine && l.theirs == v[i].Theirs {
			v[i].Sealed = l.out.sealed()
		}
	}
	return v
}

// noteSealedLocked takes what b's sender has sealed on its link with this
// node, if that link is the current one (see ctrKey.expect).
//
// Precondition: n.mu held.
func (n *Node) noteSealedLocked(b *beat) {
	l := n.links[b.Name]
	if l == nil || l.inc != b.Inc {
		return
	}
	for _, e := range b.View {
		if e.Name == n.cfg.Name && e.Inc == n.inc && e.Mine == l.theirs && e.Theirs == l.mine && e.Sealed > 0 {
			l.in.expect(e.Sealed)
		}
	}
}

// stalledLocked lists the peers whose current session's receiving key
// has waited more than DownAfter, at now, for a batch while holding a
// later one: that batch was lost (NATS dropped it), and dist, which has
// no sequence numbers of its own, would wait for what it carried for
// ever. The loop ends those sessions as it does a silent peer's.
//
// Precondition: n.mu held.
func (n *Node) stalledLocked(now time.Time) []*peer {
	var lost []*peer
	for name, l := range n.links {
		since := l.in.waiting.Load()
		if since == 0 || now.Sub(time.Unix(0, since)) <= n.cfg.DownAfter {
			continue
		}
		p := n.tab.peers[name]
		if p != nil && p.inc == l.inc && p.mine == l.mine && p.theirs == l.theirs {
			lost = append(lost, p) // else an ended session's keys, about to be replaced
		}
	}
	return lost
}
