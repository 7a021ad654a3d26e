package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// isle --version and isle version print what `go version -m` reads from
// the binary: the module's version, the VCS revision when it has one, the
// Go version and the wazero version.
func TestVersion(t *testing.T) {
	t.Parallel()
	out, err := exec.CommandContext(testwasm.Context(t), "go", "version", "-m", isleBin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	m := regexp.MustCompile(`(?m)^\S+: (go\S+)\n\tpath\t.*\n\tmod\t\S+\t(\S+)`).FindStringSubmatch(string(out))
	w := regexp.MustCompile(`(?m)^\tdep\tgithub.com/tetratelabs/wazero\t(\S+)`).FindStringSubmatch(string(out))
	if m == nil || w == nil {
		t.Fatalf("cannot read go version -m:\n%s", out)
	}
	want := []string{"isle " + m[2], m[1] + " ", "wazero " + w[1]}
	if rev := regexp.MustCompile(`(?m)^\tbuild\tvcs.revision=(\S+)`).FindStringSubmatch(string(out)); rev != nil {
		want = append(want, "revision "+rev[1])
	}
	a := runIsle(t, "--version")
	a.want(t, 0)
	for _, w := range want {
		if !strings.Contains(a.stdout, w) {
			t.Errorf("isle --version lacks %q:\n%s", w, a.stdout)
		}
	}
	if b := runIsle(t, "version"); b.stdout != a.stdout || b.status != 0 {
		t.Errorf("isle version (status %d) differs from isle --version:\n%s", b.status, b.stdout)
	}
}

func TestVCSNote(t *testing.T) {
	info := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "abc123"},
		{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	if got, want := vcsNote(info), " (revision abc123, 2026-01-02T03:04:05Z, modified)"; got != want {
		t.Errorf("vcsNote = %q, want %q", got, want)
	}
	info.Settings[3].Value = "false"
	if got := vcsNote(info); strings.Contains(got, "modified") {
		t.Errorf("a clean build is noted %q", got)
	}
	if got := vcsNote(&debug.BuildInfo{}); got != "" {
		t.Errorf("no VCS stamp, yet vcsNote = %q", got)
	}
}

// Every way of asking for a command's help prints the same text on stdout
// and exits 0, with the command's flags.
func TestHelpForEachCommand(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			want := runIsle(t, "help", c.name)
			want.want(t, 0)
			if !strings.HasPrefix(want.stdout, "usage: isle "+c.name) || want.stderr != "" {
				t.Fatalf("isle help %s:\nstdout:\n%s\nstderr:\n%s", c.name, want.stdout, want.stderr)
			}
			if c.flags != nil {
				c.flags().VisitAll(func(f *flag.Flag) {
					if !strings.Contains(want.stdout, "  -"+f.Name) {
						t.Errorf("isle help %s does not list -%s:\n%s", c.name, f.Name, want.stdout)
					}
				})
			}
			for _, h := range []string{"--help", "-h", "-help"} {
				r := runIsle(t, c.name, h)
				r.want(t, 0)
				if r.stdout != want.stdout || r.stderr != "" {
					t.Errorf("isle %s %s differs from isle help %s:\n%s\nstderr:\n%s", c.name, h, c.name, r.stdout, r.stderr)
				}
			}
		})
	}
	// After isle's own flags too; but not after the module, where it is
	// the guest's.
	r := runIsle(t, "run", "--memory", "64MiB", "--help")
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, "usage: isle run") {
		t.Errorf("isle run --memory 64MiB --help:\n%s", r.stdout)
	}
	r = runIsle(t, "run", testwasm.GoDir(t, "testdata/go/exitcode"), "--", "--help")
	if strings.Contains(r.stdout, "usage: isle") {
		t.Errorf("isle printed its help for the guest's --help:\n%s", r.stdout)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runIsle(t, args...)
		r.want(t, 0)
		for _, c := range commands {
			if !strings.Contains(r.stdout, "\n  "+c.name+" ") || !strings.Contains(r.stdout, "isle "+c.name) {
				t.Errorf("isle %s does not list %s:\n%s", args[0], c.name, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, "Exit status:") {
			t.Errorf("isle %s does not explain the exit statuses", args[0])
		}
	}
}

// Mistyped commands and flags get one line with the nearest right one.
func TestSuggestions(t *testing.T) {
	t.Parallel()
	noop := testwasm.WAT(t, "testdata/wat/noop.wat")
	dir := t.TempDir()
	cases := []struct {
		args   []string
		status int
		line   string
	}{
		{[]string{"run", "--memroy", "64MiB", noop}, statusUsage, "isle: unknown flag --memroy; did you mean --memory?"},
		{[]string{"run", "-fule", "9", noop}, statusUsage, "isle: unknown flag -fule; did you mean --fuel?"},
		{[]string{"run", "--determ", noop}, statusUsage, "isle: unknown flag --determ; did you mean --deterministic?"},
		{[]string{"run", "--frobnicate", noop}, statusUsage, "isle: unknown flag --frobnicate; run 'isle help run' for the flags"},
		{[]string{"up", "--cache-dri", dir, "app.toml"}, statusUsage, "isle: unknown flag --cache-dri; did you mean --cache-dir?"},
		{[]string{"rnu", noop}, statusUsage, `isle: unknown command "rnu"; did you mean run?`},
		{[]string{"cpas", noop}, statusUsage, `isle: unknown command "cpas"; did you mean caps?`},
		{[]string{"launch", noop}, statusUsage, `isle: unknown command "launch"; run 'isle help' for the commands`},
		{[]string{"help", "nope"}, statusHelpUsage, `isle: no command "nope" to help with; run 'isle help' for the commands`},
		{[]string{"help", "verison"}, statusHelpUsage, `isle: no command "verison" to help with; did you mean version?`},
		{[]string{"completion", "tcsh"}, statusUsage, "isle: usage: isle completion bash|zsh|fish"},
	}
	for _, c := range cases {
		r := runIsle(t, c.args...)
		r.want(t, c.status)
		if r.stderr != c.line+"\n" || r.stdout != "" {
			t.Errorf("isle %q:\nstderr %q\nwant   %q\nstdout %q", c.args, r.stderr, c.line+"\n", r.stdout)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"run", "run", 0}, {"", "abc", 3}, {"abc", "", 3},
		{"memroy", "memory", 1}, // a swap
		{"fule", "fuel", 1}, {"rnu", "run", 1}, {"cpas", "caps", 1},
		{"mem", "memory", 3}, {"kitten", "sitting", 3}, {"ca", "abc", 3},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// --dir HOST:GUEST, the separator of docker, gets a hint that isle's is ::.
func TestDirSeparatorHint(t *testing.T) {
	t.Parallel()
	noop := testwasm.WAT(t, "testdata/wat/noop.wat")
	host := t.TempDir()
	for _, name := range []string{"--dir", "--ro-dir"} {
		r := runIsle(t, "run", name, host+":/data", noop)
		r.want(t, statusUsage)
		if want := "HOST and GUEST are separated by ::, as in " + host + "::/data\n"; !strings.HasSuffix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("isle run %s HOST:/data:\n%s", name, r.stderr)
		}
	}
	r := runIsle(t, "run", "--dir", filepath.Join(host, "absent"), noop)
	r.want(t, statusUsage)
	if strings.Contains(r.stderr, "separated") {
		t.Errorf("a hint about :: for a path with no colon:\n%s", r.stderr)
	}
	if err := os.Mkdir(filepath.Join(host, "a:b"), 0o755); err != nil {
		t.Fatal(err)
	}
	runIsle(t, "run", "--dir", filepath.Join(host, "a:b"), noop).want(t, 0) // a colon in a real name
}

// A guest's log record cannot drive the terminal or forge a line of
// isle's: control characters and invalid UTF-8 are escaped.
func TestPrintableEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcode":          "plain text, ünïcode",
		"\x1b]0;owned\x07red \x1b[31m": `\x1b]0;owned\ared \x1b[31m`,
		"one\nisle: forged line":       `one\nisle: forged line`,
		"bad \xff byte":                `bad \xff byte`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q; want %q", in, got, want)
		}
	}
}
