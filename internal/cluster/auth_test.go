package cluster

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// tally counts what a node's test hooks report, by key, and lets a test
// wait for a count.
type tally struct {
	mu   sync.Mutex
	n    map[string]int
	log  []string
	ch   chan struct{}
	what string
}

func newTally(what string) *tally {
	return &tally{n: map[string]int{}, ch: make(chan struct{}), what: what}
}

func (tl *tally) add(key, detail string) {
	tl.mu.Lock()
	tl.n[key]++
	tl.log = append(tl.log, detail)
	close(tl.ch)
	tl.ch = make(chan struct{})
	tl.mu.Unlock()
}

func (tl *tally) count(key string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.n[key]
}

func (tl *tally) details() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]string(nil), tl.log...)
}

// wait waits until key was counted at least n times.
func (tl *tally) wait(t *testing.T, key string, n int) {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		tl.mu.Lock()
		got, ch := tl.n[key], tl.ch
		tl.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("%s %q: %d within %v, want %d", tl.what, key, got, deadline, n)
		}
	}
}

// watched starts a node whose taken beats and refusals are counted.
func watched(t *testing.T, cfg Config) (*Node, *tally, *tally) {
	beats, refused := newTally("beats taken from"), newTally("refused")
	cfg.beatHook = func(from string) { beats.add(from, from) }
	cfg.refuseHook = func(what, from string, why error) { refused.add(what+" "+from, why.Error()) }
	return start(t, cfg), beats, refused
}

// trio is nodes a (watched), b, and evil: a member with a certificate of
// the cluster's CA of its own, which tries to speak for b.
func trio(t *testing.T) (a, b, evil *Node, beats, refused *tally) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a, beats, refused = watched(t, cfgFor(t, ca, w, "a"))
	b = start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	evil = start(t, cfgFor(t, ca, w, "evil", a.RouteAddr()))
	waitUp(t, a, b, evil)
	return a, b, evil, beats, refused
}

// capture subscribes on the rogue's connection and sends what matches
// to the returned channel.
func capture(t *testing.T, evil *Node, subj string, keep func(*nats.Msg) bool) <-chan *nats.Msg {
	t.Helper()
	ch := make(chan *nats.Msg, 4096)
	sub, err := evil.Conn().Subscribe(subj, func(m *nats.Msg) {
		if keep(m) {
			select {
			case ch <- m:
			default:
			}
		}
	})
	must(t, err, "rogue subscribe")
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	must(t, evil.Conn().Flush(), "rogue flush")
	return ch
}

func next(t *testing.T, ch <-chan *nats.Msg, what string) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(deadline):
		t.Fatalf("no %s within %v", what, deadline)
	}
	return nil
}

func beatFrom(name string) func(*nats.Msg) bool {
	return func(m *nats.Msg) bool {
		_, body, _, ok := splitBeat(m.Data)
		var b beat
		return ok && json.Unmarshal(body, &b) == nil && b.Name == name && !b.Leave
	}
}

// signedAs returns body signed by key, with cert: a beat on the wire.
func signedAs(t *testing.T, id *identity, cert []byte, key *ecdsa.PrivateKey, body []byte) []byte {
	t.Helper()
	sig, err := ecdsa.SignASN1(rand.Reader, key, id.beatDigest(body))
	must(t, err, "sign")
	return joinBeat(cert, body, sig)
}

// TestForgedMembershipIsRefused: a member cannot make another look down,
// restarted or reset by heartbeats or leaves in its name, forged or
// replayed: the victim stays Up on the same session through many more of
// its genuine heartbeats.
func TestForgedMembershipIsRefused(t *testing.T) {
	a, _, evil, beats, refused := trio(t)
	ra := record(a)
	before, _ := a.Peer("b")
	bBeats := capture(t, evil, a.beatSub, beatFrom("b"))
	genuine := next(t, bBeats, "heartbeat of b seen by the rogue")
	cert, body, sig, ok := splitBeat(genuine.Data)
	if !ok || len(sig) == 0 || len(cert) == 0 {
		t.Fatalf("b's heartbeat is not signed: %q", genuine.Data)
	}
	var gb beat
	must(t, json.Unmarshal(body, &gb), "b's heartbeat")
	// Make sure a took a beat of b's later than the one captured.
	beats.wait(t, "b", beats.count("b")+2)

	// What would hurt if taken: b restarted, b left, b reset its link.
	restart := beat{Name: "b", Inc: gb.Inc + 1, Ctr: gb.Ctr + uint64(time.Hour)}
	leave := beat{Leave: true, Name: "b", Inc: gb.Inc, Ctr: gb.Ctr + uint64(time.Hour)}
	reset := beat{Name: "b", Inc: gb.Inc, Ctr: gb.Ctr + uint64(time.Hour)} // no view: the link is dropped
	js := func(b beat) []byte {
		j, err := json.Marshal(b)
		must(t, err, "json")
		return j
	}
	unsigned, err := encodeBeat(nil, &restart)
	must(t, err, "encode")
	ownCert, err := encodeBeat(evil.id, &leave)
	must(t, err, "encode")
	forged := []struct {
		name, why string
		data      []byte
	}{
		{"unsigned restart", errUnsigned.Error(), unsigned},
		{"leave signed by the rogue with its own certificate", errCertName.Error(), ownCert},
		{"leave with b's certificate signed by the rogue", errBadSig.Error(), signedAs(t, evil.id, cert, evil.id.key, js(leave))},
		{"reset with b's certificate signed by the rogue", errBadSig.Error(), signedAs(t, evil.id, cert, evil.id.key, js(reset))},
		{"b's heartbeat with its view dropped", errBadSig.Error(), joinBeat(cert, js(reset), sig)},
		{"b's heartbeat replayed", errStale.Error(), genuine.Data},
	}
	for _, f := range forged {
		must(t, evil.Conn().Publish(a.beatSub, f.data), "publish %s", f.name)
	}
	must(t, evil.Conn().Flush(), "flush")
	refused.wait(t, "heartbeat b", len(forged))
	got := refused.details()
	for i, f := range forged {
		if i >= len(got) || !strings.HasPrefix(got[i], f.why) {
			t.Errorf("%s: refused as %q, want %q (all: %q)", f.name, got[min(i, len(got)-1)], f.why, got)
		}
	}
	// Several genuine heartbeats later, nothing changed.
	beats.wait(t, "b", beats.count("b")+4)
	for _, e := range ra.events() {
		if e.Member.Name == "b" {
			t.Errorf("a saw %v for b (%s)", e.Kind, e.Reason)
		}
	}
	if now, _ := a.Peer("b"); !now.Up || now.Session != before.Session || now.Incarnation != before.Incarnation {
		t.Fatalf("b on a: %+v, was %+v", now, before)
	}
}

// TestBeatGuard: within an incarnation only newer counters pass; another
// incarnation's must be newer too while the last heard still beats, and
// may trail by incarnationSkew (a clock stepped back), not more, once it
// has been silent: so an old incarnation's beats cannot be replayed.
func TestBeatGuard(t *testing.T) {
	const quiet = time.Second
	g := beatGuard{}
	base := uint64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		inc, ctr uint64
		at       time.Duration // after t0
		fresh    bool
	}{
		{1, base, 0, true},
		{1, base, 0, false},
		{1, base - 1, 0, false},
		{1, base + 1, 0, true},
		{2, base, quiet / 2, false},                           // a replay of an older one while 1 beats
		{2, base + 1 - incarnationSkew + 1, 2 * quiet, true},  // restarted, its clock a little behind
		{1, base + 2, 2 * quiet, true},                        // newer than 2's: the table buries it, and checkFresh refuses it
		{2, base + 3, 2 * quiet, true},                        // newer
		{3, base + 3 - incarnationSkew - 1, 4 * quiet, false}, // recorded long ago
		{3, base + 3, 2*quiet + quiet/2, false},               // not newer, and 2 still beats
		{3, base + 3, 4 * quiet, true},                        // 2 is silent
	} {
		now := t0.Add(c.at)
		got := g.fresh("b", c.inc, c.ctr, now, quiet)
		if got != c.fresh {
			t.Errorf("incarnation %d counter base%+d at %v: fresh %v, want %v", c.inc, int64(c.ctr-base), c.at, got, c.fresh)
		}
		if got {
			g["b"] = seenBeat{c.inc, c.ctr, now}
		}
	}
}

// TestBeatOfOtherCA: a heartbeat signed with a certificate of another CA
// is refused, though its name matches.
func TestBeatOfOtherCA(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	mine, err := newIdentity("test", "a", ca.creds(t, "a"))
	must(t, err, "identity")
	theirs, err := newIdentity("test", "b", other.creds(t, "b"))
	must(t, err, "identity")
	data, err := encodeBeat(theirs, &beat{Name: "b", Inc: 1, Ctr: 1})
	must(t, err, "encode")
	if _, _, err := decodeBeat(mine, data, time.Now()); !errors.Is(err, errBadCert) {
		t.Fatalf("a beat from another CA's node: %v, want %v", err, errBadCert)
	}
	sameCA, err := newIdentity("test", "b", ca.creds(t, "b"))
	must(t, err, "identity")
	data, err = encodeBeat(sameCA, &beat{Name: "b", Inc: 1, Ctr: 1})
	must(t, err, "encode")
	if _, _, err := decodeBeat(mine, data, time.Now()); err != nil {
		t.Fatalf("a beat from the cluster's node: %v", err)
	}
	other2, err := newIdentity("other", "b", ca.creds(t, "b"))
	must(t, err, "identity")
	data, err = encodeBeat(other2, &beat{Name: "b", Inc: 1, Ctr: 1})
	must(t, err, "encode")
	if _, _, err := decodeBeat(mine, data, time.Now()); !errors.Is(err, errBadSig) {
		t.Fatalf("a beat signed for another cluster under the same CA: %v, want %v", err, errBadSig)
	}
}

// TestSealOpen: what b seals for a opens on a once, in order, and only
// as b's on b's session: not sealed by another member, not tampered with,
// not replayed, not under another stamp.
func TestSealOpen(t *testing.T) {
	a, b, evil, _, _ := trio(t)
	ab, _ := b.Peer("a") // b's view of a
	ea, _ := evil.Peer("a")
	st := ab.Stamp()
	seal := func(n *Node, m Member, s string) []byte {
		t.Helper()
		out, err := n.Seal(nil, m, []byte(s))
		must(t, err, "seal")
		return out
	}
	open := func(from string, st Stamp, sealed []byte) (string, error) {
		out, err := a.Open(from, st, bytes.Clone(sealed))
		return string(out), err
	}
	one, two, three := seal(b, ab, "one"), seal(b, ab, "two"), seal(b, ab, "three")
	if bytes.Contains(one, []byte("one")) {
		t.Fatal("the sealed data holds its plaintext")
	}
	if got, err := open("b", st, one); err != nil || got != "one" {
		t.Fatalf("open: %q, %v", got, err)
	}
	refused := func(what string, from string, st Stamp, sealed []byte, want error) {
		t.Helper()
		if got, err := open(from, st, sealed); !errors.Is(err, want) {
			t.Errorf("%s: %q, %v; want %v", what, got, err, want)
		}
	}
	refused("replayed", "b", st, one, ErrRefused)
	tampered := bytes.Clone(two)
	tampered[len(tampered)/2] ^= 1
	refused("tampered", "b", st, tampered, ErrRefused)
	tamperedCtr := bytes.Clone(two)
	tamperedCtr[7]++
	refused("counter changed", "b", st, tamperedCtr, ErrRefused)
	byEvil := seal(evil, ea, "two")
	refused("sealed by another member as b", "b", st, byEvil, ErrRefused)
	refused("b's, under another stamp", "b", Stamp{To: st.To, From: st.From + 1}, two, ErrNoSession)
	refused("b's, named as another sender's", "evil", evil.stampFor(t, "a"), two, ErrRefused)
	for _, want := range []string{"two", "three"} {
		sealed := map[string][]byte{"two": two, "three": three}[want]
		if got, err := open("b", st, sealed); err != nil || got != want {
			t.Fatalf("open %s after refusals: %q, %v", want, got, err)
		}
	}
	refused("an earlier counter after a later one", "b", st, two, ErrRefused)

	// Without the session, nothing seals or opens.
	stale := ab
	stale.Session++
	if _, err := b.Seal(nil, stale, []byte("x")); !errors.Is(err, ErrNoSession) {
		t.Fatalf("seal on another session: %v", err)
	}
}

// stampFor returns what n stamps on messages to peer.
func (n *Node) stampFor(t *testing.T, peer string) Stamp {
	t.Helper()
	m, ok := n.Peer(peer)
	if !ok || !m.Up {
		t.Fatalf("%s does not see %s up", n.Name(), peer)
	}
	return m.Stamp()
}

// TestForgedRequestGetsNoAnswer: a request in another member's name gets
// no answer, and one replayed gets an answer only the asker can read.
func TestForgedRequestGetsNoAnswer(t *testing.T) {
	a, b, evil, _, refused := trio(t)
	var mu sync.Mutex
	var asked []string
	stop, err := a.Serve("echo", func(req []byte) []byte {
		mu.Lock()
		asked = append(asked, string(req))
		mu.Unlock()
		return append([]byte("a:"), req...)
	})
	must(t, err, "serve")
	defer stop()
	// b's server must know a's service before the rogue's capture: were it
	// to know the capture first, b's request would reach only the rogue,
	// and no "no responders" status would tell b to ask again (seen once
	// under load, as a 20 s wait). A first answer shows it knows.
	for {
		_, err := b.Ask(waitCtx(t), "a", "echo", []byte("first"))
		if err == nil {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("b's first question to a: %v", err)
		}
	}
	reqs := capture(t, evil, a.Subject("ctl", "a", ">"), func(*nats.Msg) bool { return true })
	probe := evil.Subject("probe", "evil")
	_, err = evil.Conn().Subscribe(probe, func(m *nats.Msg) { m.Respond(nil) })
	must(t, err, "probe")
	// When b's server knows the rogue's probe, it knows its capture too.
	waitInterest(t, b.Conn(), probe)
	var answer []byte
	for {
		answer, err = b.Ask(waitCtx(t), "a", "echo", []byte("secret question"))
		if !errors.Is(err, nats.ErrNoResponders) {
			break
		}
	}
	if err != nil || string(answer) != "a:secret question" {
		t.Fatalf("b asking a: %q, %v", answer, err)
	}
	var req *nats.Msg
	for req == nil {
		if m := next(t, reqs, "b's request seen by the rogue"); strings.Contains(m.Subject, ".echo.b.") {
			req = m
		}
	}
	if bytes.Contains(req.Data, []byte("secret")) {
		t.Fatal("the rogue read b's request")
	}
	inbox := evil.Conn().NewInbox()
	replies := capture(t, evil, inbox, func(*nats.Msg) bool { return true })
	l, err := evil.linkFor("a", 0, evil.stampFor(t, "a").From, evil.stampFor(t, "a").To, true)
	must(t, err, "rogue's own link")
	for _, data := range [][]byte{
		[]byte("a plain question, long enough to look sealed"),
		sealCtl(l.ctlOut, requestAD("echo", evil.stampFor(t, "a")), []byte("sealed by the rogue")),
	} {
		must(t, evil.Conn().PublishRequest(req.Subject, inbox, data), "forged request")
	}
	must(t, evil.Conn().PublishRequest(req.Subject, inbox, req.Data), "replayed request")
	replay := next(t, replies, "the answer to the replayed request")
	refused.wait(t, "request b", 2)
	if bytes.Contains(replay.Data, []byte("secret")) {
		t.Fatal("the rogue read the answer to b's replayed request")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 3 || asked[0] != "first" || asked[1] != "secret question" || asked[2] != "secret question" {
		t.Fatalf("a's handler was asked %q; want b's two questions, then the second's replay", asked)
	}
	select {
	case m := <-replies:
		t.Fatalf("the rogue got a second answer: %q", m.Data)
	default:
	}
}

// TestSealOpenAllocateNothing: sealing into a buffer with room, and
// opening in place, allocate nothing: a batch costs its cipher work only.
func TestSealOpenAllocateNothing(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates")
	}
	a, b, _, _, _ := trio(t)
	ab, _ := b.Peer("a")
	plain := make([]byte, 4096)
	buf := make([]byte, 0, len(plain)+sealedOverhead)
	allocs := testing.AllocsPerRun(100, func() {
		sealed, err := b.Seal(buf[:0], ab, plain)
		if err == nil {
			_, err = a.Open("b", ab.Stamp(), sealed)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Seal and Open", allocs)
	}
}
