// Command wordfreq counts word frequencies over a directory tree as a
// pipeline of processes: this coordinator reads each file from its
// read-only directory grant and hands it to a worker process of its own,
// and each worker sends its counts to one reducer. See README.md.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/isle-run/isle/sdk/go/isle"
)

// Tags, shared with worker/main.go and reducer/main.go.
const (
	tagWork   = 1 // to a worker: text to count, with the reducer's handle
	tagResult = 4 // request to the reducer: chunks to expect (u32) and how many words to list (u32)
)

func main() {
	top := flag.Int("top", 20, "list the `n` most frequent words")
	jobs := flag.Int("j", 8, "run at most `n` workers at once (each Go process takes about 4 MiB)")
	flag.Parse()
	root := "/data"
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	spawner, err := isle.Grant("spawner")
	if errors.Is(err, isle.ErrNotFound) {
		fail("no spawner granted: run it with isle run --spawn worker=... --spawn reducer=... (see README.md)")
	}
	start := time.Now()
	reducer, err := isle.Spawn(spawner, "reducer", nil, isle.Linked())
	if err != nil {
		fail("spawn reducer: %v", err)
	}

	var files, chunks, live int
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, chunk := range split(text, isle.MaxMessage) {
			for ; live >= *jobs; live-- {
				waitWorker()
			}
			w, err := isle.Spawn(spawner, "worker", nil)
			if err != nil {
				return fmt.Errorf("spawn a worker for %s: %w", path, err)
			}
			// A monitor, not a link: a worker that fails is reported, and
			// the rest of the run goes on.
			if _, err := w.Monitor(); err != nil {
				return err
			}
			if err := w.Send(tagWork, chunk, isle.WithHandles(reducer.Handle()), isle.CopyHandles()); err != nil {
				return err
			}
			w.Close() // the monitor stays
			chunks++
			live++
		}
		return nil
	})
	if err != nil {
		fail("%v", err)
	}
	for ; live > 0; live-- {
		waitWorker()
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := binary.LittleEndian.AppendUint32(nil, uint32(chunks))
	req = binary.LittleEndian.AppendUint32(req, uint32(*top))
	r, err := reducer.Call(ctx, tagResult, req)
	if err != nil {
		fail("ask the reducer: %v", err)
	}
	fmt.Printf("wordfreq: %d files, %d workers (at most %d at once), %v\n", files, chunks, *jobs, time.Since(start).Round(time.Millisecond))
	os.Stdout.Write(r.Data)
}

// waitWorker waits for one worker to end and reports it if it failed.
func waitWorker() {
	m, err := isle.Receive(context.Background(), isle.MatchTag(isle.TagDown))
	if err != nil {
		fail("wait for a worker: %v", err)
	}
	if r, _ := m.ExitReason(); !r.Normal() {
		fmt.Fprintf(os.Stderr, "wordfreq: a worker failed: %v\n", r)
	}
}

// split cuts text into pieces of at most max bytes, at whitespace where it
// can, so that no word is counted in halves.
func split(text []byte, max int) [][]byte {
	var out [][]byte
	for len(text) > max {
		cut := bytes.LastIndexAny(text[:max], " \t\r\n")
		if cut <= 0 {
			cut = max
		}
		out = append(out, text[:cut])
		text = text[cut:]
	}
	if len(text) > 0 {
		out = append(out, text)
	}
	return out
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wordfreq: "+format+"\n", args...)
	os.Exit(1)
}
