// Package kvbench measures the key-value capability from a guest beside
// the same store used directly from Go, in one run: what a guest pays for
// isolation on top of the storage itself. BenchmarkKV (the root package)
// and `isle bench` both call Measure.
package kvbench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/services/kv"
)

// Options says what to measure.
type Options struct {
	// Wasm is bench/wasm/kv.c, built as the benchmark reactors are
	// (bench.ReactorFlags).
	Wasm []byte
	// Dir is where the two stores go, one file each: on the disk to be
	// measured, since every put waits for an fsync.
	Dir string
	// CacheDir is the node's compilation cache; empty compiles in memory.
	CacheDir string
	// Which figures to measure; zero means all.
	Which Figures
	// Puts is how many puts make each put figure (default 500).
	Puts int
	// Gets is how many gets make each get figure (default 50,000). They
	// read a set of getKeys keys written beforehand, round and round.
	Gets int
	// Value is the size of each value in bytes (default 128, at most 4096).
	Value int
	// Writers is how many guests, and how many goroutines, put at once
	// for the concurrent figures (default 8).
	Writers int
}

// Figures selects what Measure measures.
type Figures uint8

const (
	Put           Figures = 1 << iota // one writer
	Get                               // one reader
	PutConcurrent                     // Options.Writers writers at once
)

// Result holds the time per operation of each way.
type Result struct {
	GuestPut, DirectPut time.Duration // one writer: each put waits for its own fsync
	GuestGet, DirectGet time.Duration
	// Concurrent puts, Writers at once: group commit shares fsyncs. The
	// time is wall time divided by the total number of puts.
	GuestPutConcurrent, DirectPutConcurrent time.Duration
	Writers                                 int
}

// Ratio is guest time over direct time: 1.0 means isolation costs
// nothing measurable.
func Ratio(guest, direct time.Duration) float64 {
	if direct <= 0 {
		return 0
	}
	return float64(guest) / float64(direct)
}

// batch is how many operations the guest makes per call, so that a
// figure is dominated by kv calls rather than by messages.
const batch = 500

// Operations of bench/wasm/kv.c.
const (
	opGrant = 1
	opPut   = 2
	opGet   = 3
)

// getKeys is how many keys the gets read, and getBase the first; put
// figures use keys from 0 up, so the two never meet.
const (
	getKeys = 512
	getBase = 1 << 28
)

// Measure runs each figure once, guest and direct side by side, on fresh
// stores.
func Measure(ctx context.Context, o Options) (Result, error) {
	if o.Which == 0 {
		o.Which = Put | Get | PutConcurrent
	}
	if o.Puts <= 0 {
		o.Puts = 500
	}
	if o.Gets <= 0 {
		o.Gets = 50_000
	}
	if o.Value <= 0 {
		o.Value = 128
	}
	if o.Value > 4096 {
		return Result{}, errors.New("kvbench: values of at most 4096 bytes")
	}
	if o.Writers <= 0 {
		o.Writers = 8
	}
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: o.CacheDir, DataDir: filepath.Join(o.Dir, "guest")})
	if err != nil {
		return Result{}, err
	}
	defer node.Close(ctx)
	mod, err := node.LoadModule(ctx, "kv", o.Wasm)
	if err != nil {
		return Result{}, err
	}
	store, err := kv.Open(filepath.Join(o.Dir, "direct", "kv.db"), 0)
	if err != nil {
		return Result{}, err
	}
	defer store.Close()
	bucket, err := store.Bucket("bench")
	if err != nil {
		return Result{}, err
	}
	guests := make([]guest, o.Writers)
	for i := range guests {
		if guests[i], err = spawn(ctx, node, mod); err != nil {
			return Result{}, err
		}
	}
	value := make([]byte, o.Value)
	gp := func(w, first, n int) error { return guests[w].run(ctx, opPut, first, n, o.Value) }
	dp := func(_, first, n int) error { return directPuts(bucket, value, first, n) }
	var r Result
	next := 0 // the next unused key for puts
	// Each figure alternates guest and direct in rounds, so that a
	// change in the machine's load or the disk's mood during the run
	// falls on both.
	if o.Which&Put != 0 {
		r.GuestPut, r.DirectPut, err = alternate(o.Puts, func(guest bool, n int) (time.Duration, error) {
			first := next
			next += n
			if guest {
				return timeOps(n, first, func(f, k int) error { return gp(0, f, k) })
			}
			return timeOps(n, first, func(f, k int) error { return dp(0, f, k) })
		})
		if err != nil {
			return r, err
		}
	}
	if o.Which&PutConcurrent != 0 {
		r.Writers = o.Writers
		r.GuestPutConcurrent, r.DirectPutConcurrent, err = alternate(o.Puts, func(guest bool, n int) (time.Duration, error) {
			first := next
			next += n
			if guest {
				return concurrent(o.Writers, n, first, gp)
			}
			return concurrent(o.Writers, n, first, dp)
		})
		if err != nil {
			return r, err
		}
	}
	if o.Which&Get != 0 {
		// Write the keys to read, untimed, with every writer at once.
		if _, err := concurrent(o.Writers, getKeys, getBase, gp); err != nil {
			return r, err
		}
		if _, err := concurrent(o.Writers, getKeys, getBase, dp); err != nil {
			return r, err
		}
		r.GuestGet, r.DirectGet, err = alternate(o.Gets, func(guest bool, n int) (time.Duration, error) {
			if guest {
				return timeGets(n, func(first, k int) error { return guests[0].run(ctx, opGet, first, k, 0) })
			}
			return timeGets(n, func(first, k int) error { return directGets(bucket, first, k) })
		})
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// key is the key kv.c uses for i, made as cheaply as kv.c makes it.
func key(dst []byte, i int) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst[:0], 'k', 'v')
	for d := 28; d >= 0; d -= 4 {
		dst = append(dst, hex[uint32(i)>>d&15])
	}
	return dst
}

func directPuts(b *kv.Bucket, value []byte, first, n int) error {
	var k [10]byte
	for i := first; i < first+n; i++ {
		// The guest's values depend on the first key of the batch; the
		// bytes do not matter to the store, only their number.
		if err := b.Put(key(k[:], i), value, 0); err != nil {
			return err
		}
	}
	return nil
}

func directGets(b *kv.Bucket, first, n int) error {
	var k [10]byte
	buf := make([]byte, 4096) // as the guest: a copy into the caller's buffer
	for i := first; i < first+n; i++ {
		if err := b.View(key(k[:], i), func(v []byte) { copy(buf, v) }); err != nil {
			return err
		}
	}
	return nil
}

// rounds is how many times a figure alternates between guest and direct.
const rounds = 4

// alternate runs ops operations each way, in rounds, guest first then
// direct, and returns the time per operation of each. run returns the time
// per operation of n operations.
func alternate(ops int, run func(guest bool, n int) (time.Duration, error)) (guest, direct time.Duration, err error) {
	var total [2]time.Duration
	for i := range rounds {
		n := ops/rounds + boolInt(i < ops%rounds)
		if n == 0 {
			continue
		}
		for side := range 2 {
			d, err := run(side == 0, n)
			if err != nil {
				return 0, 0, err
			}
			total[side] += d * time.Duration(n)
		}
	}
	return total[0] / time.Duration(ops), total[1] / time.Duration(ops), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// timeOps makes ops operations on keys from first up, in batches of at
// most batch, and returns the time per operation.
func timeOps(ops, first int, f func(first, n int) error) (time.Duration, error) {
	start := time.Now()
	for done := 0; done < ops; done += batch {
		if err := f(first+done, min(batch, ops-done)); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(ops), nil
}

// timeGets makes ops gets round the getKeys keys and returns the time per
// get.
func timeGets(ops int, f func(first, n int) error) (time.Duration, error) {
	start := time.Now()
	for done := 0; done < ops; {
		at := done % getKeys
		n := min(batch, getKeys-at, ops-done)
		if err := f(getBase+at, n); err != nil {
			return 0, err
		}
		done += n
	}
	return time.Since(start) / time.Duration(ops), nil
}

// concurrent has writers put at once, together ops keys from first up
// (each a contiguous share), and returns the wall time per put.
func concurrent(writers, ops, first int, put func(w, first, n int) error) (time.Duration, error) {
	errs := make([]error, writers)
	per := (ops + writers - 1) / writers
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		lo, hi := min(w*per, ops), min((w+1)*per, ops)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if lo < hi {
				_, errs[w] = timeOps(hi-lo, first+lo, func(f, n int) error { return put(w, f, n) })
			}
		}()
	}
	wg.Wait()
	return time.Since(start) / time.Duration(ops), errors.Join(errs...)
}

// guest is one benchmark reactor and its bucket handle.
type guest struct {
	p *isle.Process
	h uint32
}

func spawn(ctx context.Context, node *isle.Node, mod *isle.Module) (guest, error) {
	all := api.RightGet | api.RightPut | api.RightRemove | api.RightList
	p, err := node.Spawn(ctx, mod, isle.Grants{Caps: map[string]isle.Capability{"kv": isle.KVCap("bench", all)}}, isle.Limits{})
	if err != nil {
		return guest{}, err
	}
	m, err := p.Call(ctx, isle.Message{Tag: opGrant, Data: []byte("kv")})
	if err != nil {
		return guest{}, err
	}
	h := int32(binary.LittleEndian.Uint32(m.Data))
	if h <= 0 {
		return guest{}, fmt.Errorf("kvbench: grant: %d", h)
	}
	return guest{p, uint32(h)}, nil
}

// run has the guest make n calls of op over keys first, first+1, ...
func (g guest) run(ctx context.Context, op, first, n, vlen int) error {
	var req []byte
	for _, v := range []int{int(g.h), n, vlen, first} {
		req = binary.LittleEndian.AppendUint32(req, uint32(v))
	}
	m, err := g.p.Call(ctx, isle.Message{Tag: uint32(op), Data: req})
	if err != nil {
		return err
	}
	if fails := binary.LittleEndian.Uint32(m.Data); fails != 0 {
		return fmt.Errorf("kvbench: %d of %d guest operations failed", fails, n)
	}
	return nil
}
