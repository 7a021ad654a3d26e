package kernel

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// rewriterSum is the hash of internal/fuel's code for rewriteVersion.
// Rewritten modules are cached on disk under rewriteVersion, so a change
// to what the rewriter emits must come with a new version, or users keep
// running stale rewrites. When this test fails, bump rewriteVersion if the
// change alters the rewriter's output, and set rewriterSum to the value
// the test prints.
const rewriterSum = "927645a8889fde6e810ca81a39cf1146aec2179462817183d6068efc3b3a0c90"

func TestRewriteVersionFollowsTheRewriter(t *testing.T) {
	dir := testwasm.Path("internal/fuel")
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(filepath.Base(n)))
		h.Write(b)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != rewriterSum {
		t.Fatalf("internal/fuel changed (sum %s): if what it emits changed, bump rewriteVersion (now %q) in instrument.go; then set rewriterSum to that sum", sum, rewriteVersion)
	}
}
