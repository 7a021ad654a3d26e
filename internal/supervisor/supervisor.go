package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
)

// Supervisor runs its children and restarts them by its Spec.
type Supervisor struct {
	spec   Spec
	ctx    context.Context
	events chan event
	done   chan struct{} // closed when the supervisor has ended
	exit   isleapi.Exit  // why it ended; set before done is closed

	// Owned by the loop goroutine.
	children []*child
	restarts []time.Time // within the period, oldest first
	stopping bool
}

// child is the loop's record of one child.
type child struct {
	spec     Child
	svc      *kernel.Service
	proc     *kernel.Process // the running worker instance, if any
	sub      *Supervisor     // the running nested supervisor, if any
	restarts int             // restarts so far
	inARow   int             // restarts since it last ran a whole backoff period
	started  time.Time
	pending  bool // a restart waits out its backoff
	gen      int  // instance number, to ignore events from old instances
}

func (c *child) running() bool { return c.proc != nil || c.sub != nil }

// event is something the loop reacts to.
type event struct {
	child *child
	gen   int
	exit  *isleapi.Exit // an instance ended
	due   bool          // a backoff elapsed
	stop  chan error    // Stop was called
	ask   func()        // run on the loop, for queries
}

// ErrStartFailed wraps why a child could not be started when the
// supervisor started.
var ErrStartFailed = errors.New("supervised child failed to start")

// Start starts the children in order, and a supervisor for them. If one
// cannot start, the ones started are stopped in reverse order and Start
// fails.
func Start(ctx context.Context, spec Spec) (*Supervisor, error) {
	s := &Supervisor{spec: spec, ctx: context.WithoutCancel(ctx), events: make(chan event, 16), done: make(chan struct{})}
	if s.spec.Intensity == 0 {
		s.spec.Intensity = DefaultIntensity
	}
	if s.spec.Period <= 0 {
		s.spec.Period = DefaultPeriod
	}
	for _, cs := range spec.Children {
		svc := cs.Service
		if svc == nil {
			svc = kernel.NewService(cs.Name)
		}
		s.children = append(s.children, &child{spec: cs, svc: svc})
	}
	for _, c := range s.children {
		if err := s.startChild(c); err != nil {
			s.end(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: ReasonShutdown}, ReasonShutdown)
			return nil, fmt.Errorf("%w: %s: %w", ErrStartFailed, c.spec.Name, err)
		}
	}
	go s.loop()
	return s, nil
}

// Service returns the service of the worker child called name.
func (s *Supervisor) Service(name string) (*kernel.Service, bool) {
	for _, c := range s.children { // immutable after Start
		if c.spec.Name == name {
			return c.svc, true
		}
	}
	return nil, false
}

// Done is closed when the supervisor has ended: stopped, or given up.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Exit is why the supervisor ended, once Done is closed.
func (s *Supervisor) Exit() isleapi.Exit {
	<-s.done
	return s.exit
}

// Name is the supervisor's name.
func (s *Supervisor) Name() string { return s.spec.Name }

// Stop stops the children in reverse order, each gracefully (a shutdown
// message, then a kill after its shutdown timeout), and ends the
// supervisor. It returns ctx's error if ctx ends first; the stop goes on.
func (s *Supervisor) Stop(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case s.events <- event{stop: reply}:
	case <-s.done:
		return nil
	}
	// The loop may have ended with the request still queued: events is
	// buffered, so the send above can win over done.
	select {
	case err := <-reply:
		return err
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ChildInfo is a snapshot of one child.
type ChildInfo struct {
	Name     string
	Restarts int
	Process  *kernel.Process // nil between instances or for a supervisor
	Sub      *Supervisor
	Service  *kernel.Service
}

// Children returns a snapshot of the children, in start order.
func (s *Supervisor) Children() []ChildInfo {
	out := make(chan []ChildInfo, 1)
	f := func() {
		var cs []ChildInfo
		for _, c := range s.children {
			cs = append(cs, ChildInfo{Name: c.spec.Name, Restarts: c.restarts, Process: c.proc, Sub: c.sub, Service: c.svc})
		}
		out <- cs
	}
	select {
	case s.events <- event{ask: f}:
	case <-s.done:
		return nil
	}
	select { // as in Stop
	case cs := <-out:
		return cs
	case <-s.done:
		return nil
	}
}

// Restart stops the child called name and starts it again, as a crash
// would but gracefully, and not counted against the intensity.
func (s *Supervisor) Restart(name string) error {
	errc := make(chan error, 1)
	f := func() {
		for _, c := range s.children {
			if c.spec.Name == name {
				s.stopChild(c)
				errc <- s.startChild(c)
				return
			}
		}
		errc <- fmt.Errorf("no child called %q", name)
	}
	ended := fmt.Errorf("supervisor %s has ended", s.spec.Name)
	select {
	case s.events <- event{ask: f}:
	case <-s.done:
		return ended
	}
	select { // as in Stop
	case err := <-errc:
		return err
	case <-s.done:
		return ended
	}
}

func (s *Supervisor) emit(e Event) {
	if s.spec.OnEvent != nil {
		e.Supervisor = s.spec.Name
		s.spec.OnEvent(e)
	}
}
