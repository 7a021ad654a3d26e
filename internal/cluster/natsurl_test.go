package cluster

import (
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
