package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// CKey returns a hex key for everything a C compile of src with cc and
// args reads, as the compiler itself reports it: the compiler's version,
// the content of the source and of every header it includes (cc -M), and,
// for a wasm32-wasi target, of the libraries every link pulls in
// (wasi-libc and the compiler-rt builtins), which headers alone do not
// pin; and the arguments. Two calls return the same key exactly when
// those are the same, so the key names a cache of the output.
func CKey(ctx context.Context, cc string, args []string, src string) (string, error) {
	id, err := compilerIdentity(ctx, cc, args)
	if err != nil {
		return "", err
	}
	deps, err := cDeps(ctx, cc, args, src)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "isle-ckey-1\n%s\n%q\n", id, args)
	for _, d := range deps {
		b, err := os.ReadFile(d)
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", d, err)
		}
		fmt.Fprintf(h, "%s %x\n", d, sha256.Sum256(b))
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

var identities sync.Map // cc and target -> string

// compilerIdentity names the compiler: its version and, for wasm32-wasi,
// the content of the libraries every link pulls in. It is the same for
// the life of the process, so it is worked out once.
func compilerIdentity(ctx context.Context, cc string, args []string) (string, error) {
	wasi := slices.Contains(args, "--target=wasm32-wasi")
	key := fmt.Sprint(cc, wasi)
	if v, ok := identities.Load(key); ok {
		return v.(string), nil
	}
	ver, err := exec.CommandContext(ctx, cc, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", cc, err)
	}
	id := string(ver)
	if wasi {
		for _, q := range []string{"-print-file-name=libc.a", "-print-libgcc-file-name"} {
			out, err := exec.CommandContext(ctx, cc, "--target=wasm32-wasi", q).Output()
			lib := strings.TrimSpace(string(out))
			if err != nil || !filepath.IsAbs(lib) {
				continue // not installed: the build itself will say so
			}
			b, err := os.ReadFile(lib)
			if err != nil {
				return "", fmt.Errorf("hash %s: %w", lib, err)
			}
			id += fmt.Sprintf("\n%s %x", lib, sha256.Sum256(b))
		}
	}
	identities.Store(key, id)
	return id, nil
}

// cDeps returns the files a compile of src with args reads, source and
// headers, as cc -M lists them.
func cDeps(ctx context.Context, cc string, args []string, src string) ([]string, error) {
	var compile []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-Wl,") { // link flags mean nothing to -M
			compile = append(compile, a)
		}
	}
	c := exec.CommandContext(ctx, cc, slices.Concat(compile, []string{"-M", src})...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(c.Args, " "), err, stderr.Bytes())
	}
	return parseDeps(string(out)), nil
}

// parseDeps reads a make rule, "target: dep dep \<newline> dep", into its
// dependencies. Spaces in names are escaped with a backslash.
func parseDeps(rule string) []string {
	const space = "\x00"
	rule = strings.ReplaceAll(rule, "\\ ", space)
	rule = strings.ReplaceAll(rule, "\\\n", " ")
	_, deps, _ := strings.Cut(rule, ": ")
	var out []string
	for _, f := range strings.Fields(deps) {
		out = append(out, strings.ReplaceAll(f, space, " "))
	}
	return out
}
