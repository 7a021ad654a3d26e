// Command counter is the shop's counter service: a Go reactor that keeps
// one number in its key-value bucket ("store"). A call with tag 1 adds one
// and replies with the new value, in decimal; the value survives restarts
// of the service and of the node, because it lives in the bucket.
//
//isle:reactor
package main

import (
	"errors"
	"strconv"

	"github.com/isle-run/isle/sdk/go/isle"
)

const tagIncrement = 1

var store isle.Bucket

func init() { isle.HandleFunc(handle) }

func main() {}

func handle(m isle.Message) {
	defer m.Release()
	if m.Tag != tagIncrement || !m.IsRequest() {
		return
	}
	if store.Handle() == 0 {
		b, err := isle.OpenBucket("store")
		if err != nil {
			panic(err) // the manifest grants it: not having it is a bug
		}
		store = b
	}
	n := 0
	v, err := store.Get("visits")
	switch {
	case err == nil:
		n, _ = strconv.Atoi(string(v))
	case !errors.Is(err, isle.ErrNotFound):
		panic(err)
	}
	n++
	if err := store.Put("visits", []byte(strconv.Itoa(n))); err != nil {
		panic(err)
	}
	m.Reply(tagIncrement, []byte(strconv.Itoa(n)))
}
