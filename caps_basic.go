package isle

import (
	"io"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/services/clock"
	"github.com/isle-run/isle/internal/services/logsvc"
	"github.com/isle-run/isle/internal/services/random"
)

// ClockCap grants the host's clocks as a handle: api.RightMonotonic for
// elapsed time (counted from the node's start), api.RightWall for the date.
func ClockCap(rights api.Rights) Capability {
	return Capability{kind: kernel.KindClock, rights: rights, open: func(n *Node) (any, func(), error) {
		c, err := n.service("clock", func() (any, error) { return clock.New(n.started), nil })
		return c, nil, err
	}}
}

// RandomCap grants entropy as a handle, read from r; nil means the host's
// cryptographic source.
func RandomCap(r io.Reader) Capability {
	if r == nil {
		r = SystemRandom()
	}
	return Capability{kind: kernel.KindRandom, rights: api.RightUse, open: func(*Node) (any, func(), error) {
		return random.New(r), nil, nil
	}}
}

// LogCap grants the node's structured log (Config.Logger). Each record is
// tagged with the writing process's id and module.
func LogCap() Capability {
	return Capability{kind: kernel.KindLog, rights: api.RightUse, open: func(n *Node) (any, func(), error) {
		l, err := n.service("log", func() (any, error) { return logsvc.New(n.log), nil })
		return l, nil, err
	}}
}
