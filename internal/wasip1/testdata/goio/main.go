// Command goio is an ordinary Go program doing file I/O and waiting on
// timers and stdin, as Go's wasip1 port does it: through fd_* and path_*
// calls and poll_oneoff. Run with a preopen at /scratch and stdin
// "alpha\nbeta\n".
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

func check(name string, ok bool, detail ...any) {
	if ok {
		fmt.Println("ok", name)
	} else {
		fmt.Println("FAIL", name, fmt.Sprint(detail...))
	}
}

func main() {
	dir := "/scratch"
	p := filepath.Join(dir, "notes.txt")
	err := os.WriteFile(p, []byte("first\n"), 0o644)
	check("go_file/write", err == nil, err)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	check("go_file/append-open", err == nil, err)
	_, err = f.WriteString("second\n")
	check("go_file/append", err == nil, err)
	check("go_file/sync", f.Sync() == nil)
	f.Close()
	b, err := os.ReadFile(p)
	check("go_file/read", err == nil && string(b) == "first\nsecond\n", string(b), err)

	err = os.Symlink("notes.txt", filepath.Join(dir, "latest"))
	check("go_file/symlink", err == nil, err)
	target, err := os.Readlink(filepath.Join(dir, "latest"))
	check("go_file/readlink", err == nil && target == "notes.txt", target, err)
	fi, err := os.Lstat(filepath.Join(dir, "latest"))
	check("go_file/lstat", err == nil && fi.Mode()&fs.ModeSymlink != 0, err)
	when := time.Unix(2_000_000_000, 0)
	check("go_file/chtimes", os.Chtimes(p, when, when) == nil)
	fi, err = os.Stat(filepath.Join(dir, "latest"))
	check("go_file/stat-follows", err == nil && fi.ModTime().Equal(when) && fi.Size() == 13, err)
	check("go_file/mkdir", os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755) == nil)
	check("go_file/rename", os.Rename(p, filepath.Join(dir, "a", "b", "moved.txt")) == nil)
	_, err = os.Stat(p)
	check("go_file/rename-gone", errors.Is(err, fs.ErrNotExist), err)
	ents, err := os.ReadDir(dir)
	check("go_file/readdir", err == nil && len(ents) == 2, len(ents), err)
	n := 0
	err = filepath.WalkDir(dir, func(string, fs.DirEntry, error) error { n++; return nil })
	check("go_file/walk", err == nil && n == 5, n, err)
	check("go_file/remove-all", os.RemoveAll(filepath.Join(dir, "a")) == nil)

	// Timers: the runtime sleeps in poll_oneoff.
	start := time.Now()
	time.Sleep(3 * time.Millisecond)
	check("go_poll/sleep", time.Since(start) >= 3*time.Millisecond)
	tick := time.NewTicker(time.Millisecond)
	for range 3 {
		<-tick.C
	}
	tick.Stop()
	check("go_poll/ticker", true)
	done := make(chan int)
	go func() {
		time.Sleep(time.Millisecond)
		done <- 42
	}()
	select {
	case v := <-done:
		check("go_poll/goroutine", v == 42)
	case <-time.After(time.Hour):
		check("go_poll/goroutine", false, "timed out")
	}

	// stdin, read line by line.
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var got []string
	timeout := time.After(time.Hour)
loop:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			got = append(got, l)
		case <-timeout:
			break loop
		}
	}
	check("go_stdin/lines", len(got) == 2 && got[0] == "alpha" && got[1] == "beta", got)
	fmt.Println("done")
}
