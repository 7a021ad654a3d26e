// Command worker is the shop's worker service: a Go reactor that answers
// a call with tag 1 with "done", and panics on a call with tag 2, as a bug
// would. Its supervisor restarts it; the caller of the crashing call gets
// ErrGone, and the next call is served by the new instance.
//
//isle:reactor
package main

import "github.com/isle-run/isle/sdk/go/isle"

const (
	tagWork  = 1
	tagCrash = 2
)

func init() { isle.HandleFunc(handle) }

func main() {}

func handle(m isle.Message) {
	defer m.Release()
	switch m.Tag {
	case tagWork:
		m.Reply(tagWork, []byte("done"))
	case tagCrash:
		panic("the worker was asked to crash")
	}
}
