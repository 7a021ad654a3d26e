package bench

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Env records where and with what a run measured.
type Env struct {
	Date   time.Time
	CPU    string
	Cores  int
	RAM    uint64 // bytes
	OS     string
	Go     string
	Wazero string
	Erlang string // empty when Erlang did not run
	Clang  string
	CC     string
	Commit string
	// OtherCPU is the share of the machine's CPU time that other
	// processes used while the run measured, from 0 to 1, or -1 when
	// unknown. Anything much above zero means the figures were disturbed.
	OtherCPU float64
	// Load is the one-minute load average when the run started.
	Load string
}

func probeEnv(root string) Env {
	e := Env{
		Date:   time.Now().UTC(),
		Cores:  runtime.NumCPU(),
		Go:     runtime.Version(),
		Wazero: "unknown",
		Erlang: "not run",
		Load:   loadAverage(),
	}
	e.CPU = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseUint(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		e.RAM = kb << 10
	}
	e.OS = runtime.GOOS + "/" + runtime.GOARCH
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.OS += ", Linux " + strings.TrimSpace(string(rel))
	}
	if pretty := osRelease(); pretty != "" {
		e.OS += ", " + pretty
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				e.Wazero = d.Version
			}
		}
	}
	e.Clang = firstLine("clang", "--version")
	e.CC = firstLine("cc", "--version")
	e.Commit = firstLine("git", "-C", root, "rev-parse", "--short", "HEAD")
	if e.Commit != "" {
		if out, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			e.Commit += " with uncommitted changes"
		}
	}
	return e
}

// procField returns the value of the first "name: value" line in a /proc
// file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// rssBytes returns this process's resident set size from /proc/self/status.
func rssBytes() uint64 { return procRSS("/proc/self/status") }

// procRSS reads VmRSS from a /proc/PID/status file, in bytes.
func procRSS(path string) uint64 {
	v := strings.TrimSuffix(procField(path, "VmRSS"), " kB")
	kb, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	return kb << 10
}

// procPss reads Pss from a /proc/PID/smaps_rollup file, in bytes: the
// process's resident pages with each shared page divided among its
// sharers.
func procPss(path string) uint64 {
	v := strings.TrimSuffix(procField(path, "Pss"), " kB")
	kb, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	return kb << 10
}

// cpuSample is a reading of the machine's busy CPU time and this
// process's own (with its waited-for children), in clock ticks.
type cpuSample struct {
	busy, self uint64
	at         time.Time
	ok         bool
}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	for i, v := range f[1:9] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i != 3 && i != 4 { // idle and iowait are not busy
			s.busy += n
		}
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return s
	}
	_, rest, ok := strings.Cut(string(self), ") ")
	f = strings.Fields(rest)
	if !ok || len(f) < 15 {
		return s
	}
	for _, v := range f[11:15] { // utime, stime, cutime, cstime
		n, _ := strconv.ParseUint(v, 10, 64)
		s.self += n
	}
	s.ok = true
	return s
}

// otherCPU returns the share of the machine's CPU time between a and b
// that went to processes other than this one and its children.
func otherCPU(a, b cpuSample) float64 {
	if !a.ok || !b.ok || b.busy < a.busy {
		return -1
	}
	const ticks = 100 // USER_HZ on Linux
	capacity := b.at.Sub(a.at).Seconds() * ticks * float64(runtime.NumCPU())
	other := float64(b.busy-a.busy) - float64(b.self-a.self)
	if capacity <= 0 {
		return -1
	}
	return max(0, other/capacity)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
