// Command cutedge is a Go command for the review's image tests: its first
// argument picks how main ends, and each way must look the same from an
// image (cut at main.main) as from its own init. Its init leaves a
// goroutine waiting on a timer; "reenter" makes the init call main
// itself, so the cut's hook first fires inside the init.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

var (
	mode  = "return"
	calls int
	timer = make(chan string)
)

func init() {
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	go func() {
		time.Sleep(time.Millisecond)
		timer <- "init's timer"
	}()
	if mode == "reenter" {
		main()
	}
}

func main() {
	calls++
	fmt.Printf("main call %d\n", calls)
	switch mode {
	case "reenter":
		if calls == 2 {
			fmt.Println(<-timer)
		}
	case "goexit":
		go func() {
			fmt.Println(<-timer)
			os.Exit(5)
		}()
		runtime.Goexit()
	case "panic":
		panic("boom")
	case "return":
		go func() {
			for {
				runtime.Gosched()
			}
		}()
		fmt.Println(<-timer)
	}
}
