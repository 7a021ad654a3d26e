package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// deadline is how long any wait in these tests may take: generous, so a
// loaded machine is slow but does not fail.
const deadline = 20 * time.Second

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// testCA is a cluster CA for one test.
type testCA struct{ cert, key []byte }

func newTestCA(t *testing.T) testCA {
	t.Helper()
	c, k, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return testCA{c, k}
}

func (ca testCA) creds(t *testing.T, node string) *Credentials {
	t.Helper()
	c, k, err := Issue(ca.cert, ca.key, node)
	if err != nil {
		t.Fatal(err)
	}
	return &Credentials{CA: ca.cert, Cert: c, Key: k}
}

// logWatch is a slog handler that passes records to t.Log while the test
// runs, and lets a test wait for a record containing a substring.
type logWatch struct {
	t     *testing.T
	off   *atomic.Bool
	mu    *sync.Mutex
	lines *[]string
	ch    *chan struct{} // closed and replaced on every record
	attrs string
}

func newLogWatch(t *testing.T) *logWatch {
	ch := make(chan struct{})
	w := &logWatch{t: t, off: new(atomic.Bool), mu: new(sync.Mutex), lines: new([]string), ch: &ch}
	t.Cleanup(func() { w.off.Store(true) }) // registered first: runs last
	return w
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) WithGroup(string) slog.Handler            { return w }
func (w *logWatch) WithAttrs(as []slog.Attr) slog.Handler {
	c := *w
	for _, a := range as {
		c.attrs += " " + a.String()
	}
	return &c
}

func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message + w.attrs
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	w.mu.Lock()
	*w.lines = append(*w.lines, line)
	close(*w.ch)
	*w.ch = make(chan struct{})
	w.mu.Unlock()
	if !w.off.Load() && testing.Verbose() {
		w.t.Log(line)
	}
	return nil
}

// wait waits for a record containing all of subs and returns it.
func (w *logWatch) wait(t *testing.T, subs ...string) string {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for i := 0; ; {
		w.mu.Lock()
		lines, ch := *w.lines, *w.ch
		w.mu.Unlock()
		for ; i < len(lines); i++ {
			if containsAll(lines[i], subs) {
				return lines[i]
			}
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("no log record containing %q within %v", subs, deadline)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// recorder keeps every event a node emits.
type recorder struct {
	name string
	mu   sync.Mutex
	evs  []Event
	ch   chan struct{}
}

func record(n *Node) *recorder {
	r := &recorder{name: n.Name(), ch: make(chan struct{})}
	n.OnChange(func(e Event) {
		r.mu.Lock()
		r.evs = append(r.evs, e)
		close(r.ch)
		r.ch = make(chan struct{})
		r.mu.Unlock()
	})
	return r
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

// wait waits for an event at index from or later of kind about peer (and
// with reason, if not ""), and returns it with its index.
func (r *recorder) wait(t *testing.T, from int, kind EventKind, peer, reason string) (Event, int) {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for i := from; ; {
		r.mu.Lock()
		evs, ch := r.evs, r.ch
		r.mu.Unlock()
		for ; i < len(evs); i++ {
			e := evs[i]
			if e.Kind == kind && e.Member.Name == peer && (reason == "" || e.Reason == reason) {
				return e, i
			}
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("%s: no %v event for %s (reason %q) within %v; events: %v", r.name, kind, peer, reason, deadline, evs[from:])
		}
	}
}

// cfgFor returns a Config for node name with credentials from ca, a
// loopback route listener on a free port, and logs to w.
func cfgFor(t *testing.T, ca testCA, w *logWatch, name string, join ...string) Config {
	return Config{
		Cluster: "test", Name: name, Listen: "127.0.0.1:0", Join: join,
		Creds: ca.creds(t, name), Logger: newLogger(w),
	}
}

func newLogger(w *logWatch) *slog.Logger { return slog.New(w) }

// start starts a node and closes it when the test ends.
func start(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := Start(waitCtx(t), cfg)
	if err != nil {
		t.Fatalf("Start %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := n.Close(ctx); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close %s: %v", n.Name(), err)
		}
	})
	return n
}

// waitUp waits until every node sees every other Up.
func waitUp(t *testing.T, nodes ...*Node) {
	t.Helper()
	ctx := waitCtx(t)
	for _, a := range nodes {
		for _, b := range nodes {
			if _, err := a.WaitPeer(ctx, b.Name()); err != nil {
				t.Fatalf("%s waiting for %s: %v (members %+v)", a.Name(), b.Name(), err, a.Members())
			}
		}
	}
}

// waitInterest waits until a request on subj from nc reaches a
// responder: the server answers "no responders" at once while it knows
// of none, so this waits on route interest propagation, not on time.
func waitInterest(t *testing.T, nc *nats.Conn, subj string) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		_, err := nc.RequestWithContext(ctx, subj, []byte("probe"))
		if err == nil {
			return
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("waiting for a subscriber on %s: %v", subj, err)
		}
	}
}

func must(t *testing.T, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}
