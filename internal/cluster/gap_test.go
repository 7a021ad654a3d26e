package cluster

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"testing"
	"time"
)

// testKey is a fixed AES-256-GCM key.
func testKey(t *testing.T) cipher.AEAD {
	t.Helper()
	blk, err := aes.NewCipher(bytes.Repeat([]byte{9}, 32))
	must(t, err, "cipher")
	aead, err := cipher.NewGCM(blk)
	must(t, err, "gcm")
	return aead
}

// TestOpenOnlyNext: a receiving key opens only the counter after the
// last it opened. An authentic later one is held back and starts a
// wait, which lasts while a counter seen is still ahead and ends when
// the openings catch up; forgeries and replays neither open nor start
// it.
func TestOpenOnlyNext(t *testing.T) {
	aead := testKey(t)
	st := Stamp{To: 3, From: 4}
	out, in := &ctrKey{aead: aead}, &ctrKey{aead: aead}
	var sealed [6][]byte // sealed[i] has counter i
	for i := 1; i < len(sealed); i++ {
		sealed[i] = out.seal(nil, st, []byte{byte(i)})
	}
	open := func(i int, data []byte, want error, waiting bool) {
		t.Helper()
		got, err := in.open(st, bytes.Clone(data))
		if !errors.Is(err, want) || (err == nil && !bytes.Equal(got, []byte{byte(i)})) {
			t.Fatalf("open %d: %v, %v; want %v", i, got, err, want)
		}
		if w := in.waiting.Load() != 0; w != waiting {
			t.Fatalf("after open %d: waiting %v, want %v (last %d, ahead %d)", i, w, waiting, in.n, in.ahead)
		}
	}
	open(1, sealed[1], nil, false)
	open(3, sealed[3], ErrAhead, true)
	open(3, sealed[3], ErrAhead, true) // a second copy changes nothing
	if in.n != 1 {
		t.Fatalf("a batch held back moved the counter to %d", in.n)
	}
	open(2, sealed[2], nil, true) // 3 is still to come
	open(3, sealed[3], nil, false)
	open(2, sealed[2], errReplayed, false)
	open(3, sealed[3], errReplayed, false)

	// Neither a tampered batch nor a forged counter starts a wait.
	tampered := bytes.Clone(sealed[5])
	tampered[len(tampered)-1] ^= 1
	open(5, tampered, errForged, false)
	moved := bytes.Clone(sealed[4])
	moved[7] = 9
	open(9, moved, errForged, false)
	open(4, sealed[4], nil, false)
	open(5, sealed[5], nil, false)
}

// TestLateBatchEndsNoSession: batches opened out of order (a copy of a
// later one first, as a rogue member can deliver) leave no wait once the
// earlier ones arrive, so no time later ends the session; while one is
// missing, the wait runs from the last batch opened.
func TestLateBatchEndsNoSession(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	b := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	waitUp(t, a, b)
	ab, _ := b.Peer("a")
	var sealed [4][]byte
	for i := 1; i < len(sealed); i++ {
		var err error
		sealed[i], err = b.Seal(nil, ab, []byte{byte(i)})
		must(t, err, "seal")
	}
	open := func(i int, want error) time.Time {
		t.Helper()
		if _, err := a.Open("b", ab.Stamp(), bytes.Clone(sealed[i])); !errors.Is(err, want) {
			t.Fatalf("open %d: %v, want %v", i, err, want)
		}
		return time.Now()
	}
	// stalled reports whether the loop, after the given time, would end
	// the session; only looking.
	stalled := func(at time.Time) bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.stalledLocked(at)) > 0
	}
	waiting := func() int64 {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.links["b"].in.waiting.Load()
	}
	open(1, nil)
	at := open(3, ErrAhead)
	if !stalled(at.Add(a.cfg.DownAfter + 1)) {
		t.Fatal("with 2 missing, the session outlives DownAfter")
	}
	first := waiting()
	for time.Now().UnixNano() <= first {
		// the clock moves on, so a wait started again differs
	}
	at = open(2, nil)
	if !stalled(at.Add(a.cfg.DownAfter + 1)) {
		t.Fatal("with 3 held back, the session outlives DownAfter")
	}
	if again := waiting(); again <= first {
		t.Fatalf("with 3 held back, the wait did not start again when 2 came (%d, then %d)", first, again)
	}
	open(3, nil)
	if stalled(time.Now().Add(time.Hour)) {
		t.Fatal("caught up, the session ends an hour later")
	}
	if m, _ := a.Peer("b"); !m.Up || m.Session != ab.PeerSession {
		t.Fatalf("b on a: %+v, want Up on session %d", m, ab.PeerSession)
	}
}

// TestLostBatchEndsSession: when a batch never comes and a later one
// did, the receiver ends the session after DownAfter (Down, no
// connection, on both sides, and one warning), and both come Up again on
// new sessions, which carry batches again.
func TestLostBatchEndsSession(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	b := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	waitUp(t, a, b)
	ra, rb := record(a), record(b)
	ab, _ := b.Peer("a")
	var sealed [3][]byte
	for i := range sealed {
		var err error
		sealed[i], err = b.Seal(nil, ab, []byte{byte(i)})
		must(t, err, "seal")
	}
	if _, err := a.Open("b", ab.Stamp(), sealed[0]); err != nil {
		t.Fatalf("open the first: %v", err)
	}
	// The second is lost.
	held := time.Now()
	if _, err := a.Open("b", ab.Stamp(), sealed[2]); !errors.Is(err, ErrAhead) {
		t.Fatalf("open the third before the second: %v, want %v", err, ErrAhead)
	}
	down, i := ra.wait(t, 0, Down, "b", ReasonNoConnection)
	if waited := time.Since(held); waited < a.cfg.DownAfter {
		t.Fatalf("a ended the session %v after the gap, before DownAfter (%v)", waited, a.cfg.DownAfter)
	}
	if down.Member.Session != ab.PeerSession {
		t.Fatalf("a ended session %d, want %d", down.Member.Session, ab.PeerSession)
	}
	w.wait(t, "WARN", "batch from a member was lost", "node=a", "peer=b")
	rb.wait(t, 0, Down, "a", ReasonNoConnection)
	up, _ := ra.wait(t, i, Up, "b", "")
	if up.Member.Session == down.Member.Session {
		t.Fatalf("the session came back: %d", up.Member.Session)
	}

	// The new session carries batches.
	waitUp(t, a, b)
	ab2, _ := b.Peer("a")
	data, err := b.Seal(nil, ab2, []byte("again"))
	must(t, err, "seal on the new session")
	if got, err := a.Open("b", ab2.Stamp(), data); err != nil || string(got) != "again" {
		t.Fatalf("open on the new session: %q, %v", got, err)
	}
	if _, err := a.Open("b", ab.Stamp(), sealed[1]); !errors.Is(err, ErrNoSession) {
		t.Fatalf("the lost batch, arriving after the session ended: %v, want %v", err, ErrNoSession)
	}
}
