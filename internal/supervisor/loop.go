package supervisor

import (
	"time"

	isleapi "github.com/isle-run/isle/api"
)

// Exit reasons the supervisor gives.
const (
	// ReasonShutdown ends what a supervisor stops.
	ReasonShutdown = "shutdown"
	// ReasonIntensity ends a supervisor that gave up, and its children.
	ReasonIntensity = "reached restart intensity"
)

// loop is the supervisor's goroutine: it owns the children from Start on.
func (s *Supervisor) loop() {
	for e := range s.events {
		switch {
		case e.stop != nil:
			s.end(isleapi.Exit{Kind: isleapi.ExitNormal}, ReasonShutdown)
			e.stop <- nil
			return
		case e.ask != nil:
			e.ask()
		case e.gen != e.child.gen:
			// From an instance already stopped or replaced.
		case e.due:
			s.restartDue()
		case e.exit != nil:
			if !s.childExited(e.child, *e.exit) {
				return
			}
		}
	}
}

// childExited reacts to the end of a child's current instance. It reports
// false when the supervisor gave up and ended.
func (s *Supervisor) childExited(c *child, exit isleapi.Exit) bool {
	p := c.proc
	c.proc, c.sub = nil, nil
	s.emit(Event{Kind: Exited, Child: c.spec.Name, Restarts: c.restarts, Exit: exit, Process: p})
	s.report(c, p, exit)
	switch {
	case c.spec.Restart == Temporary, c.spec.Restart == Transient && exit.Normal():
		c.svc.End(exit)
		return true
	}
	now := time.Now()
	s.restarts = append(s.restarts, now)
	for len(s.restarts) > 0 && now.Sub(s.restarts[0]) > s.spec.Period {
		s.restarts = s.restarts[1:]
	}
	if s.spec.Intensity < 0 || len(s.restarts) > s.spec.Intensity {
		s.emit(Event{Kind: GaveUp, Child: c.spec.Name, Restarts: c.restarts, Exit: exit})
		s.end(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: ReasonIntensity}, ReasonIntensity)
		return false
	}
	i := s.index(c)
	switch s.spec.Strategy {
	case OneForAll:
		s.stopRange(i+1, len(s.children)-1)
		s.stopRange(0, i-1)
		s.schedule(c, s.children)
	case RestForOne:
		s.stopRange(i+1, len(s.children)-1)
		s.schedule(c, s.children[i:])
	default:
		s.schedule(c, []*child{c})
	}
	return true
}

// schedule restarts set, in order, after the backoff of c, the child whose
// end caused it.
func (s *Supervisor) schedule(c *child, set []*child) {
	if time.Since(c.started) > max(s.spec.Backoff.Max, s.spec.Period) {
		c.inARow = 0 // it ran long enough to count as stable
	}
	delay := s.spec.Backoff.delay(c.inARow)
	c.inARow++
	for _, d := range set {
		if d.spec.Restart == Temporary && d != c {
			// Stopped with the others, but never restarted.
			d.svc.End(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: ReasonShutdown})
			continue
		}
		d.pending = true
	}
	if delay == 0 {
		s.restartDue()
		return
	}
	s.emit(Event{Kind: BackingOff, Child: c.spec.Name, Restarts: c.restarts, Delay: delay})
	gen := c.gen
	time.AfterFunc(delay, func() {
		select {
		case s.events <- event{child: c, gen: gen, due: true}:
		case <-s.done:
		}
	})
}

// restartDue starts, in order, every child waiting for a restart. A child
// that fails to start counts as one that ended.
func (s *Supervisor) restartDue() {
	for _, d := range s.children {
		if !d.pending || d.running() {
			continue
		}
		d.pending = false
		d.restarts++
		if err := s.startChild(d); err != nil {
			exit := isleapi.Exit{Kind: isleapi.ExitAbandoned,
				Abandon: &isleapi.Abandonment{Cause: isleapi.CauseHostFault, Detail: "restart failed: " + err.Error()}}
			go s.send(event{child: d, gen: d.gen, exit: &exit})
		}
	}
}

// end stops every child in reverse order, gives up their services with
// the reason, and ends the supervisor with exit.
func (s *Supervisor) end(exit isleapi.Exit, reason string) {
	s.stopping = true
	s.stopRange(0, len(s.children)-1)
	for _, c := range s.children {
		c.svc.End(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: reason})
	}
	s.exit = exit
	close(s.done)
}

// stopRange stops children[from..to] in reverse order.
func (s *Supervisor) stopRange(from, to int) {
	for i := to; i >= from; i-- {
		s.stopChild(s.children[i])
	}
}

func (s *Supervisor) index(c *child) int {
	for i, d := range s.children {
		if d == c {
			return i
		}
	}
	return -1
}
