package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startServer starts the embedded nats-server: no client listener at all
// (clients connect in-process), and, with cfg.Listen, a route listener
// that requires mutual TLS with the cluster CA.
func (n *Node) startServer(ctx context.Context) (*server.Server, error) {
	opts := &server.Options{
		ServerName:            n.cfg.Name,
		DontListen:            true,
		NoSigs:                true,
		NoLog:                 true,
		ReconnectErrorReports: server.DEFAULT_CONNECT_ERROR_REPORTS,
		// isle's largest message (1 MiB) and its frame's header fit in
		// one NATS message with room to spare.
		MaxPayload: MaxPayload,
	}
	if n.cfg.Listen != "" {
		if err := n.routeOptions(opts); err != nil {
			return nil, err
		}
		// nats-server v2.15.2 starts routing only once its client
		// listener is up, which DontListen never opens. So with routes
		// there is a client listener, on loopback, that refuses every
		// connection but in-process ones.
		opts.DontListen = false
		opts.Host = "127.0.0.1"
		opts.Port = server.RANDOM_PORT
		opts.CustomClientAuthentication = inProcessOnly{}
		opts.AuthTimeout = 1
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: embedded NATS server: %v", ErrBadConfig, err)
	}
	logger := newNATSLogger(n.log)
	srv.SetLoggerV2(logger, false, false, false)
	srv.Start()
	wait := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		if f := logger.fatal(); f != "" {
			return nil, fmt.Errorf("cluster: embedded NATS server: %s", f)
		}
		return nil, fmt.Errorf("cluster: embedded NATS server not ready after %v: %w", wait, ctx.Err())
	}
	return srv, nil
}

// routeOptions configures the route listener, its TLS, and Join.
func (n *Node) routeOptions(opts *server.Options) error {
	tlsConf, err := n.cfg.Creds.check(n.cfg.Name)
	if err != nil {
		return err
	}
	host, port, _ := splitHostPort("Listen", n.cfg.Listen)
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts.Cluster = server.ClusterOpts{
		Name:      n.cfg.Cluster,
		Host:      host,
		Port:      port,
		Advertise: n.cfg.Advertise,
		// There are no client URLs worth telling anyone about.
		NoAdvertise: true,
		TLSConfig:   tlsConf,
		TLSTimeout:  5,
		// One route per pair of servers: isle uses one account, so a pool
		// would only add connections.
		PoolSize: -1,
		// Routes carry only this cluster's subjects and replies; a member
		// cannot inject into other subjects of its peers.
		Permissions: &server.RoutePermissions{
			Import: &server.SubjectPermission{Allow: routeSubjects(n.cfg.Cluster)},
			Export: &server.SubjectPermission{Allow: routeSubjects(n.cfg.Cluster)},
		},
	}
	for _, j := range n.cfg.Join {
		opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: j})
	}
	return nil
}

// inProcessOnly admits in-process client connections only: theirs is a
// net.Pipe, never a TCP address.
type inProcessOnly struct{}

func (inProcessOnly) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	switch c.RemoteAddress().(type) {
	case nil, *net.TCPAddr:
		return false
	}
	return true
}

func routeSubjects(cluster string) []string {
	return []string{"isle." + cluster + ".>", "_INBOX.>"}
}

// natsLogger passes the embedded server's logs to slog. A message format
// seen in the last minute is counted, not logged again, so a peer that is
// down or a port scanner does not flood the log.
type natsLogger struct {
	log *slog.Logger

	mu       sync.Mutex
	last     map[string]time.Time
	dropped  map[string]int
	fatalMsg string
}

const logRepeatEvery = time.Minute

func newNATSLogger(l *slog.Logger) *natsLogger {
	return &natsLogger{log: l.With("component", "nats"), last: map[string]time.Time{}, dropped: map[string]int{}}
}

func (l *natsLogger) emit(level slog.Level, format string, v []any) {
	now := time.Now()
	l.mu.Lock()
	if t, ok := l.last[format]; ok && now.Sub(t) < logRepeatEvery {
		l.dropped[format]++
		l.mu.Unlock()
		return
	}
	l.last[format] = now
	dropped := l.dropped[format]
	delete(l.dropped, format)
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "repeats_suppressed", dropped)
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (l *natsLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalMsg
}

func (l *natsLogger) Noticef(format string, v ...any) { l.emit(slog.LevelInfo, format, v) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.emit(slog.LevelError, format, v) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

// Fatalf records the message for Start's error instead of exiting: the
// server calls it when, say, the route port is taken.
func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.fatalMsg = msg
	l.mu.Unlock()
	l.log.Error(msg)
}
