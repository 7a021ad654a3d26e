package cluster

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestPlainClientGetsNothing: neither the route port nor the loopback
// client port (see startServer) lets a client without the cluster's
// credentials in.
func TestPlainClientGetsNothing(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	clientPort := a.srv.Addr().String()
	for _, c := range []struct {
		name string
		url  string
		opts []nats.Option
	}{
		{"plain, route port", "nats://" + a.RouteAddr(), nil},
		{"TLS without client cert, route port", "tls://" + a.RouteAddr(),
			[]nats.Option{nats.Secure(&tls.Config{InsecureSkipVerify: true}), nats.TLSHandshakeFirst()}},
		{"plain, client port", "nats://" + clientPort, nil},
	} {
		opts := append([]nats.Option{nats.NoReconnect(), nats.Timeout(deadline)}, c.opts...)
		nc, err := nats.Connect(c.url, opts...)
		if err == nil {
			// Connected at the socket: it must still be unable to use it.
			err = nc.FlushTimeout(deadline)
			nc.Close()
		}
		if err == nil {
			t.Errorf("%s: a client without credentials connected", c.name)
		} else {
			t.Logf("%s: refused: %v", c.name, err)
		}
	}
}

// rogueServer starts a nats-server that tries to route into join with
// the given certificate, trusting whatever it is shown. Its logs go to w.
func rogueServer(t *testing.T, w *logWatch, cert tls.Certificate, join string) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: "rogue", Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{
			Name: "test", Host: "127.0.0.1", Port: server.RANDOM_PORT,
			TLSConfig: &tls.Config{
				Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true,
				// Present the certificate even though the node's
				// acceptable-CA list does not name its issuer.
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
				ClientAuth:           tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12,
			},
		},
		Routes: []*url.URL{{Scheme: "nats-route", Host: join}},
	}
	s, err := server.NewServer(opts)
	must(t, err, "rogue server")
	s.SetLoggerV2(plainLogger{slog.New(w).With("node", "rogue")}, false, false, false)
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(deadline) {
		t.Fatal("rogue server not ready")
	}
	return s
}

type plainLogger struct{ l *slog.Logger }

func (p plainLogger) Noticef(f string, v ...any) { p.l.Info(fmt.Sprintf(f, v...)) }
func (p plainLogger) Warnf(f string, v ...any)   { p.l.Warn(fmt.Sprintf(f, v...)) }
func (p plainLogger) Errorf(f string, v ...any)  { p.l.Error(fmt.Sprintf(f, v...)) }
func (p plainLogger) Fatalf(f string, v ...any)  { p.l.Error(fmt.Sprintf(f, v...)) }
func (p plainLogger) Debugf(f string, v ...any)  {}
func (p plainLogger) Tracef(f string, v ...any)  {}

// TestRogueServerCannotRoute: a nats-server with a self-signed
// certificate dialling a node's route port is refused; neither side sees
// the other's traffic.
func TestRogueServerCannotRoute(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	b := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	waitUp(t, a, b)
	certPEM, keyPEM, err := NewCA() // self-signed, not from the cluster CA
	must(t, err, "self-signed cert")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	must(t, err, "key pair")
	rogue := rogueServer(t, w, cert, a.RouteAddr())
	rc, err := nats.Connect("", nats.InProcessServer(rogue))
	must(t, err, "rogue client")
	defer rc.Close()
	leaked := make(chan *nats.Msg, 64)
	_, err = rc.Subscribe(">", func(m *nats.Msg) {
		if string(m.Data) != "rogue" { // not its own
			leaked <- m
		}
	})
	must(t, err, "rogue subscribe")
	must(t, rc.Publish(a.Subject("x"), []byte("rogue")), "rogue publish")

	// The rogue's route attempt fails, seen from both ends.
	w.wait(t, "node=rogue", "127.0.0.1:"+portOf(a.RouteAddr()), "closed")
	w.wait(t, "node=a", "TLS route handshake error", "unknown authority")
	assertIsolated(t, rogue, a, b, leaked)
}

// assertIsolated checks that the outsider holds no route, the members
// hold only each other's, and traffic between members does not reach the
// outsider's subscriber while traffic from the outsider does not reach
// theirs.
func assertIsolated(t *testing.T, outsider *server.Server, a, b *Node, leaked chan *nats.Msg) {
	t.Helper()
	if n := outsider.NumRoutes(); n != 0 {
		t.Fatalf("the outsider has %d routes", n)
	}
	if n := a.srv.NumRoutes(); n != 1 {
		t.Fatalf("a has %d routes, want 1 (to b)", n)
	}
	subj := b.Subject("x")
	got := make(chan string, 64)
	_, err := b.Conn().Subscribe(subj, func(m *nats.Msg) {
		if m.Reply != "" {
			m.Respond(nil)
		}
		got <- string(m.Data)
	})
	must(t, err, "subscribe")
	waitInterest(t, a.Conn(), subj)
	must(t, a.Conn().Publish(subj, []byte("marker")), "publish")
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case s := <-got:
			if s == "rogue" {
				t.Fatal("a member received the outsider's message")
			}
			if s != "marker" {
				continue // waitInterest's probe
			}
		case <-timer.C:
			t.Fatal("the members' own message did not arrive")
		}
		break
	}
	select {
	case m := <-leaked:
		t.Fatalf("the outsider received %s %q", m.Subject, m.Data)
	default:
	}
}

func portOf(hostport string) string {
	u := url.URL{Host: hostport}
	return u.Port()
}

// TestOtherCANodeCannotJoin: a node whose certificate comes from another
// CA cannot route to the cluster, whether it dials or is dialled.
func TestOtherCANodeCannotJoin(t *testing.T) {
	w := newLogWatch(t)
	ca, other := newTestCA(t), newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	b := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	waitUp(t, a, b)
	x := start(t, cfgFor(t, other, w, "x", a.RouteAddr()))
	d := start(t, cfgFor(t, ca, w, "d", x.RouteAddr()))
	w.wait(t, "node=a", "TLS route handshake error")
	w.wait(t, "node=d", "TLS route handshake error")
	rc, err := nats.Connect("", nats.InProcessServer(x.srv))
	must(t, err, "outsider client")
	defer rc.Close()
	leaked := make(chan *nats.Msg, 64)
	_, err = rc.Subscribe(">", func(m *nats.Msg) { leaked <- m })
	must(t, err, "outsider subscribe")
	assertIsolated(t, x.srv, a, b, leaked)
	if n := d.srv.NumRoutes(); n != 0 {
		t.Fatalf("d, joining only x, has %d routes", n)
	}
	for _, n := range []*Node{a, b, d} {
		if _, ok := n.Peer("x"); ok {
			t.Errorf("%s knows x", n.Name())
		}
	}
	if _, ok := x.Peer("a"); ok {
		t.Error("x knows a")
	}
}
