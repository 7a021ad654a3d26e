package main

import (
	"fmt"
	"io"
	"time"
)

// progressAfter is how long compiling a module may take before isle says
// what it is doing. A string so that a test build can set it with
// -ldflags -X; anything that does not parse means the default.
var progressAfter = "1s"

// startProgress shows, on w if it is a terminal and only once compiling
// has taken progressAfter, a line counting the seconds while what
// compiles; stop ends it. A quick compile prints nothing, and neither does
// one whose stderr is a file or a pipe.
func startProgress(w io.Writer, what string) (stop func(ok bool)) {
	if !isTerminal(w) {
		return func(bool) {}
	}
	after, err := time.ParseDuration(progressAfter)
	if err != nil {
		after = time.Second
	}
	start := time.Now()
	line := func() { fmt.Fprintf(w, "\risle: compiling %s … %.1fs\033[K", what, time.Since(start).Seconds()) }
	shown := false
	if after <= 0 {
		line() // now, so that "always" does not race the compile
		shown = true
	}
	done := make(chan struct{})
	finished := make(chan bool)
	go func() {
		wait := time.NewTimer(after)
		defer wait.Stop()
		if !shown {
			select {
			case <-done:
				finished <- false
				return
			case <-wait.C:
				line()
			}
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				finished <- true
				return
			case <-tick.C:
				line()
			}
		}
	}()
	return func(ok bool) {
		close(done)
		if !<-finished {
			return
		}
		status := "compiled"
		if !ok {
			status = "failed to compile"
		}
		fmt.Fprintf(w, "\risle: %s %s in %.1fs\033[K\n", status, what, time.Since(start).Seconds())
	}
}
