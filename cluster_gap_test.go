package isle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/cluster"
	"github.com/isle-run/isle/internal/testwasm"
)

// counter is a sealed batch's counter, which travels in the clear.
func counter(m *nats.Msg) uint64 { return binary.BigEndian.Uint64(m.Data) }

// counted sends message i of a numbered stream to r, and waitCount waits
// until p has counted want, all in order.
func counted(t *testing.T, r *isle.Remote, i uint32) {
	t.Helper()
	if err := r.Send(testwasm.Context(t), isle.Message{Tag: 4, Data: binary.LittleEndian.AppendUint32(nil, i)}); err != nil {
		t.Fatal(err)
	}
}

func waitCount(t *testing.T, p *isle.Process, want int32) {
	t.Helper()
	var got []int32
	testwasm.WaitFor(t, "the messages to be counted", func() bool {
		got = ask(t, p, rGetCount)
		return got[0] >= want
	})
	if got[0] != want || got[1] != 0 {
		t.Fatalf("counted %d messages, %d out of order; want %d in order", got[0], got[1], want)
	}
}

// A rogue member that gets a copy of one of b's batches to a before the
// route from b delivers the batches before it can no longer make a
// refuse those as replays: a opens only the batch after the last, so the
// copy is held back if it is ahead, and the genuine one is a replay if
// the copy came first. Every message arrives once, in order, and the
// session lives on. (Which path is faster is up to the routes, so a
// hook on a holds b's batches and presents them in the order to test.)
func TestClusterRogueCopyOvertakingIsHarmless(t *testing.T) {
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
	copies := make(chan *nats.Msg, 64)
	if _, err := ce.Conn().Subscribe(ca.Subject("d", "a", "b", ">"), func(m *nats.Msg) { copies <- m }); err != nil {
		t.Fatal(err)
	}
	probe := ce.Subject("probe", "evil")
	if _, err := ce.Conn().Subscribe(probe, func(m *nats.Msg) { m.Respond(nil) }); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "b's server to hear of the rogue's subscriptions", func() bool {
		_, err := cb.Conn().RequestWithContext(testwasm.Context(t), probe, nil)
		return !errors.Is(err, nats.ErrNoResponders)
	})
	counted(t, rb, 0)
	waitCount(t, pa, 1)
	last := counter(testwasm.Await(t, copies, "the rogue's copy of b's batch"))
	session, _ := ca.Peer("b")

	// a takes what comes in b's name: b's batches, and the rogue's copies.
	held := make(chan *nats.Msg, 64)
	isle.TakeBatchesForTest(a, func(m *nats.Msg) bool {
		held <- &nats.Msg{Subject: m.Subject, Data: bytes.Clone(m.Data)}
		return true
	})
	defer isle.TakeBatchesForTest(a, nil)
	// next sends message i in a batch of its own, and returns b's batch
	// as a holds it and the rogue's copy.
	next := func(i uint32) (genuine, copied *nats.Msg) {
		t.Helper()
		counted(t, rb, i)
		genuine = testwasm.Await(t, held, "b's batch on a")
		copied = testwasm.Await(t, copies, "the rogue's copy")
		if counter(genuine) != last+1 || !bytes.Equal(genuine.Data, copied.Data) {
			t.Fatalf("b's batch has counter %d after %d; the rogue's copy %d", counter(genuine), last, counter(copied))
		}
		last++
		return genuine, copied
	}
	republish := func(m *nats.Msg) *nats.Msg {
		t.Helper()
		if err := ce.Conn().Publish(m.Subject, m.Data); err != nil {
			t.Fatal(err)
		}
		testwasm.Await(t, copies, "the rogue's own publication, echoed")
		return testwasm.Await(t, held, "the rogue's copy on a")
	}

	// The rogue's copy of the later batch comes first.
	g1, _ := next(1)
	g2, c2 := next(2)
	for _, m := range []*nats.Msg{republish(c2), g1, g2} {
		isle.PresentBatchForTest(a, m)
	}
	waitCount(t, pa, 3)

	// The rogue's copy of the next batch comes first.
	g3, c3 := next(3)
	g4, _ := next(4)
	refused := ca.Refused()
	for _, m := range []*nats.Msg{republish(c3), g3, g4} {
		isle.PresentBatchForTest(a, m)
	}
	waitCount(t, pa, 5)
	if got := ca.Refused(); got != refused+1 {
		t.Fatalf("a refused %d batches; want 1 (b's own, after the rogue's copy)", got-refused)
	}

	isle.TakeBatchesForTest(a, nil)
	counted(t, rb, 5)
	waitCount(t, pa, 6)
	if now, _ := ca.Peer("b"); !now.Up || now.Session != session.Session {
		t.Fatalf("b on a: %+v; want Up on session %d still", now, session.Session)
	}
}

// A batch NATS loses cannot jam a pair: once a has a later batch from b
// and the lost one has not come within DownAfter, a ends the session, as
// it would a silent node's: links and monitors on a's processes fire
// with noconnection on b, calls fail with EGONE, a warning says why, and
// new sessions come up and carry messages again.
func TestClusterLostBatchEndsSession(t *testing.T) {
	creds := t.TempDir()
	if err := isle.InitCluster(creds, "a", "b"); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cfg := func(name string, join ...string) isle.Config {
		return isle.Config{CacheDir: testwasm.NodeCache(t), Logger: slog.New(slog.NewTextHandler(&logs, nil)), Cluster: &isle.ClusterConfig{
			Name: name, Listen: "127.0.0.1:0", Join: join, Credentials: creds,
			Heartbeat: 100 * time.Millisecond, DownAfter: time.Second}}
	}
	a, err := isle.NewNode(context.Background(), cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	b, err := isle.NewNode(context.Background(), cfg("b", a.ClusterAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })

	pa := remoteProc(t, a, nil, 0)
	rb := publish(t, a, pa, "pa", b)
	pb := remoteProc(t, b, rb, api.RightSend|api.RightMonitor|api.RightKill)
	if got := ask(t, pb, rWatch); got[0] != 0 || got[1] <= 0 {
		t.Fatalf("link, monitor: %v", got)
	}
	counted(t, rb, 0)
	waitCount(t, pa, 1)
	ca := isle.ClusterNodeForTest(a)
	before, _ := ca.Peer("b")
	evs := make(chan cluster.Event, 16)
	stop := ca.OnChange(func(e cluster.Event) {
		if e.Member.Name == "b" {
			evs <- e
		}
	})
	defer stop()

	// a loses the next batch from b, then gets the one after.
	var dropped atomic.Bool
	lost := make(chan struct{})
	isle.TakeBatchesForTest(a, func(*nats.Msg) bool {
		if dropped.CompareAndSwap(false, true) {
			close(lost)
			return true
		}
		return false
	})
	counted(t, rb, 1)
	testwasm.Await(t, lost, "a to lose b's batch")
	counted(t, rb, 2)

	e := testwasm.Await(t, evs, "a to end the session with b")
	for e.Kind == cluster.Up && e.Member.Session == before.Session {
		e = testwasm.Await(t, evs, "a to end the session with b") // b's Up, dispatched late
	}
	if e.Kind != cluster.Down || e.Reason != cluster.ReasonNoConnection || e.Member.Session != before.Session {
		t.Fatalf("a's first event for b: %v %q on session %d; want down, noconnection, on %d", e.Kind, e.Reason, e.Member.Session, before.Session)
	}
	for range 2 {
		tag, kind, text := exitEvent(t, ask(t, pb, rWait))
		if kind != uint32(api.ExitNoConnection) || text != "noconnection: node down" {
			t.Fatalf("signal %#x after the lost batch: kind %d %q", tag, kind, text)
		}
	}
	if got := ask(t, pb, rCall, 1); got[0] != -2 {
		t.Fatalf("a call on the lost session answered %d; want EGONE (-2)", got[0])
	}
	if exit, ok := rb.Exit(); !ok || exit.Kind != api.ExitNoConnection {
		t.Fatalf("the old handle's exit: %v, %v", exit, ok)
	}
	const warning = "level=WARN msg=\"cluster: a batch from a member was lost; ending the session\" node=a peer=b"
	testwasm.WaitFor(t, "a's warning", func() bool { return strings.Contains(logs.String(), warning) })

	// New sessions come up and carry messages again.
	up := testwasm.Await(t, evs, "b up again on a")
	if up.Kind != cluster.Up || up.Member.Session == before.Session {
		t.Fatalf("a's next event for b: %v on session %d; want up on a new one", up.Kind, up.Member.Session)
	}
	pa2 := remoteProc(t, a, nil, 0)
	rb2 := publish(t, a, pa2, "pa2", b)
	counted(t, rb2, 0)
	counted(t, rb2, 1)
	waitCount(t, pa2, 2)
	if n := strings.Count(logs.String(), warning); n != 1 {
		t.Fatalf("%d warnings of the lost batch; want 1:\n%s", n, logs.String())
	}
}

// A lost batch that nothing follows is noticed too: b's heartbeats say
// how many batches it has sealed for a, so a waits for the missing one
// as it would behind a later batch, and ends the session after DownAfter.
// The end of b's process that the batch carried reaches a's monitor as
// noconnection. Before, a never learnt of the loss, and its monitor never
// fired.
func TestClusterLostLastBatchEndsSession(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	pb := remoteProc(t, b, nil, 0)
	ra := publish(t, b, pb, "pb", a)
	pa := remoteProc(t, a, ra, api.RightSend|api.RightMonitor|api.RightKill)
	if got := ask(t, pa, rWatch); got[0] != 0 || got[1] <= 0 {
		t.Fatalf("link, monitor: %v", got)
	}
	ca := isle.ClusterNodeForTest(a)
	before, _ := ca.Peer("b")
	// a loses every batch from b from now on, until the session ends.
	var dropped atomic.Int32
	isle.TakeBatchesForTest(a, func(*nats.Msg) bool {
		dropped.Add(1)
		return true
	})
	pb.Kill()
	testwasm.WaitFor(t, "a to lose b's batch with pb's end", func() bool { return dropped.Load() > 0 })
	testwasm.WaitFor(t, "a to end the session with b", func() bool {
		m, _ := ca.Peer("b")
		return m.Session != before.Session || !m.Up
	})
	isle.TakeBatchesForTest(a, nil)
	for range 2 {
		tag, kind, text := exitEvent(t, ask(t, pa, rWait))
		if kind != uint32(api.ExitNoConnection) {
			t.Fatalf("signal %#x after the lost batch: kind %d %q; want noconnection", tag, kind, text)
		}
	}
}
