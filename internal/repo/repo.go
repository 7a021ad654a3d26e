// Package repo finds the isle source tree, for the tools that build their
// fixtures from it at run time (isle-bench and its fuel benchmark).
package repo

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Root returns the isle repository that holds marker (a path relative to
// the root): the nearest directory at or above the working directory whose
// go.mod declares the isle module, or else the tree this package was
// compiled from.
func Root(marker string) (string, error) {
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if IsRoot(dir, marker) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if dir := filepath.Join(filepath.Dir(file), "..", ".."); IsRoot(dir, marker) {
			return filepath.Clean(dir), nil
		}
	}
	return "", errors.New("cannot find the isle repository (" + marker + " is needed): run from inside it")
}

// IsRoot reports whether dir is the isle repository and holds marker.
func IsRoot(dir, marker string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.Contains(string(b), "module github.com/isle-run/isle\n") {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, marker))
	return err == nil
}
