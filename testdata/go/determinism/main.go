// Command determinism prints everything that would differ between two runs
// on a real clock and real entropy: times, random numbers, crypto/rand
// bytes and map iteration order.
package main

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"time"
)

func main() {
	start := time.Now()
	fmt.Println("now:", start.UnixNano())
	fmt.Println("rand:", rand.Int64(), rand.IntN(1000))
	b := make([]byte, 8)
	if _, err := crand.Read(b); err != nil {
		fmt.Println("crypto/rand error:", err)
	}
	fmt.Printf("crypto: %x\n", b)
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
