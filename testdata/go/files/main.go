// Command files is an ordinary Go program, written for no runtime in
// particular: it uses flag, os and fmt, walks a directory, and writes a
// report file. isle must run it unmodified.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	in := flag.String("in", ".", "directory to scan")
	out := flag.String("out", "", "file to write the report to")
	greet := flag.String("greet", "", "name to greet")
	flag.Parse()
	if *greet != "" {
		fmt.Printf("hello, %s (HOME=%q)\n", *greet, os.Getenv("HOME"))
	}
	counts := map[string]int{}
	err := filepath.WalkDir(*in, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Split(bufio.ScanWords)
		for sc.Scan() {
			counts[strings.ToLower(sc.Text())]++
		}
		return sc.Err()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "scan:", err)
		os.Exit(3)
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Strings(words)
	var b strings.Builder
	for _, w := range words {
		fmt.Fprintf(&b, "%s %d\n", w, counts[w])
	}
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(4)
		}
	}
}
