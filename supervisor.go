package isle

import (
	"context"
	"fmt"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/supervisor"
	"github.com/isle-run/isle/internal/tracing"
)

// Strategy says which children a supervisor restarts when one ends, as in
// Erlang/OTP.
type Strategy = supervisor.Strategy

// Supervision strategies.
const (
	// OneForOne restarts only the child that ended.
	OneForOne = supervisor.OneForOne
	// OneForAll stops every other child and restarts them all.
	OneForAll = supervisor.OneForAll
	// RestForOne stops the children started after the one that ended and
	// restarts it and them, in order.
	RestForOne = supervisor.RestForOne
)

// RestartType says whether a child that ended is restarted.
type RestartType = supervisor.Restart

// Restart types, as in Erlang/OTP.
const (
	// Permanent children are always restarted.
	Permanent = supervisor.Permanent
	// Transient children are restarted only after an abnormal end:
	// anything but exiting by itself with code 0.
	Transient = supervisor.Transient
	// Temporary children are never restarted.
	Temporary = supervisor.Temporary
)

// Backoff is an optional delay before restarts: Min before the first
// restart after a stable run, doubling with each restart in a row, up to
// Max. OTP restarts at once; so does the zero Backoff.
type Backoff = supervisor.Backoff

// SupervisorEvent is one thing a supervisor did or saw; see
// SupervisorSpec.OnEvent.
type SupervisorEvent struct {
	Kind EventKind
	// Supervisor and Child name who it is about.
	Supervisor, Child string
	// Restarts is how many times the child had been restarted then.
	Restarts int
	// Exit is how the child ended, for EventExited and EventStopped.
	Exit api.Exit
	// Delay is the backoff, for EventBackingOff.
	Delay time.Duration
	// Process is the instance, for EventStarted, EventExited and
	// EventStopped of a process child.
	Process *Process
}

// EventKind says what a SupervisorEvent is.
type EventKind = supervisor.EventKind

// Event kinds.
const (
	// EventStarted: an instance of the child started.
	EventStarted = supervisor.Started
	// EventExited: an instance of the child ended by itself, or crashed.
	EventExited = supervisor.Exited
	// EventBackingOff: the child's restart waits its backoff first.
	EventBackingOff = supervisor.BackingOff
	// EventGaveUp: the restart intensity was passed; the supervisor stops
	// its children and ends.
	EventGaveUp = supervisor.GaveUp
	// EventStopped: the supervisor stopped the child (shutdown).
	EventStopped = supervisor.Stopped
)

// SupervisorSpec describes a supervision tree: a supervisor and its
// children, started in order and stopped in reverse order.
type SupervisorSpec struct {
	// Name labels the supervisor in logs and events.
	Name     string
	Strategy Strategy
	// Intensity restarts within Period are allowed; one more and the
	// supervisor stops every child in reverse order and ends, and its own
	// parent reacts. Zero values mean OTP's defaults: 1 restart in 5 s. A
	// negative Intensity allows no restart at all.
	Intensity int
	Period    time.Duration
	Backoff   Backoff
	Children  []ChildSpec
	// OnEvent, if set, sees everything the supervisor (and the nested
	// ones) does, in order; it must not block.
	OnEvent func(SupervisorEvent)
}

// ChildSpec describes one child: a process run as a service, or a nested
// supervisor.
type ChildSpec struct {
	// Name names the child, and its service, among its siblings.
	Name string
	// Module, Grants and Limits start each instance of a process child,
	// as Node.Spawn does.
	Module  *Module
	Grants  Grants
	Limits  Limits
	Restart RestartType
	// Shutdown is how long the child has to end after its shutdown message
	// (tag kernel.TagShutdown, 0xFFFF0004) before it is killed; default
	// 5 s.
	Shutdown time.Duration
	// Uses names siblings whose services the child is granted, each under
	// its sibling's name, with the send and monitor rights.
	Uses []string
	// Supervisor, instead of Module, makes the child a nested supervisor.
	Supervisor *SupervisorSpec
	// Service, if set, is the process child's service, made beforehand
	// with Node.NewService so that its handle could be granted or
	// published (Node.Publish) before the tree starts. One child only.
	Service *Service
}

// Supervisor is a running supervision tree.
type Supervisor struct {
	n   *Node
	s   *supervisor.Supervisor
	svc map[string]*Service
}

// Service is a supervised child's stable address: a handle to it, granted
// with ServiceCap, survives the child's crashes and restarts. Messages sent
// while it restarts wait (within a mailbox's bounds) and reach the next
// instance in order; messages still queued in a crashed instance go on to
// the next one too. Only the message being handled at the crash is lost;
// if it was a call, its caller gets EGONE. A monitor or link on a service
// fires only when its supervisor gives it up.
type Service struct {
	n *Node
	s *kernel.Service
}

// Supervise starts spec's children in order and supervises them. If one
// cannot start, those started are stopped in reverse order and Supervise
// fails.
func (n *Node) Supervise(ctx context.Context, spec SupervisorSpec) (*Supervisor, error) {
	sup := &Supervisor{n: n, svc: map[string]*Service{}}
	ks, err := sup.build(spec, "", nil)
	if err != nil {
		return nil, err
	}
	s, err := supervisor.Start(ctx, ks)
	if err != nil {
		return nil, err
	}
	sup.s = s
	n.obs.addTree(sup, spec)
	n.tools.addSupervisor(s)
	return sup, nil
}

// build turns spec into the engine's form, making every worker's service
// first so that siblings can be granted each other's. prefix names nested
// services: "web" in a nested supervisor "front" is "front/web". A nested
// spec without OnEvent uses inherit, its parent's.
func (sup *Supervisor) build(spec SupervisorSpec, prefix string, inherit func(SupervisorEvent)) (supervisor.Spec, error) {
	ks := supervisor.Spec{Name: spec.Name, Strategy: spec.Strategy, Intensity: spec.Intensity, Period: spec.Period,
		Backoff: spec.Backoff, Log: sup.n.log}
	f := spec.OnEvent
	if f == nil {
		f = inherit
	}
	ks.OnEvent = func(e supervisor.Event) {
		sup.n.obs.supervisorEvent(prefix, e) // restarts and crash reports, for the admin endpoints
		if f == nil {
			return
		}
		pe := SupervisorEvent{Kind: e.Kind, Supervisor: e.Supervisor, Child: e.Child, Restarts: e.Restarts,
			Exit: e.Exit, Delay: e.Delay}
		if e.Process != nil {
			pe.Process = &Process{n: sup.n, p: e.Process}
		}
		f(pe)
	}
	siblings := map[string]*Service{}
	for _, c := range spec.Children {
		if _, dup := siblings[c.Name]; dup || c.Name == "" {
			return ks, fmt.Errorf("supervisor %s: child name %q is empty or used twice", spec.Name, c.Name)
		}
		svc := c.Service
		if svc == nil || c.Supervisor != nil {
			svc = sup.n.NewService(c.Name)
		}
		siblings[c.Name] = svc
		sup.svc[prefix+c.Name] = svc
		sup.n.obs.nameService(svc.s, prefix+c.Name)
	}
	for _, c := range spec.Children {
		kc := supervisor.Child{Name: c.Name, Restart: c.Restart, Shutdown: c.Shutdown}
		if c.Supervisor != nil {
			sub, err := sup.build(*c.Supervisor, prefix+c.Name+"/", f)
			if err != nil {
				return ks, err
			}
			kc.Supervisor = &sub
		} else {
			if c.Module == nil {
				return ks, fmt.Errorf("supervisor %s: child %s has neither a module nor a supervisor", spec.Name, c.Name)
			}
			g, err := withUses(c, siblings)
			if err != nil {
				return ks, fmt.Errorf("supervisor %s: %w", spec.Name, err)
			}
			kc.Service = siblings[c.Name].s
			kc.Start = sup.starter(c.Module, g, c.Limits)
		}
		ks.Children = append(ks.Children, kc)
	}
	return ks, nil
}

// withUses adds the services c uses to its grants.
func withUses(c ChildSpec, siblings map[string]*Service) (Grants, error) {
	g := c.Grants
	if len(c.Uses) == 0 {
		return g, nil
	}
	caps := make(map[string]Capability, len(g.Caps)+len(c.Uses))
	for k, v := range g.Caps {
		caps[k] = v
	}
	for _, u := range c.Uses {
		svc, ok := siblings[u]
		if !ok {
			return g, fmt.Errorf("child %s uses %q, which is not a sibling", c.Name, u)
		}
		if _, dup := caps[u]; dup {
			return g, fmt.Errorf("child %s: grant name %q is used twice", c.Name, u)
		}
		caps[u] = ServiceCap(svc, api.RightSend|api.RightMonitor)
	}
	g.Caps = caps
	return g, nil
}

// starter returns how the engine starts an instance of a process child.
func (sup *Supervisor) starter(m *Module, g Grants, l Limits) func(context.Context, *kernel.Service) (*kernel.Process, error) {
	return func(ctx context.Context, svc *kernel.Service) (*kernel.Process, error) {
		spec, release, err := g.spec(sup.n, l)
		if err != nil {
			return nil, err
		}
		spec.OnExit, spec.Service = release, svc
		p, err := sup.n.k.Spawn(ctx, m.m, spec)
		if err != nil && release != nil {
			release()
		}
		return p, err
	}
}

// Service returns the service of the child called name; a child of a
// nested supervisor is "outer/inner".
func (s *Supervisor) Service(name string) (*Service, bool) {
	svc, ok := s.svc[name]
	return svc, ok
}

// Stop stops the tree: every child in reverse order, each gracefully (its
// shutdown message, then a kill at its shutdown timeout). It returns ctx's
// error if ctx ends first; the stop goes on.
func (s *Supervisor) Stop(ctx context.Context) error { return s.s.Stop(ctx) }

// Done is closed when the supervisor has ended: stopped, or given up.
func (s *Supervisor) Done() <-chan struct{} { return s.s.Done() }

// Exit is why the supervisor ended; it waits for that.
func (s *Supervisor) Exit() api.Exit { return s.s.Exit() }

// Restart stops the child called name gracefully and starts it again.
func (s *Supervisor) Restart(name string) error { return s.s.Restart(name) }

// ServiceCap grants a handle to a service, with the rights given
// (api.RightSend, RightMonitor, RightKill). Killing a service kills its
// current instance; its supervisor restarts it as after any crash.
func ServiceCap(svc *Service, rights api.Rights) Capability {
	return Capability{kind: capkind.Process, rights: rights, spec: svc.s}
}

// NewService makes a service not yet supervised, for ChildSpec.Service.
// Messages sent to it before its first instance starts wait for it.
func (n *Node) NewService(name string) *Service {
	return &Service{n: n, s: kernel.NewService(name)}
}

// Name is the service's name among its siblings.
func (s *Service) Name() string { return s.s.Name }

// Send delivers a message to the service's current instance, or holds it
// for the next, waiting for room until ctx is done. It fails with ErrGone
// once the service has been given up.
func (s *Service) Send(ctx context.Context, m Message) error {
	if m.Tag >= kernel.TagSystem {
		return fmt.Errorf("tag %#x is reserved for the system", m.Tag)
	}
	km := kernel.NewMessage(m.Tag, m.Data)
	end := tracing.Host(ctx, s.n.tracer, "send", false, km)
	err := s.n.k.HostSend(ctx, s.s, km, false)
	end(err)
	return mapErr(err)
}

// Call sends a request to the service and waits for the reply until ctx
// is done. It fails with ErrGone if the instance handling it ends first.
func (s *Service) Call(ctx context.Context, m Message) (Message, error) {
	if m.Tag >= kernel.TagSystem {
		return Message{}, fmt.Errorf("tag %#x is reserved for the system", m.Tag)
	}
	return hostCall(ctx, s.n, s.s, m)
}

// Current returns the running instance, or nil between instances.
func (s *Service) Current() *Process {
	p := s.s.Current()
	if p == nil {
		return nil
	}
	return &Process{n: s.n, p: p}
}

// Done is closed when the service's supervisor has given it up.
func (s *Service) Done() <-chan struct{} { return s.s.Done() }
