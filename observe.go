package isle

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/admin"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/supervisor"
)

// observer remembers what the admin endpoints show that the kernel does
// not keep: the node's supervision trees, its services' names, restarts,
// recent crash reports, and HTTP ingress counts. Its zero value is ready;
// everything it records is rare next to messages (a supervisor event, an
// HTTP request), so one mutex guards it.
type observer struct {
	mu       sync.Mutex
	trees    []*Supervisor
	specs    map[*Supervisor]SupervisorSpec
	names    map[*kernel.Service]string
	starts   map[string]uint64 // instances started, by service path
	crashes  []admin.Crash     // the last maxCrashes, oldest first
	crashSeq uint64
	http     map[admin.HTTPKey]uint64
	changed  chan struct{} // closed and replaced on each crash or restart
}

// maxCrashes bounds the crash reports the node remembers.
const maxCrashes = 50

// nameService records svc's full path, for metric labels.
func (o *observer) nameService(svc *kernel.Service, path string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.names == nil {
		o.names = map[*kernel.Service]string{}
	}
	o.names[svc] = path
}

// addTree remembers a running supervision tree until it ends.
func (o *observer) addTree(s *Supervisor, spec SupervisorSpec) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.specs == nil {
		o.specs = map[*Supervisor]SupervisorSpec{}
	}
	o.trees = append(o.trees, s)
	o.specs[s] = spec
}

// notify wakes whoever waits on Changed. Precondition: o.mu is held.
func (o *observer) notify() {
	if o.changed != nil {
		close(o.changed)
		o.changed = nil
	}
}

// supervisorEvent records what a supervisor at prefix did.
func (o *observer) supervisorEvent(prefix string, e supervisor.Event) {
	path := prefix + e.Child
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Kind {
	case supervisor.Started:
		if o.starts == nil {
			o.starts = map[string]uint64{}
		}
		o.starts[path]++
		if o.starts[path] > 1 {
			o.notify()
		}
	case supervisor.Exited, supervisor.GaveUp:
		if e.Exit.Normal() || (e.Exit.Kind == api.ExitKilled && e.Exit.Killed == supervisor.ReasonShutdown) {
			return
		}
		c := admin.Crash{Time: time.Now(), Supervisor: e.Supervisor, Service: path, Reason: e.Exit.String()}
		if e.Kind == supervisor.GaveUp {
			c.Reason = "supervisor gave up: " + supervisor.ReasonIntensity + " after " + c.Reason
		}
		if p := e.Process; p != nil {
			c.PID, c.Module = p.ID, p.Module().Name
			if tag, trace, ok := p.Crash(); ok {
				c.Tag, c.Trace = fmt.Sprintf("%#x", tag), fmt.Sprintf("%016x", trace)
			}
		}
		o.crashSeq++
		c.Seq = o.crashSeq
		o.crashes = append(o.crashes, c)
		if len(o.crashes) > maxCrashes {
			o.crashes = o.crashes[len(o.crashes)-maxCrashes:]
		}
		o.notify()
	}
}

// countHTTP counts a finished ingress request.
func (o *observer) countHTTP(route string, w *statusWriter) {
	status := w.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	class := "other"
	if status >= 100 && status < 600 {
		class = strconv.Itoa(status/100) + "xx"
	}
	o.mu.Lock()
	if o.http == nil {
		o.http = map[admin.HTTPKey]uint64{}
	}
	o.http[admin.HTTPKey{Route: route, Class: class}]++
	o.mu.Unlock()
}

// statusWriter remembers the status an ingress request was answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// unwrapWriter returns the server's own writer under a statusWriter, for
// what needs its unexported methods (http.MaxBytesReader closes the
// connection through one).
func unwrapWriter(w http.ResponseWriter) http.ResponseWriter {
	if s, ok := w.(*statusWriter); ok {
		return s.ResponseWriter
	}
	return w
}

// route names what an ingress serves, for metrics: a service's path, or
// the module a process handler runs (never a pid: labels stay bounded).
func (h *HTTPIngress) route() string {
	if s, ok := h.target.(*kernel.Service); ok {
		h.n.obs.mu.Lock()
		defer h.n.obs.mu.Unlock()
		if name, ok := h.n.obs.names[s]; ok {
			return name
		}
		return s.Name
	}
	return "module " + h.target.(*kernel.Process).Module().Name
}
