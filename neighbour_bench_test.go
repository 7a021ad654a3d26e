package isle_test

import (
	"slices"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// BenchmarkNeighbourBesideSpinners times a Go host's calls to a small
// reactor while four guests spin on the node's two cores: guests that
// loop without a call, and guests that loop on the cheapest host call.
// The anchor is the same calls with no other guest. A fuel slice must end
// about as soon in wall time whichever way a guest spends it, or the
// neighbour waits longer beside the loop of calls. It reports the calls
// made, and their p99 and worst latency.
func BenchmarkNeighbourBesideSpinners(b *testing.B) {
	for _, c := range []struct{ name, spinner string }{
		{"anchor=alone", ""},
		{"beside=spin", "testdata/wat/spin.wat"},
		{"beside=selfspin", "testdata/wat/selfspin.wat"},
	} {
		b.Run(c.name, func(b *testing.B) {
			node, err := isle.NewNode(b.Context(), isle.Config{CacheDir: testwasm.NodeCache(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer node.Close(b.Context())
			ctx := testwasm.Context(b)
			echo, err := node.LoadModuleFile(ctx, reactor(b, "testdata/c/echo.c"))
			if err != nil {
				b.Fatal(err)
			}
			e, err := node.Spawn(ctx, echo, isle.Grants{}, isle.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			if c.spinner != "" {
				sm, err := node.LoadModuleFile(ctx, testwasm.WAT(b, c.spinner))
				if err != nil {
					b.Fatal(err)
				}
				for range 4 {
					s, err := node.Spawn(ctx, sm, isle.Grants{}, isle.Limits{})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Kill()
				}
			}
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := e.Call(ctx, isle.Message{Tag: 2}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds())/1e6, "worst-ms")
		})
	}
}
