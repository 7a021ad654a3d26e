package isle_test

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// scrape gets /metrics from h and parses it with Prometheus's own parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels are
// exactly labels ("k=v" pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	want := strings.Join(labels, ",")
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			if l.GetValue() != "" {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
		}
		sort.Strings(got)
		if strings.Join(got, ",") != want {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func expect(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(fams, name, labels...)
	if !ok || got != want {
		t.Errorf("%s{%s} = %v (present %v); want %v", name, strings.Join(labels, ","), got, ok, want)
	}
}

// /metrics, parsed with the Prometheus text parser, counts exactly what a
// known run did: N spawns from Go killed, M messages through a service
// that forwards each, K crashes and restarts of that service.
func TestMetricsCountKnownActivity(t *testing.T) {
	const n, m, k = 5, 50, 3
	ctx := testCtx(t)
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/svc.c"))
	collector := isle.ChildSpec{Name: "collector", Module: mod, Grants: isle.Grants{Init: []byte("collector")}}
	worker := isle.ChildSpec{Name: "w", Module: mod, Grants: isle.Grants{Init: []byte("worker")}, Uses: []string{"collector"}}
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "app", Intensity: 100, Period: time.Hour,
		Children: []isle.ChildSpec{collector, worker}})
	h := node.AdminHandler("")

	tiny := load(t, node, tinyReactor(t))
	var procs []*isle.Process
	for range n {
		p, err := node.Spawn(ctx, tiny, isle.Grants{}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		p.Kill()
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w := service(t, sup, "w")
	for i := range m {
		if err := w.Send(ctx, isle.Message{Tag: 3, Data: binary.LittleEndian.AppendUint32(nil, uint32(i))}); err != nil {
			t.Fatal(err)
		}
		if i%(m/k) == m/k-1 && i/(m/k) < k {
			if err := w.Send(ctx, isle.Message{Tag: 2}); err != nil { // traps
				t.Fatal(err)
			}
		}
	}
	log.wait(t, ctx, fmt.Sprintf("%d restarts", k), func(l []string) bool { return count(l, "started w") == k+1 })
	c := service(t, sup, "collector")
	testwasm.WaitFor(t, "the collector to see every message", func() bool {
		r, err := c.Call(ctx, isle.Message{Tag: 4})
		return err == nil && binary.LittleEndian.Uint32(r.Data) == m
	})
	// A process publishes its sent count when it next takes a message:
	// wait for the worker's last turn to end.
	var fams map[string]*dto.MetricFamily
	testwasm.WaitFor(t, "the worker's sends to be published", func() bool {
		fams = scrape(t, h)
		v, _ := value(fams, "isle_messages_sent_total", "service=w")
		return v == m
	})
	expect(t, fams, n, "isle_spawns_total")
	expect(t, fams, n, "isle_exits_total", "cause=killed", "kind=killed")
	expect(t, fams, k+1, "isle_spawns_total", "service=w")
	expect(t, fams, 1, "isle_spawns_total", "service=collector")
	expect(t, fams, k, "isle_restarts_total", "service=w")
	expect(t, fams, 0, "isle_restarts_total", "service=collector")
	expect(t, fams, k, "isle_exits_total", "cause=unreachable", "kind=abandoned", "service=w")
	// Each instance takes its init message; together they take every
	// forwarded message and every crash message once.
	expect(t, fams, k+1+m+k, "isle_messages_received_total", "service=w")
	expect(t, fams, 2, "isle_mailbox_depth")
	var live float64
	for _, s := range []string{"running", "runnable", "idle", "waiting"} {
		v, _ := value(fams, "isle_processes", "state="+s)
		live += v
	}
	if live != 2 {
		t.Errorf("isle_processes sums to %v; want 2", live)
	}
	if v, _ := value(fams, "isle_host_messages_sent_total"); v < m+k {
		t.Errorf("isle_host_messages_sent_total = %v; want at least %d", v, m+k)
	}
	if v, _ := value(fams, "isle_fuel_consumed_total", "service=w"); v <= 0 {
		t.Errorf("isle_fuel_consumed_total{service=w} = %v; want > 0", v)
	}
	if v, _ := value(fams, "isle_memory_bytes"); v <= 0 {
		t.Errorf("isle_memory_bytes = %v; want > 0", v)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	for name := range fams {
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pid" {
					t.Errorf("%s has a pid label", name)
				}
			}
		}
	}
}

// With a token, every endpoint refuses a request without it, and takes it
// as a bearer token or a query parameter.
func TestAdminToken(t *testing.T) {
	node := sharedNode(t)
	h := node.AdminHandler("s3cret")
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "", http.StatusUnauthorized},
		{"/", "", http.StatusUnauthorized},
		{"/snapshot", "", http.StatusUnauthorized},
		{"/metrics", "Bearer wrong", http.StatusUnauthorized},
		{"/metrics?token=wrong", "", http.StatusUnauthorized},
		{"/metrics", "Bearer s3cret", http.StatusOK},
		{"/metrics?token=s3cret", "", http.StatusOK},
		{"/?token=s3cret", "", http.StatusOK},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		req.RemoteAddr = "192.0.2.7:4242" // from elsewhere
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("GET %s (Authorization %q): %d; want %d", c.path, c.auth, rec.Code, c.want)
		}
	}
}

// isle_kv_operations_total counts each kind of key-value call a guest
// makes, isle_kv_bytes what the store holds, and isle_kv_commits_total
// its write transactions.
func TestMetricsCountKV(t *testing.T) {
	node := kvNode(t, t.TempDir())
	g := spawnKV(t, node, map[string]isle.Capability{"kv": isle.KVCap("b", api.RightGet|api.RightPut|api.RightRemove|api.RightList)})
	h := g.grant("kv")
	for i := range 3 {
		if r := g.put(h, fmt.Sprint("k", i), "v"); r != 0 {
			t.Fatalf("put: %d", r)
		}
	}
	for range 2 {
		if r, _ := g.get(h, "k1", 16); r != 1 {
			t.Fatalf("get: %d", r)
		}
	}
	if r := g.del(h, "k0"); r != 0 {
		t.Fatalf("delete: %d", r)
	}
	if r, keys := g.list(h, "", "", 256); r != 2 {
		t.Fatalf("list: %d %v", r, keys)
	}
	fams := scrape(t, node.AdminHandler(""))
	for op, want := range map[string]float64{"put": 3, "get": 2, "delete": 1, "list": 1} {
		expect(t, fams, want, "isle_kv_operations_total", "op="+op)
	}
	expect(t, fams, 2*(2+1+64), "isle_kv_bytes") // k1 and k2, each "v"
	expect(t, fams, isle.DefaultKVMaxBytes, "isle_kv_max_bytes")
	expect(t, fams, 4, "isle_kv_commits_total") // three puts and a delete, one at a time
}
