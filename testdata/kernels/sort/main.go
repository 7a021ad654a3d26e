// Command sort sorts N pseudo-random ints with slices.Sort and prints a
// checksum of the result.
package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
)

func main() {
	n := 1000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	xs := make([]int, n)
	x := uint64(0x2545F4914F6CDD1D)
	for i := range xs {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		xs[i] = int(x >> 33)
	}
	slices.Sort(xs)
	var sum uint64
	for i, v := range xs {
		if i > 0 && xs[i-1] > v {
			fmt.Println("sort MISMATCH")
			os.Exit(1)
		}
		sum = sum*31 + uint64(v)
	}
	fmt.Printf("sort %d %016x\n", n, sum)
}
