// Package supervisor restarts what dies, with the semantics of Erlang/OTP's
// supervisor: strategies, restart types, restart intensity, ordered start
// and stop, and nesting. It adds two things OTP lacks: exponential backoff
// between restarts, and services, whose handles survive restarts
// (kernel.Service).
//
// A Supervisor is host code, not a guest: one goroutine per supervisor
// owns all its state and reacts to events (a child ended, a backoff
// elapsed, a request from outside) one at a time, so the package needs no
// locks beyond the channels. A supervisor that gives up ends like a child:
// its own parent sees it end and applies its own strategy.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
)

// Strategy says which children restart when one ends.
type Strategy uint8

const (
	// OneForOne restarts only the child that ended.
	OneForOne Strategy = iota
	// OneForAll stops every other child and restarts them all.
	OneForAll
	// RestForOne stops the children started after the one that ended and
	// restarts it and them.
	RestForOne
)

var strategyNames = [...]string{OneForOne: "one_for_one", OneForAll: "one_for_all", RestForOne: "rest_for_one"}

// String returns the strategy's manifest spelling, such as "one_for_one".
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// ParseStrategy parses a manifest spelling.
func ParseStrategy(s string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == s {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("strategy %q is not one_for_one, one_for_all or rest_for_one", s)
}

// Restart says whether a child that ended is restarted.
type Restart uint8

const (
	// Permanent children are always restarted.
	Permanent Restart = iota
	// Transient children are restarted only when they end abnormally:
	// anything but a normal exit with code 0.
	Transient
	// Temporary children are never restarted.
	Temporary
)

var restartNames = [...]string{Permanent: "permanent", Transient: "transient", Temporary: "temporary"}

// String returns the restart type's manifest spelling.
func (r Restart) String() string {
	if int(r) < len(restartNames) {
		return restartNames[r]
	}
	return fmt.Sprintf("Restart(%d)", uint8(r))
}

// ParseRestart parses a manifest spelling.
func ParseRestart(s string) (Restart, error) {
	for i, n := range restartNames {
		if n == s {
			return Restart(i), nil
		}
	}
	return 0, fmt.Errorf("restart %q is not permanent, transient or temporary", s)
}

// Defaults, as OTP's.
const (
	// DefaultIntensity and DefaultPeriod: more than one restart in five
	// seconds and the supervisor gives up.
	DefaultIntensity = 1
	DefaultPeriod    = 5 * time.Second
	// DefaultShutdown is how long a child has to end after its shutdown
	// message before it is killed.
	DefaultShutdown = 5 * time.Second
)

// Backoff is the delay before a child's restarts: Min before the first
// after a stable run, doubling with each restart in a row, up to Max. The
// zero Backoff restarts at once, as OTP does.
type Backoff struct {
	Min, Max time.Duration
}

// delay returns the wait before restart n in a row (0 is the first).
func (b Backoff) delay(n int) time.Duration {
	if b.Min <= 0 {
		return 0
	}
	d := b.Min
	for range n {
		if d >= b.Max/2 {
			return max(b.Max, b.Min)
		}
		d *= 2
	}
	return min(d, max(b.Max, b.Min))
}

// Spec describes a supervisor and its children.
type Spec struct {
	Name     string
	Strategy Strategy
	// Intensity restarts in Period are allowed; one more and the
	// supervisor gives up. Zero values mean the defaults; a negative
	// Intensity allows none.
	Intensity int
	Period    time.Duration
	Backoff   Backoff
	Children  []Child
	// OnEvent, if set, is called for everything the supervisor does, in
	// order, from its goroutine: it must not block. Nested supervisors
	// without their own use their parent's.
	OnEvent func(Event)
	// Log receives a crash report for every abnormal end of a child (nil:
	// none). Nested supervisors without their own use their parent's.
	Log *slog.Logger
}

// Child describes one child: a worker process run as a service, or a
// nested supervisor.
type Child struct {
	Name    string
	Restart Restart
	// Shutdown is how long the child has to end after its shutdown
	// message before it is killed (default DefaultShutdown).
	Shutdown time.Duration
	// Start starts an instance of a worker attached to svc, the child's
	// service. Exactly one of Start and Supervisor is set.
	Start func(ctx context.Context, svc *kernel.Service) (*kernel.Process, error)
	// Supervisor, for a nested supervisor, is its spec.
	Supervisor *Spec
	// Service is the worker's service; nil makes a new one. Set it to hand
	// siblings the service before the child first starts.
	Service *kernel.Service
}

// EventKind says what happened.
type EventKind uint8

const (
	// Started: a child's instance started (Restarts says how many times
	// it has been restarted before).
	Started EventKind = iota + 1
	// Exited: a child's instance ended with Exit.
	Exited
	// Backoff: a restart waits Delay first.
	BackingOff
	// GaveUp: the restart intensity was passed; the supervisor ends.
	GaveUp
	// Stopped: the child was stopped by the supervisor (shutdown).
	Stopped
)

// Event is one thing a supervisor did or saw.
type Event struct {
	Kind       EventKind
	Supervisor string
	Child      string
	Restarts   int
	Exit       isleapi.Exit
	Delay      time.Duration
	// Process is the instance the event is about, for Started and Exited.
	Process *kernel.Process
}
