package capkind

import (
	"log/slog"
	"time"

	"github.com/isle-run/isle/api"
)

// Env is what a kind's Open may use of the node it opens on.
type Env struct {
	// DataDir holds the node's durable state; "" if it has none.
	DataDir string
	// Started is when the node started: the origin of its monotonic clock.
	Started time.Time
	// KVMaxBytes bounds the node's key-value store (Config.KVMaxBytes);
	// 0 means no bound.
	KVMaxBytes int64
	// Log is the node's logger, never nil.
	Log *slog.Logger
	// Shared returns the node-wide object called key (a key-value store,
	// say), making it with open on first use. The node closes it when it
	// closes, if it is an io.Closer.
	Shared func(key string, open func() (any, error)) (any, error)
}

// NewCapability makes the root package's isle.Capability from a kind, its
// rights and a spec for the kind's Open. Package isle sets it from an init
// function, so that the CLI can grant what a manifest lists with one code
// path for every kind; it returns any because this package cannot import
// isle. Nothing else should call it: embedders use isle's constructors.
var NewCapability func(k Kind, rights api.Rights, spec any) any
