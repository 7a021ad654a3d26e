package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
)

// report logs a crash report for an abnormal end of c's instance p: once,
// at error level, with everything needed to find the bug without the
// process: the service, its restarts, the reason with the trap and its
// frames, the tag of the message it was handling, that message's
// causality id, and the chain of processes and messages that led to it.
func (s *Supervisor) report(c *child, p *kernel.Process, exit isleapi.Exit) {
	if exit.Normal() || s.spec.Log == nil {
		return
	}
	if exit.Kind == isleapi.ExitKilled && exit.Killed == ReasonShutdown {
		return // stopped, not crashed
	}
	attrs := []slog.Attr{
		slog.String("supervisor", s.spec.Name),
		slog.String("service", c.spec.Name),
		slog.Int("restarts", c.restarts),
		slog.String("reason", exit.String()),
	}
	if p != nil {
		attrs = append(attrs, slog.Uint64("pid", p.ID), slog.String("module", p.Module().Name))
		if tag, trace, ok := p.Crash(); ok {
			hi, chain, _ := p.CrashCause()
			attrs = append(attrs, slog.String("tag", fmt.Sprintf("%#x", tag)), slog.String("trace_id", traceID(hi, trace)),
				slog.String("chain", formatChain(chain, p)))
		}
	}
	if a := exit.Abandon; a != nil && len(a.Frames) > 0 {
		frames := make([]string, len(a.Frames))
		for i, f := range a.Frames {
			frames[i] = f.Function
			if loc := f.Location(); loc != "" {
				frames[i] += " at " + loc
			}
		}
		attrs = append(attrs, slog.String("frames", strings.Join(frames, " <- ")))
	}
	s.spec.Log.LogAttrs(context.Background(), slog.LevelError, "crash report", attrs...)
}

// traceID renders a causality id: 16 hex digits for the node's own, 32
// for an OpenTelemetry trace id, as tracing back ends show them.
func traceID(hi, lo uint64) string {
	if hi == 0 {
		return fmt.Sprintf("%016x", lo)
	}
	return fmt.Sprintf("%016x%016x", hi, lo)
}

// formatChain renders the chain that led to the message p crashed on,
// ending with p: "host -0x1-> a[3] -0x2-> b[4]" says the host sent 0x1
// to process 3 of module a, which sent 0x2 to process 4, of module b.
// A chain longer than the message could carry starts with "...".
func formatChain(c kernel.Chain, p *kernel.Process) string {
	var b strings.Builder
	if c.Depth > len(c.Hops) {
		b.WriteString("... ")
	}
	for i, h := range c.Hops {
		if i == 0 {
			b.WriteString(hopName(h.PID, h.Module))
		}
		next := p.ID
		mod := p.Module()
		if i+1 < len(c.Hops) {
			next, mod = c.Hops[i+1].PID, c.Hops[i+1].Module
		}
		fmt.Fprintf(&b, " -%#x-> %s", h.Tag, hopName(next, mod))
	}
	if len(c.Hops) == 0 {
		b.WriteString(hopName(p.ID, p.Module()))
	}
	return b.String()
}

// hopName names a process in a chain.
func hopName(pid uint64, m *kernel.Module) string {
	if m == nil {
		return "host"
	}
	return fmt.Sprintf("%s[%d]", m.Name, pid)
}
