// Command determinism prints everything that would differ between two runs
// on a real clock and real entropy: times, random numbers, crypto/rand
// bytes (with -crypto) and map iteration order.
package main

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	start := time.Now()
	fmt.Println("now:", start.UnixNano())
	fmt.Println("rand:", rand.Int64(), rand.IntN(1000))
	if len(os.Args) > 1 && os.Args[1] == "-crypto" {
		// Go's crypto/rand treats missing entropy as fatal.
		b := make([]byte, 8)
		crand.Read(b)
		fmt.Printf("crypto: %x\n", b)
	}
	m := map[int]int{}
	for i := range 50 {
		m[i] = i
	}
	order := ""
	for k := range m {
		order += fmt.Sprint(k, ",")
	}
	fmt.Println("map:", order)
	time.Sleep(10 * time.Millisecond)
	fmt.Println("slept:", time.Since(start))
}
