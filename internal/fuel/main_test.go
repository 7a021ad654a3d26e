package fuel

import (
	"os"
	"testing"
)

// TestMain fills every eligible table lazily, however small, so that the
// spec suite's tables (a few entries each) take the lazy path too: the
// differential test then checks it against wazero running the original.
// TestLazyTableMin covers the threshold.
func TestMain(m *testing.M) {
	LazyTableMin = 1
	os.Exit(m.Run())
}
