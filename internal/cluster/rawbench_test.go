package cluster

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkRawRequestReply reports raw NATS request/reply latency
// through one embedded server (in-process) and across a route:
// go test -run '^$' -bench RawRequestReply ./internal/cluster
func BenchmarkRawRequestReply(b *testing.B) {
	cert, key, err := NewCA()
	if err != nil {
		b.Fatal(err)
	}
	ca := testCA{cert, key}
	nodes := benchNodes(b, ca)
	for _, c := range []struct {
		name string
		to   *Node
	}{{"in-process", nodes[0]}, {"route", nodes[1]}} {
		b.Run(c.name, func(b *testing.B) {
			ds, err := RawRoundTrip(context.Background(), b.N, nodes[0], c.to)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(Percentile(ds, 50).Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(Percentile(ds, 99).Nanoseconds()), "p99-ns")
		})
	}
}

// benchNodes starts a and b joined by a route, quietly.
func benchNodes(b *testing.B, ca testCA) []*Node {
	var nodes []*Node
	for _, name := range []string{"a", "b"} {
		cert, key, err := Issue(ca.cert, ca.key, name)
		if err != nil {
			b.Fatal(err)
		}
		cfg := Config{Cluster: "bench", Name: name, Listen: "127.0.0.1:0",
			Creds:  &Credentials{CA: ca.cert, Cert: cert, Key: key},
			Logger: slog.New(slog.DiscardHandler)}
		if len(nodes) > 0 {
			cfg.Join = []string{nodes[0].RouteAddr()}
		}
		n, err := Start(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close(context.Background()) })
		nodes = append(nodes, n)
	}
	return nodes
}

func TestRawRoundTrip(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	b := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	for _, c := range []struct {
		name string
		to   *Node
	}{{"in-process", a}, {"route", b}} {
		ds, err := RawRoundTrip(waitCtx(t), 200, a, c.to)
		must(t, err, "%s", c.name)
		if len(ds) != 200 || Percentile(ds, 50) <= 0 || Percentile(ds, 50) > Percentile(ds, 100) {
			t.Fatalf("%s: %d durations, p50 %v, max %v", c.name, len(ds), Percentile(ds, 50), Percentile(ds, 100))
		}
		t.Logf("%s: p50 %v p99 %v", c.name, Percentile(ds, 50), Percentile(ds, 99))
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	for p, want := range map[float64]time.Duration{50: 3, 100: 5, 1: 1, 80: 4} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("Percentile(%v) = %v, want %v", p, got, want)
		}
	}
	if ds[0] != 5 || Percentile(nil, 50) != 0 {
		t.Fatal("Percentile sorted its input or failed on none")
	}
}
