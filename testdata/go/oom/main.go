// Command oom allocates until its memory runs out, so that the Go runtime's
// own "fatal error: out of memory" can be checked as an abandonment.
package main

import "fmt"

var keep [][]byte

func main() {
	for i := 0; ; i++ {
		b := make([]byte, 8<<20)
		for j := range b {
			b[j] = byte(j)
		}
		keep = append(keep, b)
		fmt.Println("allocated", (i+1)*8, "MiB")
	}
}
