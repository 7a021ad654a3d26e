// Command reducer is the reducer of examples/wordfreq, a Go reactor: it
// merges the counts every worker sends, and answers the coordinator's
// request for the result once every worker's counts are in.
//
//isle:reactor
package main

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/isle-run/isle/sdk/go/isle"
)

const (
	tagCounts = 2
	tagLast   = 3
	tagResult = 4
)

var (
	counts  = map[string]int{}
	done    int          // workers whose tagLast has come
	pending isle.Message // the coordinator's request, held until done is enough
	want    int
	top     int
)

func init() { isle.HandleFunc(handle) }

func main() {}

func handle(m isle.Message) {
	switch m.Tag {
	case tagCounts, tagLast:
		merge(m.Data)
		if m.Tag == tagLast {
			done++
		}
		m.Release()
	case tagResult:
		pending = m
		want = int(binary.LittleEndian.Uint32(m.Data))
		top = int(binary.LittleEndian.Uint32(m.Data[4:]))
	}
	// Messages from different workers can come in any order relative to
	// the request, so answer whenever the last piece is in.
	if pending.IsRequest() && done >= want {
		pending.Reply(tagResult, result())
	}
}

// merge adds "word count\n" lines to counts.
func merge(b []byte) {
	for line := range bytes.Lines(b) {
		word, n, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
		if !ok {
			continue
		}
		k, err := strconv.Atoi(string(n))
		if err == nil {
			counts[string(word)] += k
		}
	}
}

// result lists the totals and the most frequent words.
func result() []byte {
	type wc struct {
		word  string
		count int
	}
	all := make([]wc, 0, len(counts))
	total := 0
	for w, n := range counts {
		all = append(all, wc{w, n})
		total += n
	}
	slices.SortFunc(all, func(a, b wc) int {
		return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(a.word, b.word))
	})
	var out bytes.Buffer
	fmt.Fprintf(&out, "%d words, %d distinct\n", total, len(all))
	for _, x := range all[:min(top, len(all))] {
		fmt.Fprintf(&out, "%8d %s\n", x.count, x.word)
	}
	return out.Bytes()
}
