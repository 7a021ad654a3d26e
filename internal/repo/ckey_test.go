package repo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseDeps(t *testing.T) {
	t.Parallel()
	got := parseDeps("a.o: /src/a.c /inc/my\\ header.h \\\n  /usr/include/stdio.h\n")
	want := []string{"/src/a.c", "/inc/my header.h", "/usr/include/stdio.h"}
	if !slices.Equal(got, want) {
		t.Fatalf("parseDeps = %q, want %q", got, want)
	}
}

// A header the source includes is part of the key: changing it changes
// the key, as changing the source or the flags does.
func TestCKeyCoversHeaders(t *testing.T) {
	t.Parallel()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.c", "#include \"a.h\"\nint f(void) { return A; }\n")
	write("a.h", "#define A 1\n")
	key := func(args ...string) string {
		k, err := CKey(context.Background(), cc, append(args, "-c"), filepath.Join(dir, "a.c"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1 := key()
	if k2 := key(); k2 != k1 {
		t.Fatalf("the same inputs keyed %s then %s", k1, k2)
	}
	write("a.h", "#define A 2\n")
	if k3 := key(); k3 == k1 {
		t.Fatal("changing an included header left the key as it was")
	}
	if k4 := key("-O2"); k4 == key() {
		t.Fatal("changing the flags left the key as it was")
	}
}
