package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

const wazeroPath = "github.com/tetratelabs/wazero"

// printVersion prints isle's module version, the VCS revision it was built
// from when the build recorded one, and the Go and wazero versions.
func printVersion(w io.Writer) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(w, "isle (no build information)\n%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	fmt.Fprintf(w, "isle %s%s\n", version, vcsNote(info))
	fmt.Fprintf(w, "%s %s/%s\n", info.GoVersion, runtime.GOOS, runtime.GOARCH)
	wazero := "(unknown)"
	for _, d := range info.Deps {
		if d.Path == wazeroPath {
			wazero = d.Version
			if d.Replace != nil {
				wazero += " => " + d.Replace.Path + " " + d.Replace.Version
			}
		}
	}
	fmt.Fprintf(w, "wazero %s\n", wazero)
}

// vcsNote is " (revision REV, DATE, modified)" from the build's VCS stamp,
// or "" when it was not built from a checkout.
func vcsNote(info *debug.BuildInfo) string {
	var rev, when, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return ""
	}
	note := " (revision " + rev
	if when != "" {
		note += ", " + when
	}
	if modified == "true" {
		note += ", modified"
	}
	return note + ")"
}
