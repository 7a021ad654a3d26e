package isle

import (
	"io"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/services/clock"
	"github.com/isle-run/isle/internal/services/logsvc"
	"github.com/isle-run/isle/internal/services/random"
)

// ClockCap grants the host's clocks as a handle: api.RightMonotonic for
// elapsed time (counted from the node's start), api.RightWall for the date.
func ClockCap(rights api.Rights) Capability {
	return Capability{kind: clock.Kind, rights: rights}
}

// RandomCap grants entropy as a handle, read from r; nil means the host's
// cryptographic source. Every process granted the same RandomCap value
// reads the one stream, in turn, so r need not be safe for concurrent use.
func RandomCap(r io.Reader) Capability {
	if r == nil {
		r = SystemRandom()
	}
	return Capability{kind: random.Kind, rights: api.RightUse, spec: random.New(r)}
}

// LogCap grants the node's structured log (Config.Logger). Each record is
// tagged with the writing process's id and module.
func LogCap() Capability {
	return Capability{kind: logsvc.Kind, rights: api.RightUse}
}
