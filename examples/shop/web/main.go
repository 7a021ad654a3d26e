// Command web is the shop's front: a Go reactor serving HTTP through
// islehttp, with the counter and worker services it uses.
//
//	/        counts the visit (counter) and says how many there were
//	/work    has the worker do something
//	/crash   makes the worker crash; the answer is 502, and the worker is
//	         restarted by its supervisor
//
//isle:reactor
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/isle-run/isle/sdk/go/isle"
	"github.com/isle-run/isle/sdk/go/isle/islehttp"
)

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		reply, err := call("counter", 1)
		if err != nil {
			http.Error(w, "counter: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "visits: %s\n", reply)
	})
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, r *http.Request) {
		reply, err := call("worker", 1)
		if err != nil {
			http.Error(w, "worker: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "worker: %s\n", reply)
	})
	mux.HandleFunc("GET /crash", func(w http.ResponseWriter, r *http.Request) {
		_, err := call("worker", 2)
		if errors.Is(err, isle.ErrGone) {
			http.Error(w, "the worker crashed on that request; it is being restarted", http.StatusBadGateway)
			return
		}
		http.Error(w, fmt.Sprintf("the worker did not crash: %v", err), http.StatusInternalServerError)
	})
	islehttp.Serve(mux)
}

func main() {}

// call calls the service granted under name, which the manifest's uses
// gives this process, and waits up to two seconds for its reply.
func call(name string, tag uint32) (string, error) {
	h, err := isle.Grant(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := isle.ProcessOf(h).Call(ctx, tag, nil)
	if err != nil {
		return "", err
	}
	defer m.Release()
	return string(m.Data), nil
}
