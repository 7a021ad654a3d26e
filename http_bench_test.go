package isle_test

import (
	"context"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/bench"
	"github.com/isle-run/isle/internal/testwasm"
)

// BenchmarkHTTPIngress measures HTTP ingress to a C reactor deployed as a
// function (isle.HTTPHandler in front of bench/wasm/http.c) against a
// plain net/http handler doing the same work, each behind its own
// loopback server and driven by the same load generator: 16 keep-alive
// clients, b.N requests per side. It reports both rates and their ratio;
// ns/op is the whole two-sided run divided by b.N. `go run ./bench/cmd/isle-bench --only
// ingress` measures the same through bench.HTTPIngress.
func BenchmarkHTTPIngress(b *testing.B) {
	flags := append([]string{"-I" + testwasm.Path("sdk/c")}, bench.ReactorFlags...)
	node, err := isle.NewNode(context.Background(), isle.Config{CacheDir: testwasm.NodeCache(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close(context.Background())
	mod, err := node.LoadModuleFile(context.Background(), testwasm.C(b, "bench/wasm/http.c", flags...))
	if err != nil {
		b.Fatal(err)
	}
	p, err := node.Spawn(context.Background(), mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	b.ResetTimer()
	res, err := bench.HTTPIngress(context.Background(), p, bench.HTTPIngressOptions{Clients: 16, Requests: max(b.N, 16)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.Isle, "isle-req/s")
	b.ReportMetric(res.Go, "nethttp-req/s")
	b.ReportMetric(res.Ratio(), "isle/nethttp")
}
