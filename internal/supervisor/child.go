package supervisor

import (
	"context"
	"time"
)

// startChild starts an instance of c and watches it.
func (s *Supervisor) startChild(c *child) error {
	c.gen++
	gen := c.gen
	c.started = time.Now()
	if c.spec.Supervisor != nil {
		spec := *c.spec.Supervisor
		if spec.OnEvent == nil {
			spec.OnEvent = s.spec.OnEvent
		}
		if spec.Log == nil {
			spec.Log = s.spec.Log
		}
		sub, err := Start(s.ctx, spec)
		if err != nil {
			return err
		}
		c.sub = sub
		s.emit(Event{Kind: Started, Child: c.spec.Name, Restarts: c.restarts})
		go func() {
			<-sub.Done()
			exit := sub.Exit()
			s.send(event{child: c, gen: gen, exit: &exit})
		}()
		return nil
	}
	p, err := c.spec.Start(s.ctx, c.svc)
	if err != nil {
		return err
	}
	c.proc = p
	s.emit(Event{Kind: Started, Child: c.spec.Name, Restarts: c.restarts, Process: p})
	go func() {
		<-p.Done()
		exit, _ := p.Exit()
		s.send(event{child: c, gen: gen, exit: &exit})
	}()
	return nil
}

// send gives the loop an event, unless the supervisor has ended.
func (s *Supervisor) send(e event) {
	select {
	case s.events <- e:
	case <-s.done:
	}
}

// stopChild stops c's running instance gracefully: a shutdown message,
// then a kill once its shutdown timeout has passed. Events from the
// stopped instance are ignored from here on. It returns once the instance
// has ended.
func (s *Supervisor) stopChild(c *child) {
	c.pending = false
	if !c.running() {
		return
	}
	c.gen++
	if sub := c.sub; sub != nil {
		_ = sub.Stop(context.Background())
		c.sub = nil
		s.emit(Event{Kind: Stopped, Child: c.spec.Name, Restarts: c.restarts})
		return
	}
	p := c.proc
	c.proc = nil
	timeout := c.spec.Shutdown
	if timeout <= 0 {
		timeout = DefaultShutdown
	}
	p.Shutdown()
	t := time.NewTimer(timeout)
	select {
	case <-p.Done():
	case <-t.C:
		p.Kill(ReasonShutdown)
		<-p.Done()
	}
	t.Stop()
	exit, _ := p.Exit()
	s.emit(Event{Kind: Stopped, Child: c.spec.Name, Restarts: c.restarts, Exit: exit, Process: p})
}
