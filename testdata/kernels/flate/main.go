// Command flate compresses N KiB of generated text with compress/flate,
// decompresses it again, checks the round trip and prints a checksum of
// the compressed stream.
package main

import (
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
)

var words = []string{
	"process", "capability", "handle", "mailbox", "message", "reactor",
	"kernel", "fuel", "isolation", "supervisor", "link", "monitor", "the",
	"a", "of", "and", "to", "in", "is", "that", "for", "runs", "with", "node",
}

func main() {
	kib := 64
	if len(os.Args) > 1 {
		kib, _ = strconv.Atoi(os.Args[1])
	}
	var text bytes.Buffer
	x := uint64(88172645463325252)
	for text.Len() < kib<<10 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		text.WriteString(words[x%uint64(len(words))])
		if x>>40%11 == 0 {
			fmt.Fprintf(&text, " %d.\n", x>>50)
		} else {
			text.WriteByte(' ')
		}
	}
	var packed bytes.Buffer
	w, err := flate.NewWriter(&packed, flate.DefaultCompression)
	if err != nil {
		panic(err)
	}
	w.Write(text.Bytes())
	w.Close()
	r := flate.NewReader(bytes.NewReader(packed.Bytes()))
	back, err := io.ReadAll(r)
	if err != nil {
		panic(err)
	}
	if !bytes.Equal(back, text.Bytes()) {
		fmt.Println("flate MISMATCH")
		os.Exit(1)
	}
	fmt.Printf("flate %d->%d %08x\n", text.Len(), packed.Len(), crc32.ChecksumIEEE(packed.Bytes()))
}
