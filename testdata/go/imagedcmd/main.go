// Command imagedcmd is a Go command for the image tests. Its package init
// leaves state a clone of its image must see (its arguments, a time, a
// filled map, a goroutine waiting to be received from, a draw from the
// runtime's generator); main reads a line from stdin, churns the heap
// through a collection, prints what it found, one "key=value" per line,
// and exits with the code its last argument names. Given "loud" as its
// first argument, its init writes to stdout, which no image can replay.
package main

import (
	"bufio"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

var (
	initArgs = strings.Join(os.Args, " ")
	initTime = time.Now()
	initDraw = mrand.Uint64()
	table    = map[string]int{}
	ready    = make(chan string)
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "loud" {
		fmt.Println("init speaks")
	}
	for i := range 1000 {
		table[strconv.Itoa(i)] = i
	}
	go func() { ready <- "init's goroutine" }()
}

func main() {
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	var keep [][]byte
	for range 256 {
		keep = append(keep, make([]byte, 64<<10))
	}
	runtime.GC()
	sum := 0
	for k, v := range table {
		if strconv.Itoa(v) != k {
			panic("the map init filled is corrupt: " + k)
		}
		sum += v
	}
	entropy := make([]byte, 16)
	_, _ = rand.Read(entropy)
	fmt.Printf("args=%s\n", initArgs)
	fmt.Printf("stdin=%s", line)
	fmt.Printf("goroutine=%s\n", <-ready)
	fmt.Printf("sum=%d kept=%d\n", sum, len(keep))
	fmt.Printf("behind=%t\n", time.Since(initTime) < 0)
	fmt.Printf("initdraw=%d\n", initDraw)
	fmt.Printf("entropy=%x\n", entropy)
	code, _ := strconv.Atoi(os.Args[len(os.Args)-1])
	os.Exit(code)
}
