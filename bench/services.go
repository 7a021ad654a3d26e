package bench

import (
	"os"

	"github.com/isle-run/isle/internal/services/kv/kvbench"
)

// runIngress measures the services a guest reaches through capabilities,
// each beside the same work done directly from Go: the key-value store and
// HTTP ingress.
func runIngress(h *harness, r *Report) error {
	if err := runKV(h, r); err != nil {
		return err
	}
	return runHTTPIngress(h, r)
}

// runKV puts a guest's key-value operations beside the same store called
// from Go.
func runKV(h *harness, r *Report) error {
	path, err := h.build.wasm("kv")
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	o := kvbench.Options{Wasm: wasm, Which: kvbench.Put | kvbench.Get}
	if h.opts.Quick {
		o.Puts, o.Gets = 5, 500
	}
	runs, err := h.repeat(func() ([]float64, error) {
		dir, err := os.MkdirTemp("", "isle-bench-kv-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
		res, err := kvbench.Measure(h.ctx, o)
		return []float64{
			res.GuestPut.Seconds() * 1e6, res.DirectPut.Seconds() * 1e6,
			res.GuestGet.Seconds() * 1e6, res.DirectGet.Seconds() * 1e6,
		}, err
	})
	if err != nil {
		return err
	}
	note := "the same bbolt store; guest: a C reactor making the calls through the isle ABI"
	r.Rows = append(r.Rows,
		Row{Workload: "key-value put (fsynced)", Unit: "µs", Kind: Time,
			Isle: Figure{Name: "isle: guest kv_put", Runs: runs[0]},
			Peer: Figure{Name: "Go: the store called directly", Runs: runs[1]}, Note: note},
		Row{Workload: "key-value get", Unit: "µs", Kind: Time,
			Isle: Figure{Name: "isle: guest kv_get", Runs: runs[2]},
			Peer: Figure{Name: "Go: the store called directly", Runs: runs[3]}, Note: note},
	)
	return nil
}
