package cluster

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Requests between members (Serve, Ask) go on
// isle.<cluster>.ctl.<to>.<topic>.<from>.<to's session>.<from's session>.
// With credentials a request is sealed under the asker's control key for
// the session, with a random nonce (requests run concurrently, so there
// is no order to count), and the topic and stamp as additional data; the
// reply is sealed back under the answerer's key, with the request's nonce
// as additional data, so it answers that request only. A replayed request
// runs its handler again, but the reply is sealed to the member that
// asked, so whoever replays it learns nothing: handlers must be safe to
// repeat (a read, like ps).

const nonceSize = 12

// sealCtl returns a fresh random nonce followed by plaintext sealed.
func sealCtl(aead cipher.AEAD, ad, plaintext []byte) []byte {
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	rand.Read(out)
	return aead.Seal(out, out[:nonceSize], plaintext, ad)
}

// openCtl opens what sealCtl made, in place.
func openCtl(aead cipher.AEAD, ad, sealed []byte) ([]byte, error) {
	if len(sealed) < nonceSize+aead.Overhead() {
		return nil, errMalformed
	}
	plain, err := aead.Open(sealed[nonceSize:nonceSize], sealed[:nonceSize], sealed[nonceSize:], ad)
	if err != nil {
		return nil, errForged
	}
	return plain, nil
}

func requestAD(topic string, st Stamp) []byte {
	ad := append([]byte("q"), topic...)
	ad = strconv.AppendUint(append(ad, '.'), st.To, 10)
	return strconv.AppendUint(append(ad, '.'), st.From, 10)
}

func replyAD(nonce []byte) []byte { return append([]byte("r"), nonce...) }

func checkTopic(topic string) error {
	if topic == "" || len(topic) > 64 || strings.ContainsAny(topic, ".*> \t\r\n") {
		return fmt.Errorf("%w: topic %q: use one word, without '.', '*', '>' or spaces", ErrBadName, topic)
	}
	return nil
}

// Serve answers with h the requests other members send this node on
// topic (see Ask), until stop is called. h runs on the connection's
// dispatch goroutine for topic, one request at a time. A request from a
// member that is not Up on the session it names, or that does not open
// with that member's key, gets no answer.
func (n *Node) Serve(topic string, h func(req []byte) []byte) (stop func(), err error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	sub, err := n.nc.Subscribe(n.Subject("ctl", n.cfg.Name, topic, "*", "*", "*"), func(m *nats.Msg) {
		n.answer(topic, h, m)
	})
	if err == nil {
		err = n.nc.Flush() // this node's server has it; others learn it over routes, soon after
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: serving %q: %w", topic, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

func (n *Node) answer(topic string, h func([]byte) []byte, m *nats.Msg) {
	tok := strings.Split(m.Subject, ".")
	if m.Reply == "" || len(tok) != 8 {
		return
	}
	from := tok[5]
	to, err1 := strconv.ParseUint(tok[6], 10, 64)
	fromSess, err2 := strconv.ParseUint(tok[7], 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	st := Stamp{To: to, From: fromSess}
	if n.id == nil {
		if n.upOn(from, st) {
			_ = m.Respond(h(m.Data))
		}
		return
	}
	l, err := n.linkFor(from, 0, st.To, st.From, true)
	if err != nil {
		return // not Up on that session
	}
	req, err := openCtl(l.ctlIn, requestAD(topic, st), m.Data)
	if err != nil {
		n.refuse("request", from, err)
		return
	}
	_ = m.Respond(sealCtl(l.ctlOut, replyAD(m.Data[:nonceSize]), h(req)))
}

// knowsResponder reports whether, with credentials, this node's embedded
// server knows a subscription on subj: then a "no responders" status is
// not its own, as any member that sees a request can send one. On an
// existing NATS there is no server to ask, and the status is believed.
func (n *Node) knowsResponder(subj string) bool {
	return n.id != nil && n.srv != nil && n.srv.GlobalAccount().SubscriptionInterest(subj)
}

// upOn reports whether peer is Up on the session st names.
func (n *Node) upOn(peer string, st Stamp) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.tab.peers[peer]
	return p != nil && p.up && p.mine == st.To && p.theirs == st.From
}

// Ask sends req to the handler of topic (see Serve) on node, another
// member that is Up, and returns its answer, or an error if none comes
// before ctx ends. It fails at once with ErrNoSession if node is not Up,
// and with nats.ErrNoResponders if nothing serves topic there (or this
// node has not heard of it yet: interest crosses routes asynchronously).
// A reply that does not open is ignored (and logged): it is not the
// answer of the member asked. With credentials and an embedded server, a
// "no responders" status while the server knows a responder is not
// believed: the request is sent again (see knowsResponder).
func (n *Node) Ask(ctx context.Context, node, topic string, req []byte) ([]byte, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	m, ok := n.Peer(node)
	if !ok || !m.Up || node == n.cfg.Name {
		return nil, fmt.Errorf("%w: node %q is not up", ErrNoSession, node)
	}
	st := m.Stamp()
	var l *link
	data := req
	if n.id != nil {
		var err error
		if l, err = n.linkFor(node, m.Incarnation, m.Session, m.PeerSession, true); err != nil {
			return nil, err
		}
		data = sealCtl(l.ctlOut, requestAD(topic, st), req)
	}
	inbox := n.nc.NewInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("cluster: asking %s: %w", node, err)
	}
	defer sub.Unsubscribe()
	subj := n.Subject("ctl", node, topic, n.cfg.Name, strconv.FormatUint(st.To, 10), strconv.FormatUint(st.From, 10))
	if err := n.nc.PublishRequest(subj, inbox, data); err != nil {
		return nil, fmt.Errorf("cluster: asking %s: %w", node, err)
	}
	for {
		r, err := sub.NextMsgWithContext(ctx)
		if errors.Is(err, nats.ErrNoResponders) && n.knowsResponder(subj) {
			// Not this node's server's verdict now: forged by a member that
			// saw the request, or sent just before a responder became known.
			// Ask again, and wait for a sealed answer.
			err = n.nc.PublishRequest(subj, inbox, data)
			if err == nil {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		if l == nil {
			return r.Data, nil
		}
		ans, err := openCtl(l.ctlIn, replyAD(data[:nonceSize]), r.Data)
		if err == nil {
			return ans, nil
		}
		n.refuse("reply", node, err)
	}
}
