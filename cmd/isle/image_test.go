package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isle-run/isle"
)

// The opt-out from images reaches the spawn's limits from the flag and
// from the manifest's image = false; images stay on otherwise.
func TestNoImageFlagAndManifestKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"m.wasm"}, false},
		{[]string{"--no-image", "m.wasm"}, true},
	} {
		o, module, rest, err := parseRun(c.args)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := planFromFlags(module, o, rest, nil, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if pl.limits.NoImage != c.want {
			t.Errorf("isle run %v: NoImage %v, want %v", c.args, pl.limits.NoImage, c.want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		flag bool
		want bool
	}{
		{"", false, false},
		{"image = true\n", false, false},
		{"image = false\n", false, true},
		{"image = true\n", true, true}, // the flag wins over the manifest
	} {
		path := filepath.Join(dir, "app.toml")
		if err := os.WriteFile(path, []byte("module = \"m.wasm\"\n"+c.key), 0o644); err != nil {
			t.Fatal(err)
		}
		pl, err := planFromManifest(path, &runOptions{noImage: c.flag}, nil, nil, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if pl.limits.NoImage != c.want {
			t.Errorf("manifest %q, --no-image %v: NoImage %v, want %v", c.key, c.flag, pl.limits.NoImage, c.want)
		}
	}
}

// isle inspect says when a process started from an image (ps --json
// carries it as "image").
func TestInspectShowsImage(t *testing.T) {
	t.Parallel()
	for _, image := range []bool{false, true} {
		var b strings.Builder
		printDetail(&b, &isle.ProcessDetail{ProcessInfo: isle.ProcessInfo{PID: 7, Name: "pong", Module: "pong", Reactor: true, Image: image}})
		first, _, _ := strings.Cut(b.String(), "\n")
		if got := strings.Contains(first, "reactor started from its module's image"); got != image {
			t.Errorf("image %v: isle inspect's first line is %q", image, first)
		}
	}
}

// isle inspect says when a reactor is dormant, and only then.
func TestInspectShowsDormant(t *testing.T) {
	t.Parallel()
	for _, dormant := range []bool{false, true} {
		var b strings.Builder
		printDetail(&b, &isle.ProcessDetail{ProcessInfo: isle.ProcessInfo{PID: 7, Name: "pong", Module: "pong", Reactor: true,
			State: "idle", Dormant: dormant}})
		if got := strings.Contains(b.String(), "state idle (dormant: no instance until its next message)"); got != dormant {
			t.Errorf("dormant %v: isle inspect printed %q", dormant, b.String())
		}
	}
}

// isle ps's summary says what images hold of the node's memory and how
// many were evicted, once there are any, and nothing of them before; and
// likewise the host descriptors the processes hold.
func TestPsShowsImages(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	printTree(&b, &isle.Snapshot{Memory: 48 << 20, Ceiling: 1 << 30})
	if strings.Contains(b.String(), "images") {
		t.Fatalf("isle ps on a node without images:\n%s", b.String())
	}
	b.Reset()
	printTree(&b, &isle.Snapshot{Memory: 48 << 20, Ceiling: 1 << 30, Images: 32 << 20, ImagesEvicted: 3})
	if want := "0 processes, memory 48.0 MiB of 1.0 GiB (images 32.0 MiB, 3 evicted)\n"; !strings.HasSuffix(b.String(), want) {
		t.Fatalf("isle ps:\n%s\nwant it to end %q", b.String(), want)
	}
	b.Reset()
	printTree(&b, &isle.Snapshot{Memory: 48 << 20, Ceiling: 1 << 30, Files: 12, FileLimit: 15000})
	if want := "0 processes, memory 48.0 MiB of 1.0 GiB, files 12 of 15000\n"; !strings.HasSuffix(b.String(), want) {
		t.Fatalf("isle ps:\n%s\nwant it to end %q", b.String(), want)
	}
}
