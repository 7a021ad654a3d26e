//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/isle-run/isle/internal/testwasm"
)

// The compile progress line shows on a terminal only. The binary under
// test here shows it at once rather than after a second, so that the test
// does not depend on how long compiling takes.
func TestCompileProgressOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "isle")
	build := exec.CommandContext(testwasm.Context(t), "go", "build", "-o", bin,
		"-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version=dev -X=main.progressAfter=0s", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build isle: %v\n%s", err, out)
	}
	noop := testwasm.WAT(t, "testdata/wat/noop.wat")
	broken := filepath.Join(t.TempDir(), "broken.wasm")
	os.WriteFile(broken, []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00"), 0o644)

	name := filepath.Base(noop)
	stderr := onTerminal(t, bin, "run", noop)
	if !strings.Contains(stderr, "\risle: compiling "+name+" … ") || !strings.Contains(stderr, "\risle: compiled "+name+" in ") {
		t.Errorf("no progress on a terminal:\n%q", stderr)
	}
	stderr = onTerminal(t, bin, "run", broken)
	if !strings.Contains(stderr, "\risle: failed to compile broken.wasm in ") || !strings.Contains(stderr, "invalid module") {
		t.Errorf("a failed compile on a terminal:\n%q", stderr)
	}

	cmd := exec.CommandContext(testwasm.Context(t), bin, "run", noop)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("isle run noop.wasm with stderr on a pipe: %v, output %q; want success and no output", err, out.String())
	}
}

// onTerminal runs bin with its stderr on a pseudo-terminal and returns
// what it wrote there.
func onTerminal(t *testing.T, bin string, args ...string) string {
	t.Helper()
	master, slave := openPTY(t)
	defer master.Close()
	ctx := testwasm.Context(t)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t))
	cmd.Stderr = slave
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once no one holds the slave
		read <- b
	}()
	err := cmd.Run()
	slave.Close()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run isle: %v", err)
	}
	select {
	case b := <-read:
		return string(b)
	case <-ctx.Done():
		t.Fatalf("the terminal isle wrote to did not close before the test's deadline")
		return ""
	}
}

// openPTY opens a pseudo-terminal pair with the syscalls of Linux.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	var n uint32
	if err := ioctlPtr(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	if err := ioctlPtr(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("number the pseudo-terminal: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pseudo-terminal: %v", err)
	}
	return master, slave
}

func ioctlPtr(f *os.File, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
