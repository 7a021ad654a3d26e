package fuel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/wasm"
)

// FuzzInstrument feeds arbitrary modules to the rewriter. It must never
// panic; what it accepts must decode, carry the injected import and
// counter, and be refused a second time (the reserved names are taken).
func FuzzInstrument(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(spectestDir(f), "*.wasm"))
	for i, file := range files {
		if i%5 != 0 {
			continue
		}
		if b, err := os.ReadFile(file); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	for _, name := range []string{"metering", "trace", "tamper_exports"} {
		f.Add(wat(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Instrument(b)
		if err != nil {
			return
		}
		m, err := wasm.Decode(res.Wasm)
		if err != nil {
			t.Fatalf("rewritten module does not decode: %v", err)
		}
		imps, err := wasm.DecodeImports(m.Section(wasm.SectionImport).Payload)
		if err != nil || len(imps) == 0 {
			t.Fatalf("imports: %v", err)
		}
		if _, err := Instrument(res.Wasm); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Fatalf("instrumenting twice: %v", err)
		}
	})
}
