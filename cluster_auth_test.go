package isle_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
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
