package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/testwasm"
)

// A loop with no calls stops at --timeout: fuel brings it back to the host.
func TestTimeoutStopsALoopWithNoCalls(t *testing.T) {
	spin := testwasm.WAT(t, "testdata/wat/spin.wat")
	start := time.Now()
	r := runIsle(t, "run", "--timeout", "300ms", spin)
	r.want(t, statusTimeout)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("took %v to stop", elapsed)
	}
	if !strings.Contains(r.stderr, "killed: timeout") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestFuelBudgetAbandons(t *testing.T) {
	spin := testwasm.WAT(t, "testdata/wat/spin.wat")
	r := runIsle(t, "run", "--fuel", "5000000", "--stats", spin)
	r.want(t, statusAbandoned)
	if !strings.Contains(r.stderr, "abandoned: fuel exhausted: spent its budget of 5000000") {
		t.Errorf("stderr: %s", r.stderr)
	}
	m := regexp.MustCompile(`isle: fuel (\d+), peak memory ([0-9.]+ \w+), wall `).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no stats line in:\n%s", r.stderr)
	}
	if used, _ := strconv.ParseInt(m[1], 10, 64); used < 5_000_000 {
		t.Errorf("fuel used %d, under the budget it exhausted", used)
	}
}

// The same program on the same input spends the same fuel.
func TestFuelIsDeterministic(t *testing.T) {
	dir := testwasm.Path("testdata/go/determinism")
	fuelOf := func() string {
		r := runIsle(t, "run", "--deterministic", "--stats", dir)
		r.want(t, 0)
		m := regexp.MustCompile(`isle: fuel (\d+),`).FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("no stats line in:\n%s", r.stderr)
		}
		return m[1]
	}
	a, b := fuelOf(), fuelOf()
	if a != b || a == "0" {
		t.Fatalf("fuel %s then %s", a, b)
	}
}
