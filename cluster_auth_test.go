package isle_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/cluster"
	"github.com/isle-run/isle/internal/dist"
	"github.com/isle-run/isle/internal/testwasm"
)

// A member cannot speak for another: batches in b's name, forged by a
// third member or replayed from b's, are not delivered on a, so the
// third cannot use what a exported to b; and it reads nothing of what b
// sends a.
func TestClusterMemberCannotSpeakForAnother(t *testing.T) {
	nodes := testCluster(t, "a", "b", "evil")
	a, b, evil := nodes[0], nodes[1], nodes[2]
	ca, cb, ce := isle.ClusterNodeForTest(a), isle.ClusterNodeForTest(b), isle.ClusterNodeForTest(evil)
	pa := remoteProc(t, a, nil, 0)
	if err := a.Publish("pa", isle.ProcessCap(pa, api.RightSend), "b"); err != nil {
		t.Fatal(err)
	}
	rb, err := b.Lookup(testwasm.Context(t), "a", "pa")
	if err != nil {
		t.Fatal(err)
	}

	// The rogue listens to everything b sends a. Once b's server knows
	// its probe, it knows that subscription too (one route, in order).
	ec := ce.Conn()
	captured := make(chan *nats.Msg, 1024)
	if _, err := ec.Subscribe(ca.Subject("d", "a", "b", ">"), func(m *nats.Msg) { captured <- m }); err != nil {
		t.Fatal(err)
	}
	probe := ce.Subject("probe", "evil")
	if _, err := ec.Subscribe(probe, func(m *nats.Msg) { m.Respond(nil) }); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "b's server to hear of the rogue's subscriptions", func() bool {
		_, err := cb.Conn().RequestWithContext(testwasm.Context(t), probe, nil)
		return !errors.Is(err, nats.ErrNoResponders)
	})

	const secret = "isle-secret-payload-4d9b0e"
	send := func(i uint32) {
		t.Helper()
		data := append(binary.LittleEndian.AppendUint32(nil, i), secret...)
		if err := rb.Send(testwasm.Context(t), isle.Message{Tag: 4, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(want int32) {
		t.Helper()
		var got []int32
		testwasm.WaitFor(t, "pa to count b's messages", func() bool {
			got = ask(t, pa, rGetCount)
			return got[0] >= want
		})
		if got[0] != want || got[1] != 0 {
			t.Fatalf("pa counted %d messages, %d out of order; want %d in order", got[0], got[1], want)
		}
	}
	send(0)
	count(1)
	genuine := testwasm.Await(t, captured, "b's batch to a, seen by the rogue")
	if bytes.Contains(genuine.Data, []byte(secret)) {
		t.Fatal("the rogue read what b sent a")
	}

	// Forge: a send to b's export in plain, and sealed with the rogue's
	// own key; replay b's batch, and tamper with it.
	forged := dist.SendBatch(isle.RemoteExportForTest(rb), 4, append([]byte{1, 0, 0, 0}, "forged"...))
	toA, ok := ce.Peer("a")
	if !ok || !toA.Up {
		t.Fatal("the rogue does not see a up")
	}
	sealed, err := ce.Seal(nil, toA, forged)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(genuine.Data)
	tampered[len(tampered)-1] ^= 1
	refused := ca.Refused()
	for _, data := range [][]byte{forged, sealed, genuine.Data, tampered} {
		if err := ec.Publish(genuine.Subject, data); err != nil {
			t.Fatal(err)
		}
	}
	testwasm.WaitFor(t, "a to refuse the four batches", func() bool { return ca.Refused() >= refused+4 })

	// b's next message is the second pa counts, in order.
	send(1)
	count(2)
	// Whatever else the rogue saw (its own forgeries among it) is no
	// clearer.
	for len(captured) > 0 {
		if m := <-captured; bytes.Contains(m.Data, []byte(secret)) {
			t.Fatalf("the rogue read %q", m.Data)
		}
	}
}

// A member that holds up its own traffic behind a full mailbox, then
// floods frames no window bounds (releases of an id never exported), has
// its session reset once it passes what an honest member could send: the
// node's heap stays bounded, the member's link comes back on a new
// session, and another member's link is untouched. Before, the node kept
// every frame, about 470 MiB of heap per 10 MiB sent, until it starved.
func TestClusterMemberFloodingHeldFramesIsReset(t *testing.T) {
	nodes := testCluster(t, "a", "evil", "c")
	a, evil, c := nodes[0], nodes[1], nodes[2]
	ca, ce := isle.ClusterNodeForTest(a), isle.ClusterNodeForTest(evil)
	victim, err := a.Spawn(testwasm.Context(t), load(t, a, testwasm.WAT(t, "testdata/wat/victim.wat")),
		isle.Grants{}, isle.Limits{Mailbox: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(victim.Kill)
	id := isle.RemoteExportForTest(publish(t, a, victim, "victim", evil))
	downs := make(chan cluster.Event, 16)
	stop := ca.OnChange(func(ev cluster.Event) {
		if ev.Kind == cluster.Down {
			downs <- ev
		}
	})
	t.Cleanup(stop)
	before := func(name string) uint64 {
		m, ok := ca.Peer(name)
		if !ok || !m.Up {
			t.Fatalf("a does not see %s up", name)
		}
		return m.Session
	}
	evilSession, cSession := before("evil"), before("c")

	toA, ok := ce.Peer("a")
	if !ok || !toA.Up {
		t.Fatal("evil does not see a up")
	}
	st := toA.Stamp()
	subject := ce.Subject("d", "a", "evil", strconv.FormatUint(st.To, 10), strconv.FormatUint(st.From, 10))
	// publishSealed seals batch in evil's session with a and publishes it.
	// It reports false once that session has ended: a may reset it
	// before the flood is all sent, and evil then has no session to seal in.
	publishSealed := func(batch []byte) bool {
		t.Helper()
		sealed, err := ce.Seal(nil, toA, batch)
		if errors.Is(err, cluster.ErrNoSession) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := ce.Conn().Publish(subject, sealed); err != nil {
			t.Fatal(err)
		}
		return true
	}
	// Three sends: one fills the mailbox of 1, the next two wait behind it.
	send := dist.SendBatch(id, 1, nil)
	if !publishSealed(append(append(bytes.Clone(send), send[1:]...), send[1:]...)) {
		t.Fatal("evil's session with a ended before the flood")
	}
	// The heap's peak while a takes the flood, sampled from outside.
	runtime.GC()
	h0, peak := heapObjects(), atomic.Uint64{}
	sampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-sampling:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	// 1 MiB batches of 4-byte releases of an id a never exported.
	flood := dist.ReleaseBatch(12345, 1<<18)
	for range 8 {
		if !publishSealed(flood) {
			break // a has reset the session already
		}
	}
	if err := ce.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	ev := testwasm.Await(t, downs, "a to end evil's session")
	if ev.Member.Name != "evil" || ev.Member.Session != evilSession || ev.Reason != cluster.ReasonNoConnection {
		t.Fatalf("a ended %s's session %d (%s), want evil's %d (noconnection)", ev.Member.Name, ev.Member.Session, ev.Reason, evilSession)
	}
	testwasm.WaitFor(t, "evil to come back up on a new session", func() bool {
		m, ok := ca.Peer("evil")
		return ok && m.Up && m.Session != evilSession
	})
	close(sampling)
	<-sampled
	t.Logf("a's heap peaked %d MiB above where it started", (int64(peak.Load())-int64(h0))>>20)
	if grew := int64(peak.Load()) - int64(h0); grew > 160<<20 {
		t.Fatalf("a's heap grew by %d MiB from 8 MiB of frames one member sent", grew>>20)
	}
	if m, _ := ca.Peer("c"); !m.Up || m.Session != cSession {
		t.Fatalf("c's session with a changed (up %v, session %d, was %d)", m.Up, m.Session, cSession)
	}
	select {
	case ev := <-downs:
		t.Fatalf("a ended another session too: %s's", ev.Member.Name)
	default:
	}
	// c's link still carries messages.
	pa := remoteProc(t, a, nil, 0)
	if err := a.Publish("pa", isle.ProcessCap(pa, api.RightSend), "c"); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Lookup(testwasm.Context(t), "a", "pa")
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(testwasm.Context(t), isle.Message{Tag: 4, Data: []byte{0, 0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "pa to count c's message", func() bool { return ask(t, pa, rGetCount)[0] == 1 })
}

// heapObjects is the bytes of the heap's objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
