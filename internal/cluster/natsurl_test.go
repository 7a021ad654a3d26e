package cluster

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestNATSURLMode: two nodes use an existing NATS (with a user and a
// password) instead of embedding one, and see each other.
func TestNATSURLMode(t *testing.T) {
	w := newLogWatch(t)
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		Username: "isle", Password: "s3cret",
	})
	must(t, err, "nats-server")
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(deadline) {
		t.Fatal("nats-server not ready")
	}
	url := s.ClientURL()
	cfg := func(name string, opts ...nats.Option) Config {
		return Config{Cluster: "test", Name: name, NATSURL: url, NATSOptions: opts, Logger: newLogger(w)}
	}
	if _, err := Start(waitCtx(t), cfg("nopass")); err == nil {
		t.Fatal("a node without the user's password connected")
	}
	a := start(t, cfg("a", nats.UserInfo("isle", "s3cret")))
	b := start(t, cfg("b", nats.UserInfo("isle", "s3cret")))
	waitUp(t, a, b)
	if a.RouteAddr() != "" {
		t.Fatalf("RouteAddr %q in NATSURL mode", a.RouteAddr())
	}
	rb := record(b)
	must(t, a.Close(waitCtx(t)), "close a")
	rb.wait(t, 0, Down, "a", ReasonShutdown)
}

// TestNATSURLWithCreds: with credentials on an existing NATS, members
// sign and seal as with routes: a node without them is not taken for a
// member, and the deployment cannot read requests or answers.
func TestNATSURLWithCreds(t *testing.T) {
	w := newLogWatch(t)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	must(t, err, "nats-server")
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(deadline) {
		t.Fatal("nats-server not ready")
	}
	ca := newTestCA(t)
	cfg := func(name string, creds bool) Config {
		c := Config{Cluster: "test", Name: name, NATSURL: s.ClientURL(), Logger: newLogger(w)}
		if creds {
			c.Creds = ca.creds(t, name)
		}
		return c
	}
	a, _, refused := watched(t, cfg("a", true))
	b := start(t, cfg("b", true))
	waitUp(t, a, b)
	x := start(t, cfg("x", false))
	refused.wait(t, "heartbeat x", 1)
	if m, ok := a.Peer("x"); ok {
		t.Fatalf("a took x, which has no credentials, for a member: %+v", m)
	}

	spy, err := nats.Connect(s.ClientURL())
	must(t, err, "spy")
	defer spy.Close()
	seen := make(chan *nats.Msg, 1024)
	_, err = spy.Subscribe(">", func(m *nats.Msg) { seen <- m })
	must(t, err, "spy subscribe")
	must(t, spy.Flush(), "spy flush")
	stop, err := a.Serve("echo", func(req []byte) []byte { return append([]byte("a:"), req...) })
	must(t, err, "serve")
	defer stop()
	got, err := b.Ask(waitCtx(t), "a", "echo", []byte("secret question"))
	if err != nil || string(got) != "a:secret question" {
		t.Fatalf("b asking a: %q, %v", got, err)
	}
	if _, err := x.Ask(waitCtx(t), "a", "echo", nil); !errors.Is(err, ErrNoSession) {
		t.Fatalf("x asking a: %v, want %v", err, ErrNoSession)
	}
	// The spy sees the request and its answer, and cannot read them.
	var request, answer bool
	for !request || !answer {
		m := next(t, seen, "the request and its answer, seen by the deployment")
		if bytes.Contains(m.Data, []byte("secret")) {
			t.Fatalf("the deployment saw %s %q", m.Subject, m.Data)
		}
		request = request || strings.HasPrefix(m.Subject, a.Subject("ctl", "a", "echo", "b")+".")
		answer = answer || strings.HasPrefix(m.Subject, "_INBOX.")
	}
}
