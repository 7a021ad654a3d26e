package dist

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/testwasm"
)

// Tags of testdata/c/remote.c.
const (
	tCount    = 4
	tGetCount = 5
)

// side is one node of a test pair: a kernel, its Dist, and what it logged.
type side struct {
	k   *kernel.Kernel
	d   *Dist
	log *bytes.Buffer
	mu  *sync.Mutex
}

func (s side) logged() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// pair makes nodes a and b, joined by an in-memory transport that keeps
// order, in session 1.
func pair(t testing.TB) (a, b side) {
	return pairWith(t, Config{})
}

// pairWith is pair, with cfg's limits.
func pairWith(t testing.TB, cfg Config) (a, b side) {
	t.Helper()
	mk := func(name string, peer *side) side {
		k, err := kernel.New(context.Background(), kernel.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := abi.Install(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close(context.Background()) })
		s := side{k: k, log: &bytes.Buffer{}, mu: &sync.Mutex{}}
		log := slog.New(slog.NewTextHandler(lockedWriter{s.mu, s.log}, nil))
		var order sync.Mutex
		c := cfg
		c.Kernel, c.Self, c.Logger = k, name, log
		s.d = New(Config{Kernel: c.Kernel, Self: c.Self, Logger: c.Logger, MaxFrame: c.MaxFrame, Window: c.Window, MaxExports: c.MaxExports, Send: func(link any, batch []byte) error {
			order.Lock() // one batch at a time, in order, as the transport promises
			defer order.Unlock()
			peer.d.Deliver(name, 1, bytes.Clone(batch))
			return nil
		}})
		return s
	}
	a = mk("a", &b)
	b = mk("b", &a)
	a.d.Up("b", 1, nil)
	b.d.Up("a", 1, nil)
	t.Cleanup(func() { a.d.Close("test over"); b.d.Close("test over") })
	return a, b
}

// counter spawns remote.c on s and returns it.
func counter(t *testing.T, s side) *kernel.Process {
	t.Helper()
	wasm := testwasm.C(t, "testdata/c/remote.c", "-O2", "-mexec-model=reactor")
	m, err := s.k.Load(context.Background(), "remote", testwasm.Read(t, wasm))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.k.Spawn(context.Background(), m, kernel.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func count(t *testing.T, s side, p *kernel.Process) int32 {
	t.Helper()
	r, err := s.k.HostCall(testwasm.Context(t), p, kernel.NewMessage(tGetCount, nil))
	if err != nil {
		t.Fatal(err)
	}
	return int32(binary.LittleEndian.Uint32(r.Data))
}

// frame builds one batch of raw frames, as a hostile member would.
func batch(frames ...[]byte) []byte {
	b := []byte{wireVersion}
	for _, f := range frames {
		b = append(b, f...)
	}
	return b
}

func sendFrame(export uint64, tag uint32) []byte {
	f := putUvarint([]byte{fSend}, export)
	w := wireMsg{tag: tag, data: []byte{0, 0, 0, 0}}
	return putMsg(f, &w)
}

// A member can use only what was exported to it: an export made for
// another node, an id never made, and rights it was not given are all
// refused by the owner, whatever the frames claim.
func TestOwnerChecksEveryRemoteUse(t *testing.T) {
	a, b := pair(t)
	target := counter(t, b)
	// b exports target to a with send only, as a handle in a message would.
	pb := b.d.peer("a")
	e, err := pb.export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: target})
	if err != nil {
		t.Fatal(err)
	}
	// Another export of the same target, made for a node c that a is not.
	b.d.Up("c", 1, nil)
	ec, err := b.d.peer("c").export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend | isleapi.RightKill, Object: target})
	if err != nil {
		t.Fatal(err)
	}

	// a sends through its own export: it arrives.
	b.d.Deliver("a", 1, batch(sendFrame(e.id, tCount)))
	testwasm.WaitFor(t, "a send through a's export", func() bool { return count(t, b, target) == 1 })

	// a forges: c's export, a made-up id, a kill it has no right to, and
	// c's export with kill.
	b.d.Deliver("a", 1, batch(
		sendFrame(ec.id, tCount),
		sendFrame(e.id^0x5555, tCount),
		putString(putUvarint([]byte{fKill}, e.id), "forged"),
		putString(putUvarint([]byte{fKill}, ec.id), "forged"),
	))
	// A send after them, through the real export, orders the check.
	b.d.Deliver("a", 1, batch(sendFrame(e.id, tCount)))
	testwasm.WaitFor(t, "the last honest send", func() bool { return count(t, b, target) >= 2 })
	if n := count(t, b, target); n != 2 {
		t.Fatalf("the target counted %d sends; want the 2 honest ones", n)
	}
	if target.Ended() {
		t.Fatal("a forged kill ended the target")
	}
	if !strings.Contains(b.logged(), "beyond its rights") {
		t.Errorf("the kill beyond the export's rights was not logged:\n%s", b.logged())
	}
	// A batch from a session that is not current counts for nothing.
	b.d.Deliver("a", 2, batch(sendFrame(e.id, tCount)))
	b.d.Deliver("a", 1, batch(sendFrame(e.id, tCount)))
	testwasm.WaitFor(t, "the next honest send", func() bool { return count(t, b, target) >= 3 })
	if n := count(t, b, target); n != 3 {
		t.Fatalf("after a stale session's send the target counted %d; want 3", n)
	}
	_ = a
}

// A truncated or unknown frame ends the batch with one log line, and the
// session goes on.
func TestMalformedBatchesAreDropped(t *testing.T) {
	_, b := pair(t)
	target := counter(t, b)
	e, err := b.d.peer("a").export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: target})
	if err != nil {
		t.Fatal(err)
	}
	good := sendFrame(e.id, tCount)
	for _, bad := range [][]byte{
		{},                        // no version
		{99},                      // another version
		batch([]byte{200}),        // unknown frame type
		batch(good[:len(good)-2]), // truncated
		batch(putUvarint([]byte{fSend}, e.id), []byte{0xff, 0xff, 0xff}), // a length past the end
	} {
		b.d.Deliver("a", 1, bad)
	}
	b.d.Deliver("a", 1, batch(good))
	testwasm.WaitFor(t, "the send after the bad batches", func() bool { return count(t, b, target) == 1 })
	if n := strings.Count(b.logged(), "cannot read"); n != 1 {
		t.Errorf("malformed batches logged %d times; want once per session:\n%s", n, b.logged())
	}
}

// FuzzDeliver feeds arbitrary batches to a node: it must never crash or
// let a frame through that names nothing exported.
func FuzzDeliver(f *testing.F) {
	f.Add(batch(sendFrame(1, tCount)))
	f.Add(batch(putUvarint([]byte{fCredit}, 1<<40), []byte{1}))
	f.Add(batch(putString(putUvarint([]byte{fLookup}, 7), "svc")))
	f.Add([]byte{wireVersion, fReply, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1})
	_, b := pair(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b.d.Deliver("a", 1, data)
	})
}

// A message whose frame would not fit the transport is refused with
// ErrTooBig before anything is sent, and the session goes on.
func TestTooBigForTheTransport(t *testing.T) {
	a, b := pairWith(t, Config{MaxFrame: 4096})
	target := counter(t, b)
	e, err := b.d.peer("a").export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: target})
	if err != nil {
		t.Fatal(err)
	}
	r := a.d.peer("b").remote(e.id)
	ctx := testwasm.Context(t)
	err = a.k.HostSend(ctx, r, kernel.NewMessage(tCount, make([]byte, 8192)), false)
	if !errors.Is(err, kernel.ErrTooBig) {
		t.Fatalf("an 8 KiB message over a 4 KiB transport: %v; want ErrTooBig", err)
	}
	if err := a.k.HostSend(ctx, r, kernel.NewMessage(tCount, make([]byte, 4)), false); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the small message", func() bool { return count(t, b, target) == 1 })
}
