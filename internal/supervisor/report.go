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
// frames, the tag of the message it was handling and that message's
// causality id.
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
			attrs = append(attrs, slog.String("tag", fmt.Sprintf("%#x", tag)), slog.String("trace_id", fmt.Sprintf("%016x", trace)))
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
