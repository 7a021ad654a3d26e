package kernel

import (
	"encoding/hex"
	"fmt"
	"os"

	"github.com/isle-run/isle/internal/fuel"
)

// rewriteVersion names the rewriter's output format in the disk cache.
// Bump it whenever internal/fuel or exportGlobals changes what it emits.
const rewriteVersion = "fuel-10-hoisted-2-handler-1"

// instrument returns the fuel-instrumented form of a module, from the disk
// cache when this exact module was rewritten before.
func (k *Kernel) instrument(sum [32]byte, bin []byte) ([]byte, error) {
	path := k.cachePath("rewritten", rewriteVersion, hex.EncodeToString(sum[:])+".wasm")
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			return b, nil
		}
	}
	res, err := fuel.Instrument(bin)
	if err != nil {
		return nil, err
	}
	if res.Wasm, err = exportGlobals(res.Wasm); err != nil {
		return nil, err
	}
	if res.Wasm, err = exportHandler(res.Wasm); err != nil {
		return nil, err
	}
	if path != "" {
		// Write then rename, so a concurrent reader never sees half a file.
		tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
		if os.WriteFile(tmp, res.Wasm, 0o644) == nil {
			_ = os.Rename(tmp, path)
		}
	}
	return res.Wasm, nil
}
