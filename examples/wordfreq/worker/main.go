// Command worker is one worker of examples/wordfreq, a Go reactor: it
// counts the words of the one message of text it gets, sends the counts
// to the reducer whose handle came with the text, and exits.
//
//isle:reactor
package main

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"

	"github.com/isle-run/isle/sdk/go/isle"
)

const (
	tagWork   = 1
	tagCounts = 2 // "word count\n" lines
	tagLast   = 3 // the same, and the last of this worker's counts
)

// maxCounts keeps each counts message well under isle.MaxMessage.
const maxCounts = 256 << 10

func init() { isle.HandleFunc(handle) }

func main() {}

func handle(m isle.Message) {
	if m.Tag != tagWork {
		return // the init message
	}
	counts := map[string]int{}
	words := strings.FieldsFunc(string(m.Data), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	})
	for _, w := range words {
		counts[strings.ToLower(strings.Trim(w, "'"))]++
	}
	delete(counts, "")
	reducer := isle.ProcessOf(m.Handles[0])
	var buf bytes.Buffer
	for w, n := range counts {
		buf.WriteString(w)
		buf.WriteByte(' ')
		buf.WriteString(strconv.Itoa(n))
		buf.WriteByte('\n')
		if buf.Len() > maxCounts {
			send(reducer, tagCounts, buf.Bytes())
			buf.Reset()
		}
	}
	send(reducer, tagLast, buf.Bytes())
	isle.Exit(0)
}

func send(to isle.Process, tag uint32, b []byte) {
	if err := to.Send(tag, b); err != nil {
		panic("send counts to the reducer: " + err.Error())
	}
}
