package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// Bad input must give one clear line and the usage status, never a Go
// panic.
func TestBadInputGetsOneClearLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("just some text\n"), 0o644)
	broken := filepath.Join(dir, "broken.wasm")
	os.WriteFile(broken, []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00"), 0o644)
	noop := testwasm.WAT(t, "testdata/wat/noop.wat")
	missing := testwasm.WAT(t, "testdata/wat/missing.wat")
	bigmem := testwasm.WAT(t, "testdata/wat/bigmem.wat")

	cases := []struct {
		name string
		args []string
		want []string // substrings of the one stderr line
	}{
		{"no module", []string{"run"}, []string{"no module given"}},
		{"missing file", []string{"run", filepath.Join(dir, "nope.wasm")}, []string{"nope.wasm: no such file or directory"}},
		{"not wasm", []string{"run", text}, []string{"notes.txt", "not a WebAssembly module"}},
		{"invalid module", []string{"run", broken}, []string{"broken.wasm", "invalid module"}},
		{"missing imports", []string{"run", missing}, []string{"imports what isle does not provide", "env.host_magic", "wasi_snapshot_preview1.no_such_call"}},
		{"unknown flag", []string{"run", "--frobnicate", noop}, []string{"unknown flag --frobnicate"}},
		{"bad size", []string{"run", "--memory", "64XB", noop}, []string{`"64XB" is not a size`, "64MiB"}},
		{"zero size", []string{"run", "--memory", "0", noop}, []string{`"0" is not a size`}},
		{"bad duration", []string{"run", "--timeout", "soon", noop}, []string{`"soon" is not a positive duration`}},
		{"missing dir", []string{"run", "--dir", filepath.Join(dir, "absent"), noop}, []string{"absent does not exist"}},
		{"file as dir", []string{"run", "--ro-dir", text + "::/x", noop}, []string{"is not a directory"}},
		{"bad env", []string{"run", "--env", "NOEQUALS", noop}, []string{`"NOEQUALS" is not NAME=VALUE`}},
		{"memory below module minimum", []string{"run", "--memory", "64MiB", bigmem}, []string{"bytes of memory at start (268435456 of linear memory", "over its limit of 67108864"}},
		{"not a main package", []string{"run", testwasm.Path("internal/fault")}, []string{"not a main package"}},
		{"unknown command", []string{"launch", noop}, []string{`unknown command "launch"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runIsle(t, c.args...)
			r.want(t, statusUsage)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "isle: ") {
				t.Fatalf("want one line starting with \"isle: \", got:\n%s", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("stderr %q does not contain %q", lines[0], w)
				}
			}
		})
	}
}
