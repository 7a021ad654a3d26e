package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// erlangRunner runs the escripts under bench/erlang.
type erlangRunner struct {
	escript string // path, or "" when Erlang cannot run
	skip    string // why not
	version string
}

// findErlang locates escript. A run never installs anything: without
// Erlang, its figures are skipped with the reason.
func (h *harness) findErlang() erlangRunner {
	path, err := exec.LookPath("escript")
	if err != nil {
		return erlangRunner{skip: "escript not found: install Debian's erlang-base (apt-get install -y erlang-base)"}
	}
	return h.probeErlang(path)
}

func (h *harness) probeErlang(path string) erlangRunner {
	r := erlangRunner{escript: path}
	out, err := exec.CommandContext(h.ctx, "erl", "-noshell", "-eval",
		`io:format("OTP-~s erts-~s", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().`).Output()
	if err != nil {
		return erlangRunner{skip: fmt.Sprintf("escript found but erl does not start: %v", err)}
	}
	r.version = strings.TrimSpace(string(out))
	return r
}

// run runs one escript and returns its figures: each "metric value" line
// it prints, gathered by metric in the order printed.
func (r erlangRunner) run(h *harness, script string, args ...string) (map[string][]float64, error) {
	return r.runFor(h, 5*time.Minute, script, args...)
}

// runFor is run with a time limit other than the usual 5 minutes.
func (r erlangRunner) runFor(h *harness, limit time.Duration, script string, args ...string) (map[string][]float64, error) {
	return r.runEnv(h, limit, nil, script, args...)
}

// runEnv is runFor with env added to the escript's environment, such as
// ERL_FLAGS for the emulator's flags.
func (r erlangRunner) runEnv(h *harness, limit time.Duration, env []string, script string, args ...string) (map[string][]float64, error) {
	if r.escript == "" {
		return nil, fmt.Errorf("%s", r.skip)
	}
	ctx, cancel := context.WithTimeout(h.ctx, limit)
	defer cancel()
	dir := filepath.Join(h.opts.Root, "bench", "erlang")
	cmd := exec.CommandContext(ctx, r.escript, append([]string{filepath.Join(dir, script)}, args...)...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("escript %s: %v: %s", script, err, lastLine(stderr.Bytes()))
	}
	res := map[string][]float64{}
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) != 2 {
			continue // the version line
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("escript %s printed %q", script, s.Text())
		}
		res[f[0]] = append(res[f[0]], v)
	}
	return res, nil
}

// figures turns an escript's output into figures, one per metric, each
// named name. A missing metric is an error.
func erlangFigures(name string, res map[string][]float64, err error, metrics ...string) []Figure {
	figs := make([]Figure, len(metrics))
	for i, m := range metrics {
		figs[i].Name = name
		switch {
		case err != nil:
			figs[i].Skip = err.Error()
		case len(res[m]) == 0:
			figs[i].Skip = "the escript printed no " + m
		default:
			figs[i].Runs = res[m]
		}
	}
	return figs
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ints joins numbers with commas, for escript arguments.
func ints(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ",")
}
