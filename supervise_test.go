package isle_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// eventLog records a supervision tree's events, and lets a test wait for
// one.
type eventLog struct {
	mu     sync.Mutex
	events []isle.SupervisorEvent
	more   chan struct{}
}

func newEventLog() *eventLog { return &eventLog{more: make(chan struct{})} }

func (l *eventLog) add(e isle.SupervisorEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	close(l.more)
	l.more = make(chan struct{})
	l.mu.Unlock()
}

// lines renders the events as "kind child" lines, for comparing orders.
func (l *eventLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, eventLine(e))
	}
	return out
}

func eventLine(e isle.SupervisorEvent) string {
	kind := map[isle.EventKind]string{isle.EventStarted: "started", isle.EventExited: "exited",
		isle.EventBackingOff: "backoff", isle.EventGaveUp: "gaveup", isle.EventStopped: "stopped"}[e.Kind]
	s := kind + " " + e.Child
	if e.Kind == isle.EventBackingOff {
		s += " " + e.Delay.String()
	}
	return s
}

// wait waits until cond holds over the events so far.
func (l *eventLog) wait(t *testing.T, ctx context.Context, what string, cond func([]string) bool) {
	t.Helper()
	for {
		l.mu.Lock()
		more := l.more
		l.mu.Unlock()
		if lines := l.lines(); cond(lines) {
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s; events:\n%s", what, strings.Join(l.lines(), "\n"))
		}
	}
}

func count(lines []string, line string) int {
	n := 0
	for _, l := range lines {
		if l == line {
			n++
		}
	}
	return n
}

// svcChild is a child running svc.c in role.
func svcChild(t *testing.T, node *isle.Node, name, role string) isle.ChildSpec {
	return isle.ChildSpec{Name: name, Module: load(t, node, reactor(t, "testdata/c/svc.c")),
		Grants: isle.Grants{Init: []byte(role)}, Shutdown: 5 * time.Second}
}

func supervise(t *testing.T, node *isle.Node, spec isle.SupervisorSpec) (*isle.Supervisor, *eventLog) {
	t.Helper()
	log := newEventLog()
	spec.OnEvent = log.add
	sup, err := node.Supervise(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Stop(context.Background()) })
	return sup, log
}

func service(t *testing.T, sup *isle.Supervisor, name string) *isle.Service {
	t.Helper()
	svc, ok := sup.Service(name)
	if !ok {
		t.Fatalf("no service %s", name)
	}
	return svc
}

// A handle to a service keeps working across 100 crashes and restarts:
// of 10,000 messages sent through it, with a crash after every 100th,
// every one reaches an instance.
func TestServiceSurvivesRestarts(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/svc.c"))
	collector, err := node.Spawn(ctx, mod, isle.Grants{Init: []byte("collector")}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	worker := isle.ChildSpec{Name: "worker", Module: mod,
		Grants: isle.Grants{Init: []byte("worker"), Processes: map[string]*isle.Process{"collector": collector}}}
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "top", Intensity: 1000, Period: time.Hour,
		Children: []isle.ChildSpec{worker}})
	svc := service(t, sup, "worker")
	const n = 10_000
	for i := range n {
		if err := svc.Send(ctx, isle.Message{Tag: 3, Data: binary.LittleEndian.AppendUint32(nil, uint32(i))}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if i%100 == 99 {
			if err := svc.Send(ctx, isle.Message{Tag: 2}); err != nil {
				t.Fatalf("crash %d: %v", i, err)
			}
		}
	}
	var got uint32
	testwasm.WaitFor(t, "the collector to see every message", func() bool {
		r, err := collector.Call(ctx, isle.Message{Tag: 4})
		if err != nil {
			t.Fatal(err)
		}
		got = binary.LittleEndian.Uint32(r.Data)
		return got == n
	})
	log.wait(t, ctx, "100 restarts", func(l []string) bool { return count(l, "started worker") == 101 })
	if c := count(log.lines(), "exited worker"); c != 100 {
		t.Fatalf("%d exits; want 100", c)
	}
}

// A call being handled when its instance crashes fails with ErrGone; the
// next call reaches the restarted instance.
func TestCallInFlightAtCrashIsGone(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	sup, _ := supervise(t, node, isle.SupervisorSpec{Name: "top", Children: []isle.ChildSpec{svcChild(t, node, "w", "worker")}})
	svc := service(t, sup, "w")
	if _, err := svc.Call(ctx, isle.Message{Tag: 2}); !errors.Is(err, isle.ErrGone) {
		t.Fatalf("call that crashed the instance: %v; want ErrGone", err)
	}
	r, err := svc.Call(ctx, isle.Message{Tag: 1})
	if err != nil || string(r.Data) != "pong" {
		t.Fatalf("call after the restart: %q, %v", r.Data, err)
	}
}

// Each strategy restarts exactly the children OTP's would, in order.
func TestSupervisorStrategies(t *testing.T) {
	for _, c := range []struct {
		strategy isle.Strategy
		want     []string
	}{
		{isle.OneForOne, []string{"exited b", "started b"}},
		{isle.OneForAll, []string{"exited b", "stopped c", "stopped a", "started a", "started b", "started c"}},
		{isle.RestForOne, []string{"exited b", "stopped c", "started b", "started c"}},
	} {
		t.Run(c.strategy.String(), func(t *testing.T) {
			ctx := testCtx(t)
			node := newNode(t)
			sup, log := supervise(t, node, isle.SupervisorSpec{Name: "top", Strategy: c.strategy, Children: []isle.ChildSpec{
				svcChild(t, node, "a", "worker"), svcChild(t, node, "b", "worker"), svcChild(t, node, "c", "worker")}})
			if got := log.lines(); strings.Join(got, ",") != "started a,started b,started c" {
				t.Fatalf("start order: %v", got)
			}
			service(t, sup, "b").Send(ctx, isle.Message{Tag: 2})
			want := append([]string{"started a", "started b", "started c"}, c.want...)
			log.wait(t, ctx, "the restarts", func(l []string) bool { return len(l) >= len(want) })
			if got := log.lines(); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("events %v; want %v", got, want)
			}
			for _, name := range []string{"a", "b", "c"} {
				if _, err := service(t, sup, name).Call(ctx, isle.Message{Tag: 1}); err != nil {
					t.Fatalf("%s after the restart: %v", name, err)
				}
			}
		})
	}
}

// Permanent children always restart; transient ones only after an
// abnormal end; temporary ones never, and their service ends.
func TestRestartTypes(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	child := func(name string, r isle.RestartType) isle.ChildSpec {
		c := svcChild(t, node, name, "worker")
		c.Restart = r
		return c
	}
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "top", Intensity: 100, Period: time.Hour,
		Children: []isle.ChildSpec{child("perm", isle.Permanent), child("trans-ok", isle.Transient),
			child("trans-crash", isle.Transient), child("temp", isle.Temporary)}})
	const exitOK, crash = 6, 2
	for name, tag := range map[string]uint32{"perm": exitOK, "trans-ok": exitOK, "trans-crash": crash, "temp": crash} {
		if err := service(t, sup, name).Send(ctx, isle.Message{Tag: tag}); err != nil {
			t.Fatal(err)
		}
	}
	log.wait(t, ctx, "every child to end once", func(l []string) bool {
		return count(l, "exited perm")+count(l, "exited trans-ok")+count(l, "exited trans-crash")+count(l, "exited temp") == 4
	})
	log.wait(t, ctx, "the restarts", func(l []string) bool {
		return count(l, "started perm") == 2 && count(l, "started trans-crash") == 2
	})
	for _, name := range []string{"trans-ok", "temp"} {
		select {
		case <-service(t, sup, name).Done():
		case <-ctx.Done():
			t.Fatalf("%s: its service did not end", name)
		}
		if _, err := service(t, sup, name).Call(ctx, isle.Message{Tag: 1}); !errors.Is(err, isle.ErrGone) {
			t.Fatalf("call to %s, ended for good: %v", name, err)
		}
	}
	if l := log.lines(); count(l, "started trans-ok") != 1 || count(l, "started temp") != 1 {
		t.Fatalf("a child that must not restart did: %v", l)
	}
}

// Past its intensity a supervisor stops its children in reverse order and
// ends; a parent supervisor then restarts it like any child.
func TestIntensityEscalates(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	inner := &isle.SupervisorSpec{Name: "inner", Intensity: 2, Period: time.Hour,
		Children: []isle.ChildSpec{svcChild(t, node, "x", "worker"), svcChild(t, node, "y", "worker")}}
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "outer", Intensity: 5, Period: time.Hour,
		Children: []isle.ChildSpec{{Name: "inner", Supervisor: inner}}})
	y := service(t, sup, "inner/y")
	for i := range 3 {
		if _, err := y.Call(ctx, isle.Message{Tag: 2}); !errors.Is(err, isle.ErrGone) {
			t.Fatalf("crash %d: %v", i, err)
		}
	}
	want := []string{"started x", "started y", "started inner",
		"exited y", "started y", "exited y", "started y", "exited y", "gaveup y", "stopped x",
		"exited inner", "started x", "started y", "started inner"}
	log.wait(t, ctx, "the escalation", func(l []string) bool { return len(l) >= len(want) })
	if got := log.lines(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events\n%v\nwant\n%v", got, want)
	}
}

// A supervisor that gave up answers Stop and Restart at once,
// however often they are called: they must not wait for a loop that ended.
func TestSupervisorThatGaveUpAnswers(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	sup, _ := supervise(t, node, isle.SupervisorSpec{Name: "top", Intensity: 1, Period: time.Hour,
		Children: []isle.ChildSpec{svcChild(t, node, "w", "worker")}})
	svc := service(t, sup, "w")
	for i := 0; ; i++ {
		select {
		case <-sup.Done():
		default:
			if _, err := svc.Call(ctx, isle.Message{Tag: 2}); !errors.Is(err, isle.ErrGone) {
				t.Fatalf("crash %d: %v", i, err)
			}
			continue
		}
		break
	}
	for i := range 50 {
		if err := sup.Stop(ctx); err != nil {
			t.Fatalf("stop %d of a supervisor that gave up: %v", i, err)
		}
		if err := sup.Restart("w"); err == nil {
			t.Fatal("restart in a supervisor that gave up succeeded")
		}
	}
}

// Backoff doubles from its minimum to its maximum with each restart in a
// row; checked as the order and values of events, not against a clock.
func TestBackoffDoubles(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "top", Intensity: 100, Period: time.Hour,
		Backoff:  isle.Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond},
		Children: []isle.ChildSpec{svcChild(t, node, "w", "worker")}})
	svc := service(t, sup, "w")
	for i := range 4 {
		if _, err := svc.Call(ctx, isle.Message{Tag: 2}); !errors.Is(err, isle.ErrGone) {
			t.Fatalf("crash %d: %v", i, err)
		}
		// The next call waits in the service through the backoff and
		// reaches the restarted instance.
		if _, err := svc.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatalf("call after crash %d: %v", i, err)
		}
	}
	want := []string{"started w",
		"exited w", "backoff w 10ms", "started w",
		"exited w", "backoff w 20ms", "started w",
		"exited w", "backoff w 40ms", "started w",
		"exited w", "backoff w 40ms", "started w"}
	// The last instance can serve its call before its start is reported.
	log.wait(t, ctx, strings.Join(want, ", "), func(got []string) bool {
		return strings.Join(got, ",") == strings.Join(want, ",")
	})
}

// Stop stops the children in reverse order, each gracefully; one that
// ignores its shutdown message is killed at its shutdown timeout.
func TestGracefulShutdownOrder(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	stubborn := svcChild(t, node, "b", "stubborn")
	stubborn.Shutdown = 200 * time.Millisecond
	var mu sync.Mutex
	exits := map[string]api.Exit{}
	log := newEventLog()
	sup, err := node.Supervise(ctx, isle.SupervisorSpec{Name: "top", OnEvent: func(e isle.SupervisorEvent) {
		log.add(e)
		if e.Kind == isle.EventStopped {
			mu.Lock()
			exits[e.Child] = e.Exit
			mu.Unlock()
		}
	}, Children: []isle.ChildSpec{svcChild(t, node, "a", "worker"), stubborn, svcChild(t, node, "c", "worker")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"started a", "started b", "started c", "stopped c", "stopped b", "stopped a"}
	if got := log.lines(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v; want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !exits["a"].Normal() || !exits["c"].Normal() {
		t.Fatalf("graceful children: a %v, c %v; want normal exits", exits["a"], exits["c"])
	}
	if e := exits["b"]; e.Kind != api.ExitKilled || e.Killed != "shutdown" {
		t.Fatalf("the stubborn child: %v; want killed at its timeout", e)
	}
	if e := sup.Exit(); !e.Normal() {
		t.Fatalf("a stopped supervisor: %v", e)
	}
}

// An HTTP route served by a supervised service heals: of 10,000 requests
// with a crash on every 100th, exactly the crashing requests fail (502),
// and every other one is served, by whichever instance is running.
func TestHTTPRouteHeals(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	fn := isle.ChildSpec{Name: "fn", Module: load(t, node, reactor(t, "testdata/c/httpfn.c"))}
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "web", Intensity: 1000, Period: time.Hour,
		Children: []isle.ChildSpec{fn}})
	srv := httptest.NewServer(isle.ServiceHTTPHandler(service(t, sup, "fn")))
	defer srv.Close()
	const n = 10_000
	var bad []string
	for i := range n {
		path := "/hello"
		if i%100 == 99 {
			path = "/die"
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		want := 200
		if path == "/die" {
			want = 502
		}
		if resp.StatusCode != want {
			bad = append(bad, fmt.Sprintf("request %d (%s): %d", i, path, resp.StatusCode))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d requests got the wrong status: %v", len(bad), bad[:min(len(bad), 10)])
	}
	log.wait(t, ctx, "the 100th restart", func(l []string) bool { return count(l, "started fn") == 101 })
}

// Each crash is logged once, with the service, its restarts, the reason
// with its trap and frames, the tag of the message being handled and that
// message's causality id.
func TestCrashReport(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var buf syncBuffer
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t), Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(context.Background())
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "top", Children: []isle.ChildSpec{svcChild(t, node, "w", "worker")}})
	if _, err := service(t, sup, "w").Call(ctx, isle.Message{Tag: 2}); !errors.Is(err, isle.ErrGone) {
		t.Fatalf("crash: %v", err)
	}
	log.wait(t, ctx, "the restart", func(l []string) bool { return count(l, "started w") == 2 })
	// The node hands records to its logger from a goroutine of its own.
	testwasm.WaitFor(t, "the crash report in the node's logger", func() bool { return strings.Contains(buf.String(), "crash report") })
	var reports []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "crash report" {
			reports = append(reports, rec)
		}
	}
	if len(reports) != 1 {
		t.Fatalf("%d crash reports in:\n%s", len(reports), buf.String())
	}
	r := reports[0]
	for key, want := range map[string]string{"level": "ERROR", "supervisor": "top", "service": "w", "tag": "0x2"} {
		if fmt.Sprint(r[key]) != want {
			t.Errorf("%s = %v, want %s", key, r[key], want)
		}
	}
	if r["restarts"] != float64(0) || !strings.Contains(fmt.Sprint(r["reason"]), "abandoned: unreachable") ||
		!strings.Contains(fmt.Sprint(r["frames"]), "handle") || len(fmt.Sprint(r["trace_id"])) != 16 {
		t.Errorf("crash report %v", r)
	}
}
