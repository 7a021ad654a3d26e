// Package fuelbench measures what isle's fuel metering costs and what it
// buys.
//
// isle rewrites every module it runs with internal/fuel: a counter in a
// wasm global is charged at every function entry and loop header, and the
// guest calls the imported isle:fuel.yield when the counter runs out. The
// host refills it there and lets the Go scheduler run. That costs some
// speed (Overhead) and buys a node that stays responsive, and a garbage
// collector that can stop the world, while guests spin in loops without
// calls (Liveness).
//
// # Overhead
//
// Overhead runs compute kernels, WASI commands under testdata/kernels,
// three ways with bare wazero (the compiler engine, one RuntimeConfig,
// WASI from wazero's wasi_snapshot_preview1, real clocks, output captured):
//
//   - Base: the module as built, uninstrumented. Nothing can preempt it.
//   - Fuel: the module as internal/fuel rewrites it, with a host yield that
//     refills the counter to isle's slice (100,000) and calls
//     runtime.Gosched, as isle's kernel does.
//   - CloseOnDone: the module as built, under a runtime with
//     WithCloseOnContextDone(true) and a context that is cancellable but
//     never cancelled: wazero's own answer to runaway guests, which leaves
//     compiled code for Go at every loop header.
//
// With Options.Diagnose, two more ways show where Fuel's cost goes: the
// rewritten module with a counter so full that it never yields (the
// checks alone), and with a yield that refills without runtime.Gosched.
//
// Only the _start call is timed: compilation, rewriting and instantiation
// are not. Each kernel runs its warm-up runs and then its counted runs,
// the three ways taking turns in a rotating order so that drift in the
// machine's speed falls on all of them alike, and the median is reported.
// Every run must print the same line, a checksum of what the kernel
// computed, so a rewrite that changed a program's behaviour fails the
// benchmark instead of speeding it up.
//
// The kernels are built at run time, Go ones with GOOS=wasip1 and C ones
// with clang --target=wasm32-wasi -O2, into a cache directory keyed by
// their content; wazero's compilation cache lives there too.
//
// # Liveness
//
// Liveness starts 2×GOMAXPROCS guests whose _start is an endless loop with
// no calls (testdata/kernels/spin.wat), each on its own goroutine, so that
// every P is always wanted by a guest. While they spin, it measures how
// late a 1 ms time.Ticker delivers its ticks and how long a forced
// runtime.GC() takes, and compares both with the same measurement when
// no guest runs and when as many goroutines spin in Go code instead (the
// liveness Go itself gives a program under that load, by preempting
// goroutines asynchronously). The guests are stopped at the end: their
// yield panics with a sentinel once a stop flag is set.
//
// The same guests uninstrumented cannot be preempted by Go at all, so a
// program that runs them freezes: no P is left for the ticker, and the
// first stop-the-world waits forever. That run is made in a child process
// (the running executable again, told so by an environment variable and
// caught by this package's init) with a hard timeout, and is reported as
// frozen when the timeout kills it.
package fuelbench
