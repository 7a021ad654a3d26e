package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// completionScript writes `isle completion SHELL` to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	r := runIsle(t, "completion", shell)
	r.want(t, 0)
	path := filepath.Join(t.TempDir(), "isle."+shell)
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Each script is valid in its shell, as far as the shell's own check goes.
func TestCompletionScriptsParse(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			bin, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("%s is not installed", shell)
			}
			out, err := exec.CommandContext(testwasm.Context(t), bin, "-n", completionScript(t, shell)).CombinedOutput()
			if err != nil {
				t.Fatalf("%s -n: %v\n%s", shell, err, out)
			}
		})
	}
}

// completionCase is a command line and what must, and must not, complete
// its last word.
type completionCase struct {
	words     []string // after "isle"; the last is the word being completed
	want, not []string
}

// completionCases run in a directory holding a directory "sub" and a file
// "subfile.wasm".
var completionCases = []completionCase{
	{words: []string{""}, want: []string{"run", "up", "caps", "help", "version", "completion"}},
	{words: []string{"ru"}, want: []string{"run"}, not: []string{"up"}},
	{words: []string{"run", "--mem"}, want: []string{"--memory"}, not: []string{"--dir"}},
	{words: []string{"run", "--d"}, want: []string{"--dir", "--deterministic", "--data-dir"}},
	{words: []string{"up", "--c"}, want: []string{"--cache-dir"}, not: []string{"--memory"}},
	{words: []string{"run", "--dir", "su"}, want: []string{"sub"}, not: []string{"subfile.wasm"}},
	{words: []string{"run", "--memory", "su"}, not: []string{"sub", "subfile.wasm"}},
	{words: []string{"run", "su"}, want: []string{"sub", "subfile.wasm"}},
	{words: []string{"caps", "subf"}, want: []string{"subfile.wasm"}},
	{words: []string{"run", "subfile.wasm", "--", "su"}, want: []string{"sub", "subfile.wasm"}},
	{words: []string{"help", "ca"}, want: []string{"caps"}, not: []string{"subfile.wasm"}},
	{words: []string{"completion", ""}, want: []string{"bash", "zsh", "fish"}, not: []string{"sub"}},
}

func completionDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "subfile.wasm"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func checkCompletion(t *testing.T, c completionCase, got []string) {
	t.Helper()
	for _, w := range c.want {
		if !slices.Contains(got, w) {
			t.Errorf("isle %s<TAB>: %q lacks %q", strings.Join(c.words, " "), got, w)
		}
	}
	for _, w := range c.not {
		if slices.Contains(got, w) {
			t.Errorf("isle %s<TAB>: %q has %q", strings.Join(c.words, " "), got, w)
		}
	}
}

// The bash script completes as bash would: its function is run with
// COMP_WORDS and COMP_CWORD set, and COMPREPLY is checked.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	script := completionScript(t, "bash")
	dir := completionDir(t)
	for _, c := range completionCases {
		words := append([]string{"isle"}, c.words...)
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := `source "$1"
complete -p isle >/dev/null || exit 3
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_isle
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.CommandContext(testwasm.Context(t), "bash", "-c", prog, "bash", script)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("bash completion of %q: %v\n%s", words, err, stderr.String())
		}
		checkCompletion(t, c, strings.Fields(string(out)))
	}
}

// The fish script completes as fish does, through complete -C.
func TestFishCompletion(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish is not installed")
	}
	script := completionScript(t, "fish")
	dir := completionDir(t)
	for _, c := range completionCases {
		line := "isle " + strings.Join(c.words, " ")
		cmd := exec.CommandContext(testwasm.Context(t), "fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", script, line)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("fish completion of %q: %v\n%s", line, err, stderr.String())
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			word, _, _ := strings.Cut(l, "\t") // then the description
			got = append(got, strings.TrimSuffix(word, "/"))
		}
		checkCompletion(t, c, got)
	}
}
