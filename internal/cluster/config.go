package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Sentinel errors, for errors.Is. Every error Start and the credential
// helpers return for bad input wraps one of them.
var (
	// ErrBadName: a node or cluster name is not [A-Za-z0-9_-]+.
	ErrBadName = errors.New("bad name")
	// ErrBadConfig: a Config field is out of range or contradicts another.
	ErrBadConfig = errors.New("bad cluster config")
	// ErrNoCredentials: routes were asked for without mTLS material.
	ErrNoCredentials = errors.New("no cluster credentials")
	// ErrBadCredentials: PEM material that does not parse or does not match.
	ErrBadCredentials = errors.New("bad cluster credentials")
	// ErrKeyPermissions: a private key file is readable by group or others.
	ErrKeyPermissions = errors.New("key file permissions too open")
	// ErrExists: Init or IssueNode would overwrite existing material.
	ErrExists = errors.New("already exists")
	// ErrClosed: the Node was closed or killed.
	ErrClosed = errors.New("cluster node closed")
)

// Defaults for Config's zero values.
const (
	DefaultCluster   = "isle"
	DefaultHeartbeat = 250 * time.Millisecond
	DefaultDownAfter = 1500 * time.Millisecond
	// MaxPayload is the embedded server's largest message.
	MaxPayload = 8 << 20
)

// Config describes one node of a cluster. The zero value of every field
// but Name is usable: a single node with no routes.
type Config struct {
	// Cluster names the cluster; subjects live under "isle.<Cluster>.".
	// Nodes of different clusters never route to each other. Default "isle".
	Cluster string
	// Name is this node's name, unique in the cluster: [A-Za-z0-9_-]+.
	Name string
	// Listen is the host:port the route listener binds; "" means no
	// routes. An empty host binds loopback; port 0 picks a free port (see
	// Node.RouteAddr).
	Listen string
	// Advertise is the host:port other nodes should dial to reach this
	// node's routes, when not Listen (behind a proxy or NAT).
	Advertise string
	// Join lists host:port route listeners of other nodes. Unreachable
	// ones are retried for ever by the server and logged once.
	Join []string
	// NATSURL connects to an existing NATS deployment instead of
	// embedding a server; Listen, Advertise and Join must be empty, and
	// Creds is optional (see Creds).
	NATSURL string
	// Creds is the node's credentials: routes use them for mutual TLS
	// (required with Listen or Join), and members sign their heartbeats
	// and seal what they send one another with them (see Seal). With
	// NATSURL they serve only the latter.
	Creds *Credentials
	// NATSOptions are extra client options for NATSURL mode: user
	// credentials, nkey, TLS.
	NATSOptions []nats.Option
	// Heartbeat is the period of membership heartbeats. Default 250 ms.
	Heartbeat time.Duration
	// DownAfter is the silence after which a peer is declared down
	// (Erlang's net_ticktime plays the same role). It must exceed two
	// Heartbeats. Default 1.5 s.
	DownAfter time.Duration
	// Ready, if set, is called with Conn once it is up and before the
	// first heartbeat, to subscribe to what other members will publish
	// as soon as they see this node up.
	Ready func(*nats.Conn) error
	// Logger receives the node's and the embedded server's logs.
	// Default slog.Default().
	Logger *slog.Logger

	// For tests: called after each beat taken, and each refusal.
	beatHook   func(from string)
	refuseHook func(what, from string, why error)
}

// validName reports whether s is a non-empty [A-Za-z0-9_-]+ token, safe
// as a NATS subject token and a certificate name.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

func checkName(what, s string) error {
	if !validName(s) {
		return fmt.Errorf("%w: %s %q: use 1 to 64 of the characters A-Z a-z 0-9 _ -", ErrBadName, what, s)
	}
	return nil
}

// withDefaults returns cfg with defaults filled in, or the first problem.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Cluster == "" {
		cfg.Cluster = DefaultCluster
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.DownAfter == 0 {
		cfg.DownAfter = DefaultDownAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := checkName("cluster name", cfg.Cluster); err != nil {
		return cfg, err
	}
	if err := checkName("node name", cfg.Name); err != nil {
		return cfg, err
	}
	if cfg.Heartbeat < time.Millisecond || cfg.DownAfter <= 2*cfg.Heartbeat {
		return cfg, fmt.Errorf("%w: DownAfter (%v) must exceed two Heartbeats (%v), and Heartbeat be at least 1ms", ErrBadConfig, cfg.DownAfter, cfg.Heartbeat)
	}
	if cfg.NATSURL != "" {
		if cfg.Listen != "" || cfg.Advertise != "" || len(cfg.Join) > 0 {
			return cfg, fmt.Errorf("%w: with NATSURL, leave Listen, Advertise and Join empty (routes belong to the NATS deployment)", ErrBadConfig)
		}
		return cfg, nil
	}
	return cfg, cfg.checkRoutes()
}

func (cfg *Config) checkRoutes() error {
	if cfg.Listen == "" {
		if len(cfg.Join) > 0 || cfg.Advertise != "" {
			return fmt.Errorf("%w: Join and Advertise need Listen (host:port for this node's routes)", ErrBadConfig)
		}
		return nil
	}
	host, port, err := splitHostPort("Listen", cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.Creds == nil {
		return fmt.Errorf("%w: routes need mTLS material: create it with Init and IssueNode, load it with LoadCredentials", ErrNoCredentials)
	}
	if host == "" {
		cfg.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	if cfg.Advertise != "" {
		if _, _, err := splitHostPort("Advertise", cfg.Advertise); err != nil {
			return err
		}
	}
	for _, j := range cfg.Join {
		if _, _, err := splitHostPort("Join address", j); err != nil {
			return err
		}
	}
	return nil
}

func splitHostPort(what, s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		var p int
		p, err = strconv.Atoi(port)
		if err == nil && (p < 0 || p > 65535) {
			err = errors.New("port out of range")
		}
		if err == nil {
			return host, p, nil
		}
	}
	return "", 0, fmt.Errorf("%w: %s %q is not host:port (%v)", ErrBadConfig, what, s, err)
}
