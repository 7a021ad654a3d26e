package kernel

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/isle-run/isle/internal/linmem"
)

func withAllocator(ctx context.Context, a *linmem.Allocator) context.Context {
	return experimental.WithMemoryAllocator(ctx, a)
}

// baseConfig is the configuration every process starts from: anonymous,
// with no start functions (isle runs _start itself) and no entropy.
func baseConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(noEntropy{})
}

// moduleConfig turns the process's grants into wazero's configuration.
// Anything not granted is left at a value that reveals nothing. A module
// that imports nothing from WASI cannot observe any of it, so it gets the
// shared base configuration: each With below copies the whole config, and
// that is most of what a small reactor's spawn would otherwise allocate.
func (p *Process) moduleConfig() wazero.ModuleConfig {
	if !p.mod.usesWASI {
		return p.k.baseConfig
	}
	s := p.spec
	cfg := p.k.baseConfig.WithArgs(s.Args...)
	for _, kv := range s.Env {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	if len(s.Mounts) > 0 || p.k.handleFS != nil {
		fsc := wazero.NewFSConfig()
		for _, m := range s.Mounts {
			fsc = fsc.(sysfs.FSConfig).WithSysFSMount(m.FS, m.GuestPath)
		}
		if p.k.handleFS != nil {
			fsc = fsc.(sysfs.FSConfig).WithSysFSMount(p.k.handleFS(p), HandleMount)
		}
		cfg = cfg.WithFSConfig(fsc)
	}
	if s.Stdin != nil {
		cfg = cfg.WithStdin(&killableReader{r: s.Stdin, p: p})
	}
	if s.Stdout != nil {
		cfg = cfg.WithStdout(newOutput(s.Stdout).writer(p))
	}
	var stderr io.Writer
	if s.Stderr != nil {
		stderr = newOutput(s.Stderr).writer(p)
	}
	if p.mod.isGo {
		p.goAbort = &goAbortDetector{}
		stderr = p.goAbort.wrap(stderr)
	}
	if stderr != nil {
		cfg = cfg.WithStderr(stderr)
	}
	if s.Random != nil {
		cfg = cfg.WithRandSource(s.Random)
	}
	if s.RealClock {
		cfg = cfg.WithSysWalltime().WithSysNanotime().WithNanosleep(p.sleep)
	} else {
		vc := &virtualClock{}
		cfg = cfg.WithWalltime(vc.walltime, 1).WithNanotime(vc.nanotime, 1).WithNanosleep(vc.sleep)
	}
	return cfg.WithOsyield(p.osyield)
}

// noEntropy is the random source of a process granted no randomness.
// wazero turns the error into EIO from random_get.
type noEntropy struct{}

// Read implements io.Reader: it always fails.
func (noEntropy) Read([]byte) (int, error) {
	return 0, errors.New("no random capability granted")
}

var _ io.Reader = noEntropy{}

// sleep is a real-clock nanosleep that a kill interrupts. A reactor's
// worker hands off its queue first, as for any blocking wait.
func (p *Process) sleep(ns int64) {
	_ = p.wait(nil, time.Duration(ns))
}

func (p *Process) osyield() {
	p.checkKilled()
}

// killableReader is a command's stdin: a read blocked on the host (a
// terminal, a pipe nobody writes to) must not outlive a kill or a timeout,
// so each read runs on a helper goroutine and the guest stops waiting for
// it when the process is killed. The abandoned read finishes, and its
// bytes are dropped, whenever the host's input next arrives.
type killableReader struct {
	r io.Reader
	p *Process
}

type readResult struct {
	n   int
	err error
}

// Read implements io.Reader.
func (k *killableReader) Read(b []byte) (int, error) {
	buf := make([]byte, len(b)) // the helper must not write into guest memory after a kill
	done := make(chan readResult, 1)
	go func() {
		n, err := k.r.Read(buf)
		done <- readResult{n, err}
	}()
	var res readResult
	k.p.Blocking(func() {
		select {
		case res = <-done:
		case <-k.p.killCh:
			res.err = errKilledRead
		}
	})
	if res.err == errKilledRead {
		k.p.checkKilled()
	}
	copy(b, buf[:res.n])
	return res.n, res.err
}

var errKilledRead = errors.New("read interrupted by kill")
