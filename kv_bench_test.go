package isle_test

import (
	"context"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/services/kv/kvbench"
	"github.com/isle-run/isle/internal/testwasm"
)

// BenchmarkKV puts and gets from a C guest (bench/wasm/kv.c, built as
// isle-bench builds its reactors) beside the same store used directly
// from Go, in one run. ns/op is the guest's figure; direct-ns/op is Go's,
// and guest/direct their ratio. Each put waits for an fsync, so put
// figures are the disk's; concurrent puts (8 writers) share fsyncs.
func BenchmarkKV(b *testing.B) {
	wasm := testwasm.Read(b, testwasm.C(b, "bench/wasm/kv.c", "-O2", "-nostdlib", "-Wl,--no-entry",
		"-Wl,-z,stack-size=4096", "-Wl,--initial-memory=65536", "-I"+testwasm.Path("bench/wasm")))
	cache := b.TempDir()
	measure := func(b *testing.B, which kvbench.Figures) kvbench.Result {
		b.Helper()
		r, err := kvbench.Measure(context.Background(), kvbench.Options{
			Wasm: wasm, Dir: b.TempDir(), CacheDir: cache, Which: which, Puts: b.N, Gets: b.N, Writers: 8,
		})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	report := func(b *testing.B, guest, direct time.Duration) {
		b.ReportMetric(float64(guest.Nanoseconds()), "ns/op")
		b.ReportMetric(float64(direct.Nanoseconds()), "direct-ns/op")
		b.ReportMetric(kvbench.Ratio(guest, direct), "guest/direct")
	}
	b.Run("put", func(b *testing.B) {
		r := measure(b, kvbench.Put)
		report(b, r.GuestPut, r.DirectPut)
	})
	b.Run("get", func(b *testing.B) {
		r := measure(b, kvbench.Get)
		report(b, r.GuestGet, r.DirectGet)
	})
	b.Run("put-8-writers", func(b *testing.B) {
		r := measure(b, kvbench.PutConcurrent)
		report(b, r.GuestPutConcurrent, r.DirectPutConcurrent)
	})
}
